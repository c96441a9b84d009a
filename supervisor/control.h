/* SPDX-License-Identifier: MIT */
/* The control socket's server side: accepting, framing, limits.  What a
 * request does is the handler's business (sv-control.c). */
#ifndef UIPC_SV_CONTROL_H
#define UIPC_SV_CONTROL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "control.pb-c.h"

#define CTL_MAX_CLIENTS 64
#define CTL_IO_TIMEOUT_MS 5000 /* to finish sending a request, or reading a reply */

struct ctl_server;

/* Fills rep for req.  rep->ok and rep->error are the handler's to set. */
typedef void (*ctl_handler_fn)(void *ctx, const Uipc__Control__Request *req, Uipc__Control__Reply *rep);
/* Frees what the handler put into rep (after it was sent). */
typedef void (*ctl_release_fn)(void *ctx, Uipc__Control__Reply *rep);

/* Who is served (SO_PEERCRED, at accept). */
enum ctl_who {
    CTL_OPERATORS,             /* the supervisor's uid or root, none of its own descendants
                                * (a module that runs as root or as its user could stop or
                                * kill its siblings); the socket is mode 0600 */
    CTL_OPERATORS_AND_MODULES, /* the same uids, descendants too (control_from_modules) */
    CTL_ANYONE,                /* any local process, modules too; mode 0666: only for a
                                * handler that changes nothing (the metrics socket) */
};

/* Listens on path: the directory is created if missing (0755) and must be
 * writable by this user (or root) alone (-EPERM), a stale socket
 * replaced, a live one refused (-EADDRINUSE). */
int ctl_open(const char *path, enum ctl_who who, ctl_handler_fn handler, ctl_release_fn release,
             void *ctx, struct ctl_server **out);
/* ctl_open on a socket that already listens at path (a previous
 * supervisor's, across a reexec): lfd is taken. */
int ctl_adopt(int lfd, const char *path, enum ctl_who who, ctl_handler_fn handler, ctl_release_fn release,
              void *ctx, struct ctl_server **out);
/* The modules' parent, when it is not this process (the keeper): its
 * descendants are modules too, refused to CTL_OPERATORS. */
void ctl_modules_parent(struct ctl_server *s, pid_t parent);
/* The listening socket (to hand over across a reexec). */
int ctl_listener(const struct ctl_server *s);
/* Closes every connection and removes the socket file. */
void ctl_close(struct ctl_server *s);
/* One fd for the supervisor's epoll: readable when ctl_process has work. */
int ctl_fd(const struct ctl_server *s);
/* Handles what is ready (accepts, reads, replies, timeouts), without
 * blocking. */
void ctl_process(struct ctl_server *s);
/* Only the timeouts: drops connections past their deadline (no syscall
 * unless one is dropped). */
void ctl_expire(struct ctl_server *s);
/* Milliseconds until the next connection deadline, or -1. */
int ctl_timeout(const struct ctl_server *s);

#endif
