/* SPDX-License-Identifier: MIT */
/* What a reload compares between the running config and a new one, both
 * loaded (the new one with conf_load_again, so that dynamic uids stay):
 * each module's own settings, and the [supervisor] section's.  Pure;
 * nothing here logs or allocates. */
#ifndef UIPC_SV_CONFIG_DIFF_H
#define UIPC_SV_CONFIG_DIFF_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* True iff a and b would start the same process in the same sandbox under
 * the same restart rules: the same name, exec (resolved), argv and env,
 * provides, after and writable (each in order: argv, env, provides and
 * writable reach the process in that order), policy (the resolved path,
 * and what it compiled to: policy_same, so an edited file differs), caps,
 * has_user, has_group, uid, gid, dynamic_user, namespaces and
 * default_namespaces, rlimit and rlimit_default (a default is applied
 * more leniently than a key: sv-sandbox.c, sandbox.c), restart,
 * max_restarts, restart_window_s, backoff_ms, backoff_max_ms and
 * hang_timeout_ms.  Not connects (the caller compares channels), nor line
 * and seen.  [supervisor] rlimits and policy_dir show here, in every
 * module they give a limit or the default policy to. */
bool conf_module_same(const struct conf_module *a, const struct conf_module *b);

/* Compares old's and new's [supervisor] settings.  Returns 0 when every
 * one that changed can change while the supervisor runs (log_level,
 * log_format, heartbeat_interval_ms, hang_timeout_ms, shutdown_timeout_ms,
 * policy_dir, dynamic_uids), with msg a description of the changes, e.g.
 * "log_level info -> debug; hang_timeout_ms 5000 -> 8000", or "" when
 * none changed.  Returns -EINVAL when control_socket or
 * control_from_modules changed, with msg
 * "FILE:LINE: control_socket cannot change while the supervisor runs
 * (restart it)", FILE being new's path and LINE the key's line in it (its
 * [supervisor] header's when the key is gone, 1 when that is gone too).
 * msg is cut to len bytes, always terminated when len > 0.
 *
 * A caller that overrides control_socket after loading (main.c's
 * --control-socket) overrides it in new too before comparing.  Modules
 * started before a change of heartbeat_interval_ms beat at the old
 * interval (it is in their manifest, UIPC_HEARTBEAT_MS) until restarted. */
int conf_supervisor_diff(const struct conf *old, const struct conf *new, char *msg, size_t len);

#endif
