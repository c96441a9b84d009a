/* SPDX-License-Identifier: MIT */
/* The module lifecycle table and the decisions around it (lifecycle.h).
 * The only place a module's state is assigned. */
#include <stdio.h>
#include <string.h>

#include "lifecycle.h"

/* A cell: next state (TO(state), TO(LC_DECIDE) or SAME; 0: refused), the
 * want it sets (W(want); 0: unchanged), its timer and effects. */
#define TO(s) ((uint8_t)((s) + 1))
#define SAME ((uint8_t)(LC_STATES + 2))
#define W(w) ((uint8_t)((w) + 1))
#define CELL(next, want, timer, fx) { (next), (want), (timer), (fx) }

#define SPAWN_NOW(want) CELL(TO(LC_SPAWNING), want, LT_SPAWN, LX_SPAWN)
#define OPERATOR_UP CELL(TO(LC_SPAWNING), W(LW_UP), LT_SPAWN, LX_SPAWN | LX_FRESH)
#define DOWN_NOW CELL(TO(LC_STOPPED), W(LW_DOWN), LT_NONE, 0)
#define WANT(w) CELL(SAME, W(w), LT_KEEP, 0)
#define REAPED CELL(TO(LC_DECIDE), 0, LT_NONE, LX_RECLAIM)
#define KILL_NOW CELL(TO(LC_KILLED), 0, LT_NONE, LX_SIGKILL)
#define ASK_STOP(w) CELL(TO(LC_STOPPING), W(w), LT_TERM, LX_STOP_WORD)

/* A process that runs its program: what both running states share. */
#define RUNNING_CELLS                                   \
    [LE_EXITED] = REAPED,                               \
    [LE_HUNG] = KILL_NOW,                               \
    [LE_VIOLATION] = KILL_NOW,                          \
    [LE_STOP] = ASK_STOP(LW_DOWN),                      \
    [LE_RESTART] = ASK_STOP(LW_RESTART),                \
    [LE_SHUTDOWN] = WANT(LW_DOWN)

/* A process on its way down: its deadline escalates. */
#define GOING_DOWN_CELLS                                \
    [LE_EXITED] = REAPED,                               \
    [LE_VIOLATION] = KILL_NOW,                          \
    [LE_STOP] = WANT(LW_DOWN),                          \
    [LE_RESTART] = WANT(LW_RESTART),                    \
    [LE_SHUTDOWN] = WANT(LW_DOWN)

/* No process: the operator may start it again. */
#define DEAD_CELLS                                      \
    [LE_START] = OPERATOR_UP,                           \
    [LE_RESTART] = OPERATOR_UP,                         \
    [LE_STOP] = DOWN_NOW,                               \
    [LE_SHUTDOWN] = WANT(LW_DOWN)

const struct lc_cell lc_table[LC_STATES][LE_EVENTS] = {
    [LC_WAITING] = {
        [LE_DEPS_READY] = SPAWN_NOW(0),
        [LE_START] = OPERATOR_UP,
        [LE_RESTART] = OPERATOR_UP,
        [LE_STOP] = DOWN_NOW,
        [LE_SHUTDOWN] = DOWN_NOW,
    },
    [LC_SPAWNING] = {
        [LE_SPAWNED] = CELL(TO(LC_STARTING), 0, LT_NONE, 0),
        [LE_SPAWN_FAILED] = REAPED,
        [LE_EXITED] = REAPED,
        [LE_TIMER] = KILL_NOW,
        [LE_STOP] = CELL(TO(LC_KILLED), W(LW_DOWN), LT_NONE, LX_SIGKILL),
        [LE_RESTART] = CELL(TO(LC_KILLED), W(LW_RESTART), LT_NONE, LX_SIGKILL),
        [LE_SHUTDOWN] = WANT(LW_DOWN),
    },
    [LC_STARTING] = {
        [LE_READY] = CELL(TO(LC_READY), 0, LT_KEEP, 0),
        RUNNING_CELLS,
    },
    [LC_READY] = { RUNNING_CELLS },
    [LC_STOPPING] = {
        [LE_TIMER] = CELL(TO(LC_TERMINATING), 0, LT_KILL, LX_SIGTERM),
        GOING_DOWN_CELLS,
    },
    [LC_TERMINATING] = {
        [LE_TIMER] = KILL_NOW,
        GOING_DOWN_CELLS,
    },
    [LC_KILLED] = {
        [LE_EXITED] = REAPED,
        [LE_STOP] = WANT(LW_DOWN),
        [LE_RESTART] = WANT(LW_RESTART),
        [LE_SHUTDOWN] = WANT(LW_DOWN),
    },
    [LC_BACKOFF] = {
        [LE_TIMER] = SPAWN_NOW(0),
        [LE_START] = OPERATOR_UP,
        [LE_RESTART] = OPERATOR_UP,
        [LE_STOP] = DOWN_NOW,
        [LE_SHUTDOWN] = DOWN_NOW,
    },
    [LC_FAILED] = { DEAD_CELLS },
    [LC_STOPPED] = { DEAD_CELLS },
    [LC_DONE] = { DEAD_CELLS },
};

void lc_init(struct lc_mod *m, uint64_t *deaths, unsigned cap)
{
    memset(m, 0, sizeof(*m));
    m->state = LC_WAITING;
    m->want = LW_UP;
    m->deaths = deaths;
    m->cap = cap;
}

void lc_restore(struct lc_mod *m, enum lc_state state, enum lc_want want, uint64_t deadline_ms, uint64_t since_ms,
                const char *reason, uint64_t *deaths, unsigned cap)
{
    lc_init(m, deaths, cap);
    m->state = state < LC_STATES ? state : LC_STOPPED;
    m->want = want <= LW_RESTART ? want : LW_UP;
    m->deadline_ms = deadline_ms;
    m->since_ms = since_ms;
    snprintf(m->reason, sizeof(m->reason), "%s", reason);
}

uint64_t *lc_set_deaths(struct lc_mod *m, uint64_t *deaths, unsigned cap)
{
    uint64_t *old = m->deaths;
    m->deaths = deaths;
    m->cap = cap;
    m->ndeaths = 0;
    return old;
}

bool lc_live(enum lc_state s)
{
    return s >= LC_SPAWNING && s <= LC_KILLED;
}

bool lc_watched(enum lc_state s)
{
    return s == LC_STARTING || s == LC_READY;
}

bool lc_counts_ready(enum lc_state s)
{
    return s == LC_READY || s == LC_DONE;
}

bool lc_hung(uint64_t now, uint64_t beat_ms, uint64_t since_ms, unsigned hang_ms)
{
    uint64_t last = beat_ms > since_ms ? beat_ms : since_ms;
    return now > last && now - last > hang_ms;
}

bool lc_accepts(enum lc_state s, enum lc_event ev)
{
    return s < LC_STATES && ev < LE_EVENTS && lc_table[s][ev].next != 0;
}

/* Deaths within the window, this one counted. */
static unsigned count_death(struct lc_mod *m, const struct lc_policy *pol, uint64_t now)
{
    if (!m->cap)
        return 1;
    m->deaths[m->ndeaths++ % m->cap] = now;
    unsigned recent = 0;
    for (unsigned k = 0; k < m->cap && k < m->ndeaths; k++)
        recent += now - m->deaths[k] < (uint64_t)pol->window_s * 1000;
    return recent;
}

/* The first restart waits backoff_ms; each recent death doubles it, up to
 * backoff_max_ms. */
static unsigned backoff(const struct lc_policy *pol, unsigned recent)
{
    unsigned delay = pol->backoff_ms;
    for (unsigned k = 1; k < recent && delay < pol->backoff_max_ms; k++)
        delay = delay > pol->backoff_max_ms / 2 ? pol->backoff_max_ms : delay * 2;
    return delay > pol->backoff_max_ms ? pol->backoff_max_ms : delay;
}

/* After a death: what the module wants, then the restart policy. */
static enum lc_state decide(struct lc_mod *m, const struct lc_policy *pol, const struct lc_ctx *ctx, bool clean,
                            struct lc_step *st)
{
    if (m->want == LW_RESTART) { /* the operator's, or a changed config: at once, not counted */
        m->want = LW_UP;
        st->effects |= LX_SPAWN;
        st->note = LN_OPERATOR_RESTART;
        m->deadline_ms = ctx->now + ctx->spawn_timeout_ms;
        return LC_SPAWNING;
    }
    if (m->want == LW_DOWN) {
        st->note = ctx->shutting_down ? LN_NONE : LN_HELD;
        return LC_STOPPED;
    }
    if (pol->restart == LC_RESTART_NEVER || (pol->restart == LC_RESTART_ON_FAILURE && clean)) {
        st->note = LN_NOT_RESTARTED;
        return clean ? LC_DONE : LC_STOPPED;
    }
    st->recent = count_death(m, pol, ctx->now);
    if (st->recent > pol->max_restarts) {
        st->note = LN_GIVEN_UP;
        return LC_FAILED;
    }
    st->delay_ms = backoff(pol, st->recent);
    st->note = LN_RESTART_IN;
    m->deadline_ms = ctx->now + st->delay_ms;
    return LC_BACKOFF;
}

static void set_timer(struct lc_mod *m, enum lc_timer t, const struct lc_ctx *ctx)
{
    unsigned half = ctx->shutdown_timeout_ms / 2;
    switch (t) {
    case LT_KEEP: break;
    case LT_NONE: m->deadline_ms = 0; break;
    case LT_TERM: m->deadline_ms = ctx->now + half; break;
    case LT_KILL: m->deadline_ms = ctx->now + (ctx->shutdown_timeout_ms - half); break;
    case LT_SPAWN: m->deadline_ms = ctx->now + ctx->spawn_timeout_ms; break;
    }
}

static enum lc_note timer_note(enum lc_state from, const struct lc_cell *c)
{
    if (c->effects & LX_SIGTERM)
        return LN_TERM;
    if ((c->effects & LX_SIGKILL) && from == LC_TERMINATING)
        return LN_KILL;
    if ((c->effects & LX_SIGKILL) && from == LC_SPAWNING)
        return LN_KILL_SPAWN;
    return LN_NONE;
}

struct lc_step lc_apply(struct lc_mod *m, const struct lc_policy *pol, const struct lc_ctx *ctx, struct lc_in in)
{
    struct lc_step st = { .from = m->state, .to = m->state };
    const struct lc_cell *c = &lc_table[m->state][in.ev];
    bool up = in.ev == LE_START || in.ev == LE_RESTART;
    if (c->next == 0 || (up && ctx->shutting_down)) {
        st.effects = LX_REFUSE;
        return st;
    }
    if (c->want)
        m->want = (enum lc_want)(c->want - 1);
    set_timer(m, (enum lc_timer)c->timer, ctx);
    st.effects = c->effects;
    if (in.ev == LE_TIMER)
        st.note = timer_note(m->state, c);
    if (in.ev == LE_HUNG || in.ev == LE_VIOLATION)
        memcpy(m->reason, in.reason, sizeof(m->reason));
    if (c->next == TO(LC_DECIDE))
        st.to = decide(m, pol, ctx, in.clean, &st);
    else if (c->next != SAME)
        st.to = (enum lc_state)(c->next - 1);
    if (st.effects & LX_FRESH)
        m->ndeaths = 0;
    if (st.effects & LX_SPAWN)
        m->reason[0] = '\0';
    if (in.ev == LE_SPAWNED)
        m->since_ms = ctx->now;
    m->state = st.to;
    return st;
}

bool lc_due(const struct lc_mod *m, const struct lc_ctx *ctx)
{
    return lc_deadline(m, ctx) <= ctx->now;
}

uint64_t lc_deadline(const struct lc_mod *m, const struct lc_ctx *ctx)
{
    if (!m->deadline_ms || !lc_accepts(m->state, LE_TIMER) || (m->state == LC_BACKOFF && ctx->draining))
        return UINT64_MAX;
    return m->deadline_ms;
}

/* ---- order ---- */

unsigned lc_start_order(unsigned n, const unsigned *const *after, const unsigned *nafter, unsigned *order)
{
    bool placed[LC_MAX_MODULES] = { false };
    unsigned done = 0;
    if (n > LC_MAX_MODULES)
        return 0;
    for (bool progress = true; done < n && progress;) { /* Kahn's algorithm, in config order */
        progress = false;
        for (unsigned i = 0; i < n; i++) {
            bool ready = !placed[i];
            for (unsigned j = 0; ready && j < nafter[i]; j++)
                ready = after[i][j] < n && placed[after[i][j]];
            if (ready) {
                placed[i] = true;
                order[done++] = i;
                progress = true;
            }
        }
    }
    return done;
}

int lc_next_to_stop(const unsigned *order, unsigned n, const struct lc_mod *const *mods)
{
    for (unsigned k = n; k-- > 0;) {
        enum lc_state s = mods[order[k]]->state;
        if (s == LC_SPAWNING || s == LC_STARTING || s == LC_READY)
            return (int)order[k];
        if (lc_live(s))
            return -1; /* being stopped: one at a time */
    }
    return -1;
}

/* ---- names and text ---- */

const char *lc_state_name(enum lc_state s)
{
    static const char *const names[LC_STATES] = {
        [LC_WAITING] = "waiting", [LC_SPAWNING] = "spawning", [LC_STARTING] = "starting",
        [LC_READY] = "ready", [LC_STOPPING] = "stopping", [LC_TERMINATING] = "terminating",
        [LC_KILLED] = "killed", [LC_BACKOFF] = "backoff", [LC_FAILED] = "failed",
        [LC_STOPPED] = "stopped", [LC_DONE] = "done",
    };
    return s < LC_STATES ? names[s] : "?";
}

const char *lc_event_name(enum lc_event ev)
{
    static const char *const names[LE_EVENTS] = {
        [LE_DEPS_READY] = "deps ready", [LE_SPAWNED] = "spawned", [LE_SPAWN_FAILED] = "spawn failed",
        [LE_READY] = "ready", [LE_EXITED] = "exited", [LE_HUNG] = "hung", [LE_VIOLATION] = "violation",
        [LE_START] = "start", [LE_STOP] = "stop", [LE_RESTART] = "restart", [LE_SHUTDOWN] = "shutdown",
        [LE_TIMER] = "timer",
    };
    return ev < LE_EVENTS ? names[ev] : "?";
}

/* "→ next" plus effects, want and timer, for one cell. */
static size_t cell_text(const struct lc_cell *c, char *buf, size_t len)
{
    static const char *const fx[] = { "reclaim", "fresh count", "spawn", "stop word", "SIGTERM", "SIGKILL" };
    static const char *const want[] = { "", "want up", "want down", "want restart" };
    static const char *const timer[] = { "", "", "+term deadline", "+kill deadline", "+spawn deadline" };
    if (c->next == 0)
        return (size_t)snprintf(buf, len, "·");
    size_t n = (size_t)snprintf(buf, len, "%s", c->next == SAME ? "=" : c->next == TO(LC_DECIDE) ? "→ *policy*"
                                                                                            : "→ ");
    if (c->next != SAME && c->next != TO(LC_DECIDE))
        n += (size_t)snprintf(buf + (n < len ? n : len), n < len ? len - n : 0, "%s", lc_state_name(c->next - 1));
    for (unsigned b = 0; b < sizeof(fx) / sizeof(fx[0]); b++)
        if (c->effects & (1u << b))
            n += (size_t)snprintf(buf + (n < len ? n : len), n < len ? len - n : 0, ", %s", fx[b]);
    if (c->want)
        n += (size_t)snprintf(buf + (n < len ? n : len), n < len ? len - n : 0, ", %s", want[c->want]);
    if (timer[c->timer][0])
        n += (size_t)snprintf(buf + (n < len ? n : len), n < len ? len - n : 0, ", %s", timer[c->timer]);
    return n;
}

size_t lc_table_markdown(char *buf, size_t len)
{
    size_t n = 0;
#define PUT(...) (n += (size_t)snprintf(buf + (n < len ? n : len), n < len ? len - n : 0, __VA_ARGS__))
    PUT("| state \\ event |");
    for (unsigned e = 0; e < LE_EVENTS; e++)
        PUT(" %s |", lc_event_name((enum lc_event)e));
    PUT("\n|---|");
    for (unsigned e = 0; e < LE_EVENTS; e++)
        PUT("---|");
    PUT("\n");
    for (unsigned s = 0; s < LC_STATES; s++) {
        PUT("| **%s** |", lc_state_name((enum lc_state)s));
        for (unsigned e = 0; e < LE_EVENTS; e++) {
            char cell[160];
            cell_text(&lc_table[s][e], cell, sizeof(cell));
            PUT(" %s |", cell);
        }
        PUT("\n");
    }
#undef PUT
    return n;
}

void lc_describe(const struct lc_step *st, const struct lc_policy *pol, unsigned shutdown_timeout_ms,
                 char *buf, size_t len)
{
    static const char *const restart_names[] = { "always", "on-failure", "never" };
    switch (st->note) {
    case LN_NONE: snprintf(buf, len, "%s", ""); break;
    case LN_RESTART_IN: snprintf(buf, len, "restart in %u ms", st->delay_ms); break;
    case LN_GIVEN_UP:
        snprintf(buf, len, "given up: %u deaths within %u s (max_restarts = %u)", st->recent, pol->window_s,
                 pol->max_restarts);
        break;
    case LN_NOT_RESTARTED: snprintf(buf, len, "not restarted (restart = %s)", restart_names[pol->restart]); break;
    case LN_HELD: snprintf(buf, len, "stopped by the operator"); break;
    case LN_OPERATOR_RESTART: snprintf(buf, len, "starting again at once (restart asked for)"); break;
    case LN_TERM: snprintf(buf, len, "still running, SIGTERM"); break;
    case LN_KILL: snprintf(buf, len, "still running after %u ms, SIGKILL", shutdown_timeout_ms); break;
    case LN_KILL_SPAWN: snprintf(buf, len, "did not reach exec in time, SIGKILL"); break;
    }
}
