/* SPDX-License-Identifier: MIT */
/* Every kind of event the supervisor logs, in one table: its name (JSON's
 * "event", journald's UIPC_EVENT), its level by default, its journald
 * MESSAGE_ID, and the fields it carries ('|': one or the other).  Names
 * and ids are stable: tools match on them.  docs/architecture.md lists
 * them; tests/unit/test-log.c checks that both are unique. */
#ifndef UIPC_SV_LOG_EVENTS_H
#define UIPC_SV_LOG_EVENTS_H

/* X(ENUM, name, level, MESSAGE_ID, fields) */
#define SV_EVENTS(X) \
    X(STARTED, "started", LOG_INFO, "e0cf70f631d8454a97509910be55772d", "pid") /* a module's process reached its exec */ \
    X(READY, "ready", LOG_INFO, "7b61092ea5bc46d39a2bc96aaf53c0c6", "uptime_ms") /* a module said it is ready */ \
    X(OUTPUT, "output", LOG_INFO, "37a3596965354ddcbbbaf254b00786a3", "line") /* a line a module wrote to its stdout or stderr */ \
    X(EXITED, "exited", LOG_INFO, "2c7190d23d89412394e1264de202f300", "pid code|signal core_dumped reason uptime_ms") /* a module's process ended (warn unless it exited 0 on its own) */ \
    X(GONE, "gone", LOG_INFO, "ef258b1f104247718b3d477ce1146b09", "") /* in a pid namespace: its own process is gone, its channels reclaimed before its init's exit */ \
    X(HUNG, "hung", LOG_WARN, "20102a7a383545b699811f83b0660a97", "silent_ms hang_timeout_ms") /* no heartbeat within hang_timeout_ms: killed */ \
    X(TERMINATING, "terminating", LOG_INFO, "2b8981a1af704ff8b5f9c93f2da8c834", "") /* still running when asked to stop: SIGTERM */ \
    X(KILLED, "killed", LOG_WARN, "2e322856325a4bd79d3af1d3296a4c05", "timeout_ms|pid") /* still running after shutdown_timeout_ms, not at exec in time, or half started by the last generation: SIGKILL */ \
    X(RESTARTING, "restarting", LOG_INFO, "566cd26ac582440891c5b602244003da", "delay_ms") /* starts again after delay_ms (0: at once, asked for) */ \
    X(GIVEN_UP, "given_up", LOG_ERROR, "e9023abe86b8418ba1b5c3b910e3a3da", "deaths window_s max_restarts") /* too many deaths within restart_window_s: not restarted */ \
    X(NOT_RESTARTED, "not_restarted", LOG_INFO, "912879e2f9e04c49a8c3a7fd3d308d77", "restart") /* its restart key says no */ \
    X(HELD, "held", LOG_INFO, "8206b326948e47c4b3f4e9d4c761c3ba", "reason") /* stopped by the operator, or for a reload */ \
    X(STOPPING, "stopping", LOG_INFO, "3ad2a84e5f3d49928105b0b3f841d9d2", "") /* asked to stop through its control region */ \
    X(TRANSITION, "transition", LOG_DEBUG, "d9e857d008f34127866eca63e9b2694b", "from to") /* its lifecycle state changed */ \
    X(VIOLATION, "violation", LOG_ERROR, "c42d27dcc8034751ac818ec35f6d8b92", "syscall nr pid") /* a syscall its policy kills for: the module is killed */ \
    X(DENIED, "denied", LOG_WARN, "1e44544792f54a70ad837fe9b174ed5d", "syscall nr errno") /* a syscall its policy fails (first time per syscall) */ \
    X(SYSCALL_LOGGED, "syscall_logged", LOG_WARN, "46afb000427147a7b0bb0367298e41da", "syscall nr") /* a syscall not in its policy, allowed by @default log (first time per syscall) */ \
    X(RECLAIMED, "reclaimed", LOG_INFO, "dacf0025f9c041ee92216bef3e68ecb8", "slots") /* in-flight slots of a dead module's channels reclaimed */ \
    X(PROTOCOL_REPORT, "protocol_report", LOG_WARN, "de308fee574f4c0f8800ddc30a290eec", "reporter channel") /* reported by its peer for breaking the slot protocol */ \
    X(CHANNEL_RESET, "channel_reset", LOG_INFO, "7e89b5f5781d4877a13e5a9cb5cb8b1d", "server channel") /* a channel emptied after a report; module: its client */ \
    X(CHANNEL_ERROR, "channel_error", LOG_ERROR, "808f1fd7cea54dbbab672db75b4bde35", "service error") /* a channel could not be made */ \
    X(STRAYS, "strays", LOG_WARN, "7397f8bef5b64106815ff7719ccc6a0d", "count after_ms") /* orphaned processes still alive after SIGKILL */ \
    X(FAULT, "fault", LOG_INFO, "bdc6aa52c8104d0baebb1f8836668f29", "fault attack delay_ms") /* a fault injected by the operator (uipcctl fault) */ \
    X(OPERATOR, "operator", LOG_INFO, "3e8f3404470747ce9a62d13762f569ca", "action") /* stop, start or restart asked for by the operator */ \
    X(SIGNAL_SENT, "signal_sent", LOG_INFO, "2316a2d443944f899ef6f164991713c4", "signal pid") /* a signal sent by the operator (uipcctl kill) */ \
    X(NO_POLICY, "no_policy", LOG_WARN, "eec6dc52603b41bea90ef23f8c7d1b48", "") /* no seccomp policy: every syscall allowed */ \
    X(IDENTITY, "identity", LOG_INFO, "54fd5db9ed264f2bb1a5936cf831b200", "uid gid") /* the uid it runs as (warn: the supervisor's own) */ \
    X(NO_SANDBOX, "no_sandbox", LOG_WARN, "b068970f2e10444cb92a3fc831b9616a", "") /* no namespaces and no read-only view (not root, no user namespaces) */ \
    X(UNREACHABLE, "unreachable", LOG_ERROR, "c39fc39ec34a4d63bfd3a139b9b9bda5", "uid path dir|error") /* its exec or a writable path cannot be reached by its uid */ \
    X(START_FAILED, "start_failed", LOG_ERROR, "c6ef4f0ac76848fa98edd42521e94b8e", "step exec error") /* its process could not be started */ \
    X(EXIT_LOST, "exit_lost", LOG_WARN, "c7149f129a534db297e2159d5d86c7d6", "error") /* its exit status was lost (a keeper reaped it for an earlier generation) */ \
    X(REMOVED, "removed", LOG_INFO, "79c05f2c243440fa9b7c1bc04c20077e", "") /* removed by a reload */ \
    X(NOT_ADDED, "not_added", LOG_ERROR, "da1cfd11dc444d95b27ea95362b9247f", "service") /* a reload could not add it, or its channel to service */ \
    X(FINAL_STATE, "final_state", LOG_INFO, "71c75344b9554482ab1630c767cfdcf9", "state violations") /* its state when the supervisor stops */ \
    X(SUPERVISOR_STARTED, "supervisor_started", LOG_INFO, "3d2bffdc91db489184beb0be9286b970", "modules channels") /* the supervisor set up */ \
    X(UNPRIVILEGED, "unprivileged", LOG_WARN, "7f1eddfe695540e68bcca649eab13cac", "") /* not root: no capabilities and no group changes for modules */ \
    X(SHUTDOWN, "shutdown", LOG_INFO, "244cb24c98394b0f81761e013726f3d7", "signal") /* the supervisor asked to stop (SIGTERM, SIGINT) */ \
    X(STOPPED, "stopped", LOG_INFO, "07cbb9f49dcb499b9f7f0e37db04b5f8", "") /* the supervisor stopped */ \
    X(RELOAD_REQUESTED, "reload_requested", LOG_INFO, "c71ce659b6b142588c9cfd27680902f9", "path") /* SIGHUP: the config is read again */ \
    X(RELOAD, "reload", LOG_INFO, "e17629fb01e041a5b6f5e1c3cfc13062", "change") /* one change a reload applies */ \
    X(RELOAD_REFUSED, "reload_refused", LOG_ERROR, "ea87966038584eebb6525012e9ed33c6", "error") /* a reload refused; nothing changed */ \
    X(REEXEC, "reexec", LOG_INFO, "3c32a6f5e36d4e47915ae807db39d68d", "generation exe") /* this generation hands over to a new binary */ \
    X(REEXEC_REFUSED, "reexec_refused", LOG_ERROR, "943efa873d394fe68045ddac86023299", "error") /* a reexec refused; this generation goes on */ \
    X(TOOK_OVER, "took_over", LOG_INFO, "d720d9790fd5470d8e7dad1a46fce913", "generation modules channels") /* a new generation took the modules over */ \
    X(DRAIN, "drain", LOG_INFO, "90590c54520148688eb59388490238aa", "draining") /* drain begun (1) or ended (0) */ \
    X(CONTROL_REFUSED, "control_refused", LOG_WARN, "30875348aeb84c8da50cc9edc750f6a6", "uid|pid|refused max_connections") /* a control connection refused */ \
    X(UNSAFE_CONTROL_DIR, "unsafe_control_dir", LOG_ERROR, "641af3f2801645abbad55c2a3952c702", "dir owner mode") /* the control socket's directory is writable by others */ \
    X(SYSTEM_ERROR, "system_error", LOG_WARN, "0b59fdc931ff4a01b1481eaf2a1c637c", "op error") /* an operation failed (error: the supervisor could not set up) */ \
    X(SUPERVISOR_DIED, "supervisor_died", LOG_ERROR, "a82a826beea349f99dd97720f5dc094b", "code|signal paused") /* the keeper: the supervisor died and is started again from its last state */ \
    X(LOG_FALLBACK, "log_fallback", LOG_WARN, "deb195f02aec46089aa5bb43e361811f", "error") /* log_format = journal, journald unreachable: JSON lines on stderr until it is back */

#endif
