/* SPDX-License-Identifier: MIT */
/* A module's bell: a datagram socket it receives on, and one connected
 * sender per writer (the supervisor, each channel's peer).  Creation is for
 * whoever starts modules (the supervisor, the test bed); ringing and
 * draining never block, whatever the holders of the other ends did. */
#ifndef UIPC_BELL_H
#define UIPC_BELL_H

#include <stdbool.h>

struct uipc_bell {
    int rx;         /* the receiver: the module's UIPC_BELL, its uipc_fd */
    bool bound;     /* senders can still connect (before uipc__bell_seal) */
    char dir[96];   /* private directory holding the receiver's path */
};

/* A receiver bound to a fresh path in a private directory under $TMPDIR
 * (or /tmp).  O_CLOEXEC, O_NONBLOCK.  0 or -errno. */
int uipc__bell_open(struct uipc_bell *b);
/* A new sender connected to the receiver (O_CLOEXEC, O_NONBLOCK); its fd
 * or -errno.  Only before uipc__bell_seal. */
int uipc__bell_sender(const struct uipc_bell *b);
/* Removes the path: no one else can connect.  Senders already connected
 * keep working. */
void uipc__bell_seal(struct uipc_bell *b);
/* Seals and closes the receiver (senders are the caller's to close). */
void uipc__bell_close(struct uipc_bell *b);

/* Before a new incarnation takes the receiver over: undoes what the last
 * one could have done to it that would silence every sender (a connect),
 * and empties it.  (A shutdown cannot be undone; it silences only the
 * module that holds the receiver.) */
void uipc__bell_renew(int rx);
/* One datagram, MSG_DONTWAIT | MSG_NOSIGNAL: never blocks, never signals;
 * failures are ignored (the receiver is readable already, or its holder
 * silenced itself). */
void uipc__bell_ring(int sender);
/* Reads what is queued (bounded), never blocking. */
void uipc__bell_drain(int rx);

#endif
