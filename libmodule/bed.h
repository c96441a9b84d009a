/* SPDX-License-Identifier: MIT */
/*
 * The test bed: a minimal supervisor for tests, benchmarks and examples.
 * It creates channel regions and bells, forks real module processes that
 * see exactly their own channels, detects their death through pidfds, and
 * reclaims their channels as the supervisor does.  Not thread-safe; use it
 * from one thread of a process that has no other children to reap.
 */
#ifndef UIPC_BED_H
#define UIPC_BED_H

#include <stdint.h>
#include <sys/types.h>

#include "region.h"

struct uipc_bed;
/* A module's body, run in the forked child; its return is the exit code. */
typedef int (*uipc_bed_main_fn)(void *arg);

int  uipc__bed_new(struct uipc_bed **out);
/* Kills (SIGKILL) and reaps every module still running, then frees. */
void uipc__bed_free(struct uipc_bed *b);
/* Returns the module's id (>= 0). */
int  uipc__bed_module(struct uipc_bed *b, const char *name, uipc_bed_main_fn fn, void *arg);
/* A module that is a program: argv[0] is exec'd in the child with the
 * manifest in its environment and its fds inherited.  argv must stay valid
 * while the bed lives. */
int  uipc__bed_module_exec(struct uipc_bed *b, const char *name, char *const argv[]);
/* A channel from module `client` to `service` served by module `server`.
 * slots/slot_size 0: defaults.  Returns the channel's id (>= 0). */
int  uipc__bed_channel(struct uipc_bed *b, int client, int server, const char *service,
                       uint32_t slots, uint32_t slot_size);
/* Forks a new incarnation of the module (it must not be running). */
int  uipc__bed_start(struct uipc_bed *b, int mod);
int  uipc__bed_start_all(struct uipc_bed *b);
int  uipc__bed_kill(struct uipc_bed *b, int mod, int sig);
pid_t uipc__bed_pid(const struct uipc_bed *b, int mod);
/* Waits up to timeout_ms (-1: forever) for one module to exit (mod >= 0) or
 * any (mod < 0), reaps it and reclaims its channels.  Returns the id of the
 * module that exited, with *wstatus as waitpid() would give it, or
 * -ETIMEDOUT. */
int  uipc__bed_wait(struct uipc_bed *b, int mod, int timeout_ms, int *wstatus);
/* The bed's own mapping of a channel's region (for hostile-peer tests). */
struct uipc_region *uipc__bed_region(struct uipc_bed *b, int chan);
/* The bed's words about channel chan in the control region of its end
 * `role` (region.h, struct uipc_ctl_chan): what a test that plays one end
 * itself sets, as the supervisor would. */
struct uipc_ctl_chan *uipc__bed_words(struct uipc_bed *b, int chan, enum uipc_role role);
/* Slots reclaimed over the bed's lifetime, for the tests' accounting. */
uint64_t uipc__bed_reclaimed(const struct uipc_bed *b);

#endif
