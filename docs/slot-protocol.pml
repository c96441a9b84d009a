/* SPDX-License-Identifier: MIT */
/*
 * docs/slot-protocol.pml -- a Promela model of one uipc channel: the slot
 * lifecycle, the submit FIFO (client -> server), the completion FIFO
 * (server -> client), the client's private call records, the server's
 * epoch tag, the supervisor's words in the client's control region (`up`,
 * `alive`), the client's own answer to calls sent to a reaped server
 * (peer_gone), and the supervisor's reclaim after either side is killed at
 * any step and then restarted (or given up).  Checked by
 * `bash scripts/model-check.sh`; docs/architecture.md, "Model check
 * (docs/slot-protocol.pml)", maps every step to the code and lists what is
 * abstracted away.
 *
 * Granularity.  Every atomic { } is one access to a shared word (a load or
 * a store of a slot word, an epoch, a control word, a head or tail, or one
 * FIFO entry), together with the private work next to it.  Private work is
 * invisible to the other processes and dies with its own, so gluing it to a
 * shared access loses neither an interleaving nor a crash point.  A few
 * loads of words that no other running process can write at that moment
 * are glued too (each place says why).  Interleaving is sequentially
 * consistent: the release/acquire and seq_cst pairings of atomics.h are
 * assumed, not checked.
 *
 * Crashes.  A crash is a SIGKILL: the Killer sets kill_s / kill_c between
 * any two steps of its victim, whose `unless` escape then ends that
 * incarnation; private state is lost, shared memory stays.  The
 * Supervisor reclaims only after that (a reaped process), then restarts
 * the side with a new epoch, or (the server) gives up on it for good.
 *
 * Modes.
 *  (default)     honest peers.  Wherever the code would detect a protocol
 *                violation (-UIPC_EPROTO, chan_break, srv_break, a full
 *                FIFO) there is an assertion: two honest sides must never
 *                get there.
 *  -DBYZ_SERVER  a server incarnation may turn byzantine at any moment: the
 *                ByzServer process writes BYZ_STEPS values (small domains,
 *                at the end of the file) to words a server can write, then
 *                the incarnation dies (SIGKILL) and is reclaimed as any
 *                other.  The client is honest: its detections halt the
 *                channel (chan_break), as the code does; the properties are
 *                about its callers and its slots.
 *  -DBYZ_CLIENT  the client may write any value to its positions (submit
 *                tail, completion head) and to the submit entries' stamps,
 *                at any moment (ByzClient).  The server is honest: its
 *                detections halt its end (srv_break); the properties are
 *                the server's own.
 *  Switches for the byzantine server (architecture.md, "Model check"):
 *  -DBYZ_WHAT=m  which kinds of writes: a bit mask of W_* below (default all)
 *  -DBYZ_POS     heads, tails and stamps anywhere (finding 7, open: CI
 *                shows its counterexample); without it the liar may only
 *                append one completion entry, or rewrite an entry's
 *                fields, and write the completion tail.  With it, an
 *                honest server may also halt on what the liar left (P10
 *                is not checked)
 *
 * Halts.  A violation a side sees is reported; the supervisor then asks
 * both ends to stop using the channel (the `reset` word), and each end
 * halts: the client completes every call in flight with -UIPC_EPROTO and
 * takes no more (chan.c: chan_stop), the server stops serving (serve.c:
 * srv_stop).  The model stops there: the reset itself (sv-channel.c:
 * finish_reset, uipc__reclaim_reset, both ends starting over at position
 * 0) is not modelled; the Checker verifies instead that it would give
 * every slot back (P3).  Honest peers never halt.
 *
 * Properties (P-numbers are used in the assertions below):
 *  P1  no caller gets two answers                         (tell_caller)
 *  P2  every call of a living caller gets its answer: in every quiet state
 *      no caller waits (BYZ_CLIENT: not checked, the callers are the
 *      liar's)                                             (Checker)
 *  P3  no slot is lost: at the end every slot is FREE in the client's
 *      table (quarantined and abandoned ones came back), and every FREE one
 *      is in the free stack; honest mode: its word is FREE or DONE.  A
 *      halted client: every slot is free, abandoned or quarantined, which
 *      the reset gives back                                (Checker)
 *  P4  no slot is used by two calls at once: the client never fills a
 *      slot a live honest server still serves, and nobody rewrites a slot
 *      the server serves (not with a lying client: its own slots)
 *  P5  neither FIFO overflows (the producer's full check never trips;
 *      honest mode)
 *  P6  neither side sees a protocol violation from the other (honest mode)
 *  P7  no call runs after its caller was told -UIPC_EPEERDIED; with a liar
 *      also: a server takes each (slot, generation) at most once, and
 *      (BYZ_SERVER) only calls sent to its own epoch
 *  P8  the reply a caller gets is the one for its own request
 *  P9  at the end the submit FIFO's published head is not behind its
 *      published tail (the supervisor's former FIFO hang check; honest mode)
 *  P10 (BYZ_SERVER, not BYZ_POS) an honest server never reports the honest
 *      client
 *  Always: nobody hangs (the Checker's timeout: every state where nothing
 *  can move is a quiet one), a server answers only slots it took, and its
 *  loops are bounded whatever the peer wrote.
 *  And, with -a -f (honest mode), the LTL formula `answered` at the end of
 *  the file.
 *
 * The first version of this model found five defects in the code of the
 * time, and its byzantine-server mode six more (findings 6 to 11); each is
 * fixed in the code and the model but finding 7 (positions, -DBYZ_POS),
 * and architecture.md ("Model check", Findings) tells each one and which
 * step fixes it.  The steps are marked "finding N".
 */

/* ---- bounds (override with spin -DNAME=value) ---- */
#ifndef NS
#define NS 2          /* slots in the region */
#endif
#ifndef NCALLS
#define NCALLS 2      /* calls issued, over all client incarnations */
#endif
#ifndef MAXSC
#define MAXSC 2       /* server crashes (byzantine deaths included) */
#endif
#ifndef MAXCC
#define MAXCC 1       /* client crashes */
#endif
#ifndef MAXTO
#define MAXTO 1       /* deadlines that pass (calls made with timeout_ms) */
#endif
#ifndef BYZ_STEPS
#define BYZ_STEPS 1   /* byzantine writes, over the whole run */
#endif
/* what a byzantine server may write (BYZ_WHAT, a bit mask) */
#define W_OWN   1     /* a slot word {state, gen} */
#define W_DATA  2     /* a slot's status / length: a reply longer than the slot */
#define W_CQ    4     /* a completion entry {stamp, slot, gen, tag} */
#define W_SQ    8     /* a submit entry {stamp, slot, gen, tag} */
#define W_POS  16     /* a head or a tail (either FIFO) */
#define W_EPOCH 32    /* side[SERVER].epoch in the region */
#ifndef BYZ_WHAT
#define BYZ_WHAT 63
#endif
#if defined(BYZ_SERVER) || defined(BYZ_CLIENT)
#define BYZ 1
#endif
#if defined(BYZ_SERVER) && defined(BYZ_CLIENT)
#error "one liar at a time: BYZ_SERVER or BYZ_CLIENT"
#endif
/* region.c: uipc__region_layout(): fifo_size = smallest power of two >= 2 * slots */
#if NS == 1
#define FS 2
#elif NS == 2
#define FS 4
#else
#define FS 8
#endif
#define CFS FS        /* completion FIFO: the same size as the submit FIFO */
#if NS > 3
#error "the model's slot choices are written out for at most 3 slots"
#endif

/* Positions and stamps are free-running 32-bit counters in the code; here
 * they are 8 bits, with the same modular arithmetic (a liar can write any
 * position; 256 is a multiple of every FIFO size). */
#define INC(x)     (((x) + 1) & 255)
#define DIST(a, b) (((a) - (b)) & 255)
/* fifo.h: uipc__fifo_peek() -- an entry at position p; empty (the previous
 * lap's stamp, or 0: never written); anything else is corrupted */
#define SQ_HAS(p)   (sq_seq[(p) % FS] == INC(p))
#define SQ_EMPTY(p) (sq_seq[(p) % FS] == 0 || sq_seq[(p) % FS] == (((p) + 1 - FS) & 255))
#define CQ_HAS(p)   (cq_seq[(p) % CFS] == INC(p))
#define CQ_EMPTY(p) (cq_seq[(p) % CFS] == 0 || cq_seq[(p) % CFS] == (((p) + 1 - CFS) & 255))

/* region.h: enum uipc_slot_state */
#define S_FREE 0
#define S_SUB  1
#define S_SERV 2
#define S_DONE 3
/* internal.h: enum uipc_call_state */
#define C_FREE  0
#define C_INFL  1
#define C_READY 2
#define C_ABAND 3
#define C_QUAR  4
/* what a caller is told */
#define ST_OK    0
#define ST_DIED  1  /* -UIPC_EPEERDIED */
#define ST_TIME  2  /* -UIPC_ETIMEDOUT */
#define ST_PROTO 3  /* -UIPC_EPROTO */
/* region.h: UIPC_TAG_PEER_DIED on a completion entry */
/* a slot's payload with a reply length over the slot (chan.c: read_answer) */
#define DBAD 255
/* ghost: the life of one call, as its caller sees it */
#define K_NONE 0
#define K_PEND 1   /* uipc_call entered, no answer yet */
#define K_DONE 2   /* its caller got its one answer (a reply, -UIPC_ETIMEDOUT or -UIPC_EPROTO) */
#define K_ORPH 3   /* its caller died with the client incarnation */
#define K_DIED 4   /* its caller got its one answer: -UIPC_EPEERDIED */

/* ===== the region (shared memory, region.h) ===== */
/* struct uipc_slot_hdr.own: {gen, state} in one 64-bit atomic word */
byte own_st[NS];
byte own_gen[NS];
/* slot payload: the request is the caller's call id + 1 (written by fill);
 * the server's reply is its own copy of the request it took; DBAD: a
 * status / length a byzantine server wrote (a reply longer than the slot) */
byte data[NS];
/* submit FIFO: entries {seq, slot, gen, tag = server epoch seen}, head, tail */
byte sq_seq[FS]; byte sq_slot[FS]; byte sq_gen[FS]; byte sq_tag[FS];
byte sq_head; byte sq_tail;
/* completion FIFO: entries {seq, slot, gen}, head, tail (the entry's tag
 * is written 0 by a server and read by nobody).  cq_tail is read by nobody
 * (producers attach at the consumer's head). */
byte cq_seq[CFS]; byte cq_slot[CFS]; byte cq_gen[CFS];
byte cq_head; byte cq_tail;
/* side[SERVER].epoch in the region: informative.  The supervisor stores it
 * (0 at the reclaim, the epoch at a start), a byzantine server may
 * scribble on it, and no process reads it any more. */
byte srv_epoch = 1;

/* ===== the client's control region (region.h: struct uipc_ctl_chan) =====
 * Only the supervisor writes these; no peer can (it does not map them). */
byte up = 1;      /* `epoch`: the server's epoch while it takes calls; 0 while down */
byte alive = 1;   /* `alive`: the server incarnation alive now; after its death its
                   * epoch + DEAD (UIPC_EPOCH_DEAD: a new value at every death) */
#define DEAD 128
bool reset;       /* `reset` of both ends: stop using the channel (after a report) */
/* The server end's `epoch` word (its own control region) is next_epoch
 * while it runs: the supervisor stores it before the start. */

/* Positions are free-running.  Fewer states, same behaviour: with honest
 * peers an entry's fields are cleared once nobody can read them again; the
 * stamps stay (the lap checks read them).  Completion FIFO: only the client
 * reads fields, from its own position on, so its head publication clears
 * what it passed.  Submit FIFO: free_unsent() reads fields from a head it
 * loaded earlier while the server may be moving head on, so only the drain
 * (the server is dead, and the supervisor runs one reclaim at a time)
 * clears them.  With a liar nothing is cleared: a restamped old entry
 * shows its old fields, as in the code. */
#ifdef BYZ
inline sq_drain_publish_head(v) { sq_head = v }
inline cq_publish_head(v) { cq_head = v }
#else
inline sq_drain_publish_head(v)
{
    do
    :: sq_head != v -> sq_slot[sq_head % FS] = 0; sq_gen[sq_head % FS] = 0; sq_tag[sq_head % FS] = 0; sq_head++
    :: else -> break
    od
}
inline cq_publish_head(v)
{
    do
    :: cq_head != v -> cq_slot[cq_head % CFS] = 0; cq_gen[cq_head % CFS] = 0; cq_head++
    :: else -> break
    od
}
#endif

/* ===== process control: the Killer, the supervisor's reaping ===== */
bool kill_s, kill_c;       /* SIGKILL sent, not yet taken */
bool s_up = 1, c_up = 1;   /* the incarnation runs */
bool s_dead, c_dead;       /* died; not yet reaped and reclaimed */
bool s_respawn, c_respawn; /* reclaimed; to be restarted */
bool s_start, c_start;     /* spawned: the new incarnation runs */
bool s_gone;               /* the supervisor gave up on the server (never restarted) */
byte sc, cc;               /* crashes so far */
byte next_epoch = 1;       /* sv.c: stamp_epoch() counter */
bool s_lied;               /* the server incarnation alive now wrote garbage (BYZ_SERVER) */
byte bw;                   /* byzantine writes so far */

/* ===== ghosts: not in the code, what the properties talk about ===== */
byte cst[NCALLS];       /* K_* per call */
#ifdef BYZ_SERVER
byte cep[NCALLS];       /* the epoch each call was sent to (its entry's tag) */
#endif
#ifdef BYZ
byte tkg[NS];           /* per slot, the last generation a server took */
#endif
byte npending;          /* calls in K_PEND */
byte calls;             /* calls issued so far (bounded by NCALLS) */
byte tos;               /* deadlines passed so far (bounded by MAXTO) */
byte srv_using[NS];     /* call id + 1 that the live server serves in slot i; 0: none */
byte held;              /* slots not FREE in the client's private table */

/* ghost: the one place a caller gets its answer */
inline tell_caller(id, st)
{
    assert(cst[id] == K_PEND);   /* P1 */
    npending--;
    if
    :: st == ST_DIED -> cst[id] = K_DIED
    :: else -> cst[id] = K_DONE
    fi
}

/* ========================= the client (chan.c) ========================= */
/* the next shared step of reap_one() */
#define A_RELEASE  1  /* slot_release(): store own = FREE{gen} */
#define A_READ     2  /* read_answer(): load own and the reply */
#define A_BADSLOT  4  /* uipc__chan_reap(): a slot index out of range */
#define A_PG       5  /* peer_gone(): the next record */
#define A_FAIL     6  /* uipc__chan_issue(): the call failed (-UIPC_EPROTO) */

/* chan.c: chan_stop() -- the channel stops: every call in flight is
 * completed -UIPC_EPROTO (READY); held slots stay held until the reset */
inline chan_stop()
{
    brk = 1;
    k = 0;
    do
    :: k < NS ->
       if
       :: rst[k] == C_INFL -> rst[k] = C_READY; rstat[k] = ST_PROTO
       :: else -> skip
       fi;
       k++
    :: else -> break
    od;
    k = 0
}
/* chan.c: chan_break() -- a violation seen: stop, and report it (the
 * supervisor then asks both ends to stop: `reset`).  Honest peers never
 * get here (P6). */
#ifdef BYZ
inline chan_break() { chan_stop(); reset = 1 }
#else
inline chan_break() { assert(false) /* P6 */ }
#endif

/* chan.c: reap_one() -- its private decisions, on the entry {i, g} just
 * popped (i < NS); sets `a` to the shared step still to do, if any.  The
 * entry's tag is not read: no completion says "peer died" (finding 6). */
inline reap_decide()
{
    if
    :: rgen[i] == g && rst[i] == C_READY && rexp[i] ->
       rexp[i] = 0 /* answered after its timeout: its delivery frees the slot */
    :: else ->
       if
       :: rgen[i] != g || !(rst[i] == C_INFL || rst[i] == C_ABAND || rst[i] == C_QUAR) ->
          skip /* a duplicate or a stray: dropped (st.duplicates++) */
       :: else ->
          if
          :: rst[i] != C_INFL -> a = A_RELEASE /* its caller already had its answer */
          :: else -> a = A_READ
          fi
       fi
    fi
}

/* fifo.h: uipc__fifo_pop(cmp) -- the entry at cp (its stamp checked by the
 * caller), copied once; an index out of range is -UIPC_EPROTO */
inline reap_pop()
{
    i = cq_slot[cp % CFS]; g = cq_gen[cp % CFS];
    cp++;
    if
    :: i < NS -> reap_decide()
    :: else -> a = A_BADSLOT
    fi
}

/* chan.c: peer_gone() -- is record k's call one to an incarnation that is
 * gone (its epoch is not `alive`), and still waiting, or past its deadline
 * and not delivered yet (finding 9b)?  (It runs only when `alive` differs
 * from the value last seen: a new value at every death, finding 8.) */
#define GONE(k) (repoch[k] != asn && (rst[k] == C_INFL || rst[k] == C_ABAND || rst[k] == C_QUAR || \
                                      (rst[k] == C_READY && rexp[k])))

active proctype Client()
{
    /* struct uipc_chan: private, lost on a crash */
    byte rst[NS];   /* recs[i].state */
    byte rgen[NS];  /* recs[i].gen */
    byte repoch[NS];/* recs[i].epoch: the server epoch the call was sent to */
    byte rcid[NS];  /* ghost: which call recs[i] is */
    byte rstat[NS]; /* recs[i].status */
    bit  rexp[NS];  /* recs[i].expired */
    byte fstk[NS];  /* ch->free_stack */
    byte nfree;     /* ch->nfree */
    byte sp, scached; /* ch->sub: producer pos, cached head */
    byte cp;          /* ch->cmp: consumer pos */
    byte asn;         /* ch->alive_seen */
    byte al;          /* uipc__chan_reap(): alive, loaded before the pops */
    bit  brk;         /* ch->broken */
    byte i, g, t, e, k, id;
    byte a;           /* the next shared step of a multi-step operation */
    byte e0;          /* uipc__chan_issue(): the epoch loaded before the SUBMITTED store */
    bit  rf;          /* ch->reap_first: reap before the next issue (a new incarnation) */
    bit  np;          /* uipc__chan_reap(): popped an entry (n > 0) */

cstart:
    {
        atomic {
            /* chan.c: uipc__chan_init() -> fifo.c: uipc__fifo_attach_producer(sub):
             * pos = the consumer's head, then skip entries stamped for this
             * lap.  Glued: only a client writes the submit stamps, and an
             * older head only means more stamped entries to skip. */
            sp = sq_head;
            k = 0;
            do
            :: k < FS && SQ_HAS(sp) -> sp++; k++
            :: else -> break
            od;
            /* fifo.c: uipc__fifo_attach_consumer(cmp): pos = head.  Glued:
             * only a client writes cq_head (a byzantine server that did is
             * dead: the supervisor starts us after its reclaim). */
            cp = cq_head;
            /* fifo.c: uipc__fifo_attach_producer(sub): cached = head.  Glued: an
             * older head only makes the full check load it again, same outcome */
            scached = sq_head;
            /* chan.c: uipc__chan_init(): reap_first, so a predecessor's
             * completions are consumed before this incarnation issues */
            rf = 1;
            k = NS
        };
        /* module.c: attach_one() -> chan.c: uipc__chan_bind(): alive_seen =
         * load-acquire(alive), before the slot words (finding 9a) */
        atomic { asn = alive };
        /* chan.c: recs_adopt(): one slot word at a time, from the last slot;
         * a call our predecessor left waits for the incarnation alive then */
        do
        :: atomic {
               k > 0 ->
               k--;
               rgen[k] = own_gen[k];
               if
               :: own_st[k] == S_SUB || own_st[k] == S_SERV -> rst[k] = C_QUAR; repoch[k] = asn; held++
               :: else -> fstk[nfree] = k; nfree++ /* FREE, DONE: ours again */
               fi
           }
        :: else -> break
        od;

end_idle:
        do
        /* ---- call.c: uipc_call() -> chan.c: uipc__chan_issue() ---- */
        :: atomic {
               /* chan.c: uipc__chan_issue() -- reap first (below) with reap_first set, or
                * when `up` is not the incarnation last seen alive (findings 6,
                * 11).  Up and not the one seen means `alive` changed: the reap
                * below is enabled.  Down (0): the code reaps, then refuses
                * the call; the model may also refuse it without the reap. */
               calls < NCALLS && nfree > 0 && !rf && !brk && (up == asn || up == 0) ->
               /* chan.c: uipc__chan_issue() -- the free stack's top */
               nfree--;
               i = fstk[nfree]; fstk[nfree] = 0;
               assert(rst[i] == C_FREE);
               id = calls; calls++;
               cst[id] = K_PEND; npending++
           };
           /* chan.c: uipc__chan_issue() -- atomic_load(up) before the SUBMITTED store
            * (finding 1); fill() before it is private */
           atomic { e0 = up };
           atomic {
               /* chan.c: uipc__chan_issue() -- fill() writes the payload, the header,
                * then atomic_store(own = SUBMITTED{gen + 1}) */
               g = rgen[i] + 1;
#ifndef BYZ_CLIENT
               assert(srv_using[i] == 0 || s_lied); /* P4 */
#endif
               data[i] = id + 1;
               own_gen[i] = g;
               own_st[i] = S_SUB
           };
           /* chan.c: uipc__chan_issue() -- atomic_load(up), seq_cst after the store; rec->epoch */
           atomic {
               e = up;
               rgen[i] = g;
               repoch[i] = e;
               /* finding 1: another epoch than before the store means a reclaim
                * came in between: fail the call as if the service were down;
                * and so does one not seen alive by the last reap */
               if :: e != e0 || e != asn -> e = 0 :: else -> skip fi;
               e0 = 0;
               a = 0
           };
           do
           :: atomic {
                  e == 0 ->
                  /* chan.c: uipc__chan_issue() -- service down: slot_release() (store own = FREE{gen});
                   * -UIPC_EPEERDIED returned at once */
                  rst[i] = C_FREE; fstk[nfree] = i; nfree++;
                  own_st[i] = S_FREE; own_gen[i] = rgen[i];
                  tell_caller(id, ST_DIED);
                  i = 0; g = 0; id = 0
              };
              break
           :: atomic {
                  /* fifo.h: uipc__fifo_push(sub) -- the cache says full: load head */
                  e != 0 && a == 0 && DIST(sp, scached) > FS - 1 ->
                  if
                  :: DIST(sp, sq_head) > FS - 1 ->
#ifdef BYZ
                     /* -UIPC_EPROTO: slot_release() (nothing was sent: the
                      * slot is ours again, finding 10), chan_break(); uipc__chan_issue()
                      * returns -UIPC_EPROTO */
                     rst[i] = C_FREE; fstk[nfree] = i; nfree++;
                     own_st[i] = S_FREE; own_gen[i] = g;
                     chan_break();
                     tell_caller(id, ST_PROTO);
                     i = 0; g = 0; e = 0; id = 0; a = A_FAIL
#else
                     assert(false) /* P5 */
#endif
                  :: else -> scached = sq_head
                  fi
              };
              if :: a == A_FAIL -> a = 0; break :: else -> skip fi
           :: atomic {
                  /* fifo.h: uipc__fifo_push(sub) -- slot, gen, tag = epoch, then store-release seq */
                  e != 0 && a == 0 && DIST(sp, scached) <= FS - 1 ->
                  sq_slot[sp % FS] = i; sq_gen[sp % FS] = g; sq_tag[sp % FS] = e;
                  sq_seq[sp % FS] = INC(sp);
#ifdef BYZ_SERVER
                  cep[id] = e;
#endif
                  sp++;
                  a = 1
              }
           :: atomic {
                  /* fifo.h: uipc__fifo_publish_tail(sub); chan.c: uipc__chan_issue() -- rec INFLIGHT */
                  a == 1 ->
                  sq_tail = sp;
                  rst[i] = C_INFL; rcid[i] = id; rexp[i] = 0; held++;
                  i = 0; g = 0; e = 0; id = 0; a = 0
              };
              break
           od

        /* ---- chan.c: uipc__chan_reap(): load-acquire(alive), reap_one() per
         * entry until the FIFO is empty, then peer_gone() with the alive
         * loaded first: every call sent to another incarnation and still
         * waiting is answered there, after whatever answers the dead
         * server pushed (they were visible to this reap).  A reap that
         * finds no entry and no change does nothing: the model runs one
         * only when there is either (and below, one with neither but a
         * corrupted stamp or reap_first to clear). ---- */
        :: atomic {
               !brk && (alive != asn || CQ_HAS(cp)) ->
               np = 0;
               al = alive;
               if
               :: CQ_HAS(cp) ->
                  /* fifo.h: uipc__fifo_pop(cmp) -- load-acquire seq == pos + 1, copy the entry once */
                  np = 1; reap_pop()
               :: else -> skip
               fi
           };
           do
           :: atomic {
                  /* chan.c: peer_gone() -- per gone record: complete_rec(-UIPC_EPEERDIED),
                   * expired cleared, or slot_release().  Records not gone: private, glued. */
                  a == A_PG ->
                  do
                  :: k < NS && !GONE(k) -> k++
                  :: else -> break
                  od;
                  if
                  :: k < NS ->
                     if
                     :: rst[k] == C_INFL -> rstat[k] = ST_DIED; rst[k] = C_READY
                     :: rst[k] == C_READY -> rexp[k] = 0 /* its delivery frees it (finding 9b) */
                     :: else -> /* slot_release(): store own = FREE{gen} */
                        rst[k] = C_FREE; rexp[k] = 0; rcid[k] = 0; rstat[k] = 0;
                        fstk[nfree] = k; nfree++; held--;
                        own_st[k] = S_FREE; own_gen[k] = rgen[k]
                     fi;
                     k++
                  :: else -> k = 0; a = 0
                  fi
              };
              if :: a == 0 -> break :: else -> skip fi
           :: atomic {
                  /* chan.c: reap_one() -> slot_release(): ABANDONED / QUARANTINE free again */
                  a == A_RELEASE ->
                  rst[i] = C_FREE; rexp[i] = 0; rcid[i] = 0; rstat[i] = 0;
                  fstk[nfree] = i; nfree++; held--;
                  own_st[i] = S_FREE; own_gen[i] = rgen[i];
                  a = 0
              }
           :: atomic {
                  /* chan.c: read_answer() -- load-acquire own == DONE{gen}, then the
                   * status and length; complete_rec(): READY; -UIPC_EPROTO: chan_break() */
                  a == A_READ ->
                  if
                  :: own_st[i] == S_DONE && own_gen[i] == g && data[i] != DBAD ->
                     assert(data[i] == rcid[i] + 1);  /* P8 */
                     rstat[i] = ST_OK; rst[i] = C_READY
                  :: else ->
                     rstat[i] = ST_PROTO; rst[i] = C_READY;
                     chan_break()
                  fi;
                  a = 0
              }
           :: atomic {
                  /* chan.c: uipc__chan_reap() -- an index out of range: publish head
                   * (the bad entry counted), chan_break() */
                  a == A_BADSLOT ->
                  cq_publish_head(cp);
                  chan_break();
                  i = 0; g = 0; t = 0; a = 0; np = 0; al = 0
              };
              break
           :: atomic {
                  /* fifo.h: uipc__fifo_pop(cmp) -- the next entry (the loop goes on
                   * even if a read_answer() just broke the channel) */
                  a == 0 && CQ_HAS(cp) ->
                  np = 1; reap_pop()
              }
           :: atomic {
                  /* fifo.h: uipc__fifo_peek(cmp) -- empty (the previous lap's stamp, or 0);
                   * then, if it popped any, uipc__fifo_publish_head(cmp).  Glued: the
                   * load is as if taken at the store; only producers' full checks
                   * read head.  A corrupted stamp: the same, then chan_break(). */
                  a == 0 && !CQ_HAS(cp) ->
                  if :: np -> cq_publish_head(cp) :: else -> skip fi;
                  if
                  :: CQ_EMPTY(cp) ->
                     rf = 0;
                     /* chan.c: peer_gone(alive loaded first) */
                     if :: al != asn -> asn = al; k = 0; a = A_PG :: else -> skip fi
                  :: else -> chan_break()
                  fi;
                  i = 0; g = 0; t = 0; np = 0; al = 0
              };
              if :: a == 0 -> break :: else -> skip fi
           od

        /* chan.c: uipc__chan_reap() with nothing waiting and alive unchanged:
         * fifo.h: uipc__fifo_peek(cmp) -- empty (uipc__chan_issue() with reap_first set:
         * rf cleared), or corrupted (chan_break); no head published */
        :: atomic {
               !brk && alive == asn && !CQ_HAS(cp) && (rf || !CQ_EMPTY(cp)) ->
               if
               :: CQ_EMPTY(cp) -> rf = 0
               :: else -> chan_break()
               fi
           }

#ifdef BYZ
        /* module.c: uipc__progress() -- the supervisor's `reset` word set:
         * uipc__chan_halt() -> chan_stop() */
        :: atomic { reset && !brk -> chan_stop() }
#endif

        /* ---- chan.c: uipc__chan_deliver() / uipc__chan_sync_done() -> finish_rec() ---- */
        :: atomic {
               (rst[0] == C_READY
#if NS >= 2
                || rst[1] == C_READY
#endif
#if NS >= 3
                || rst[2] == C_READY
#endif
               ) ->
               if
               :: rst[0] == C_READY -> i = 0
#if NS >= 2
               :: rst[1] == C_READY -> i = 1
#endif
#if NS >= 3
               :: rst[2] == C_READY -> i = 2
#endif
               fi;
               id = rcid[i]; t = rstat[i];
               if
               :: rexp[i] || brk ->
                  /* chan.c: uipc__chan_deliver() -- expired: ABANDONED, the slot
                   * waits; finish_rec() on a broken channel: ABANDONED, held
                   * until the reset */
                  rst[i] = C_ABAND; rexp[i] = 0
               :: else ->
                  /* chan.c: finish_rec() -> slot_release(): store-release own = FREE{gen} */
                  rst[i] = C_FREE; rcid[i] = 0; rstat[i] = 0;
                  fstk[nfree] = i; nfree++; held--;
                  own_st[i] = S_FREE; own_gen[i] = rgen[i]
               fi;
               /* chan.c: complete(status), or call.c: uipc_call() returns status */
               tell_caller(id, t);
               i = 0; id = 0; t = 0
           }

        /* ---- a call's deadline passes (private: no shared access).  Time is an
         * adversary with a budget: any call in flight may be one with a
         * timeout_ms, and it may expire at any moment. ---- */
        :: atomic {
               tos < MAXTO &&
               (rst[0] == C_INFL
#if NS >= 2
                || rst[1] == C_INFL
#endif
#if NS >= 3
                || rst[2] == C_INFL
#endif
               ) ->
               if
               :: rst[0] == C_INFL -> i = 0
#if NS >= 2
               :: rst[1] == C_INFL -> i = 1
#endif
#if NS >= 3
               :: rst[2] == C_INFL -> i = 2
#endif
               fi;
               tos++;
               if
               :: /* chan.c: uipc__chan_sync_done() -- deadline: ABANDONED, -UIPC_ETIMEDOUT */
                  rst[i] = C_ABAND; tell_caller(rcid[i], ST_TIME)
               :: /* chan.c: uipc__chan_expire() -- expired, complete_rec(-UIPC_ETIMEDOUT) */
                  rst[i] = C_READY; rexp[i] = 1; rstat[i] = ST_TIME
               fi;
               i = 0
           }

        od
    } unless {
        atomic {
            kill_c ->
            /* SIGKILL: the incarnation and its private state are gone; its
             * callers die with it (the supervisor's "orphaned", sv-channel.c:
             * fold_client).  sv.c / bed.c reap it (waitid) before any reclaim. */
            kill_c = 0; c_up = 0;
            k = 0;
            do
            :: k < NCALLS ->
               if
               :: cst[k] == K_PEND -> cst[k] = K_ORPH; npending--
               :: else -> skip
               fi;
               k++
            :: else -> break
            od;
            k = 0;
            do
            :: k < NS -> rst[k] = 0; rgen[k] = 0; repoch[k] = 0; rcid[k] = 0; rstat[k] = 0; rexp[k] = 0; fstk[k] = 0; k++
            :: else -> break
            od;
            nfree = 0; sp = 0; scached = 0; cp = 0; held = 0; asn = 0; brk = 0;
            i = 0; g = 0; t = 0; e = 0; k = 0; id = 0; a = 0;
            e0 = 0; rf = 0; np = 0; al = 0;
            c_dead = 1
        }
    };
end_dead:
    /* sv.c: sv_start_module() (bed.c: uipc__bed_start()): the next incarnation */
    atomic { c_start -> c_start = 0; c_up = 1 };
    goto cstart
}

/* ========================= the server (serve.c) ========================= */
/* serve.c: srv_break() -- a violation seen: stop serving the channel and
 * report it.  Honest mode: never (P6).  BYZ_SERVER: the client is honest,
 * and what a dead byzantine predecessor left must not get here either
 * (P10, finding 11), except with BYZ_POS (a corrupted submit stamp, finding
 * 7; the channel is reset, every call answered once).  BYZ_CLIENT: the
 * client's lies. */
#if defined(BYZ_CLIENT) || (defined(BYZ_SERVER) && defined(BYZ_POS))
inline srv_break() { sb = 1; reset = 1 }
#elif defined(BYZ_SERVER)
bit framed;       /* an honest server reported the honest client */
inline srv_break() { framed = 1; assert(!framed) /* P10 */ }
#else
inline srv_break() { assert(false) /* P6 */ }
#endif

active proctype Server()
{
    /* struct uipc_srv: private, lost on a crash */
    byte ep;           /* s->epoch */
    byte sp;           /* s->sub: consumer pos */
    byte cpp, ccached; /* s->cmp: producer pos, cached head */
    bit  sb;           /* s->broken */
    bit  busy[NS];     /* s->reqs[i].busy */
    byte bgen[NS];     /* s->reqs[i].gen */
    byte bcid[NS];     /* the request it read (call id + 1) */
    byte i, g, t, k, c, a;

sstart:
    {
        atomic {
            /* serve.c: uipc__srv_init() -- s->epoch = load-acquire(the epoch
             * word of its own control region); 0 would be -ESTALE.  Glued,
             * with the two attaches: only the supervisor writes the epoch,
             * sq_head (drain) and the completion stamps (reclaim), never
             * while this server runs, and the client writes neither head nor
             * those stamps (a lying client: see ByzClient) */
            ep = next_epoch;
            assert(ep != 0);
            /* fifo.c: uipc__fifo_attach_consumer(sub): pos = head */
            sp = sq_head;
            /* fifo.c: uipc__fifo_attach_producer(cmp): pos = head, skip stamped entries */
            cpp = cq_head;
            k = 0;
            do
            :: k < CFS && CQ_HAS(cpp) -> cpp++; k++
            :: else -> break
            od;
            /* fifo.c: uipc__fifo_attach_producer(cmp): cached = head.  Glued: an
             * older head only makes the full check load it again, same outcome */
            ccached = cq_head;
            k = 0
        };

end_serve:
        do
        /* ---- serve.c: uipc__srv_process() ---- */
        :: atomic {
               /* fifo.h: uipc__fifo_pop(sub) */
               !sb && SQ_HAS(sp) ->
               i = sq_slot[sp % FS]; g = sq_gen[sp % FS]; t = sq_tag[sp % FS];
               sp++;
               if
               :: t != ep ->
                  /* serve.c: uipc__srv_process() -- another epoch's: dropped
                   * (s->stale++), and head published (finding 5) */
                  sq_head = sp;
                  i = 0; g = 0; t = 0
               :: else -> skip
               fi
           };
           if
           :: t == 0 -> skip
           :: else ->
              atomic {
                  /* serve.c: uipc__srv_process() -- i < slots, then take():
                   * busy, then load-acquire own == SUBMITTED{gen}; anything
                   * else is -UIPC_EPROTO, srv_break() (head not published) */
                  if
                  :: i < NS && !busy[i] && own_st[i] == S_SUB && own_gen[i] == g -> a = 1
                  :: else -> srv_break(); i = 0; g = 0; t = 0; a = 0
                  fi
              };
              if
              :: a == 1 ->
                 /* serve.c: take() -- store own = SERVING{gen}, read the request */
                 atomic {
                     own_st[i] = S_SERV;
                     c = data[i];
                     busy[i] = 1; bgen[i] = g; bcid[i] = c;
                     srv_using[i] = c;
                     a = 0;
                     /* (c > NCALLS: a payload a byzantine server scribbled, no call) */
#ifndef BYZ_CLIENT
                     assert(c > 0 && (c > NCALLS || cst[c - 1] != K_DIED));  /* P7 */
#endif
#ifdef BYZ_SERVER
                     assert(c > NCALLS || cep[c - 1] == ep);  /* P7: only calls sent to this incarnation */
#endif
#ifdef BYZ
                     assert(g > tkg[i]); tkg[i] = g;  /* P7: each (slot, generation) taken once */
#endif
                     skip
                 };
                 /* fifo.h: uipc__fifo_publish_head(sub) -- after the SERVING mark */
                 atomic { sq_head = sp; i = 0; g = 0; t = 0; c = 0 }
              :: else -> skip
              fi
           fi
        :: atomic {
               /* fifo.h: uipc__fifo_peek(sub) -- a stamp neither ours nor the previous lap's */
               !sb && !SQ_HAS(sp) && !SQ_EMPTY(sp) ->
               srv_break()
           }
#ifdef BYZ
        /* module.c: uipc__progress() -- the supervisor's `reset` word set:
         * uipc__srv_halt() */
        :: atomic { reset && !sb -> sb = 1 }
#endif

        /* ---- serve.c: answer() -- the handler returned, or uipc_req_complete() ---- */
        :: atomic {
               (busy[0]
#if NS >= 2
                || busy[1]
#endif
#if NS >= 3
                || busy[2]
#endif
               ) ->
               if
               :: busy[0] -> i = 0
#if NS >= 2
               :: busy[1] -> i = 1
#endif
#if NS >= 3
               :: busy[2] -> i = 2
#endif
               fi;
               assert(srv_using[i] == bcid[i] && bcid[i] != 0); /* it answers only what it took */
               if
               :: sb ->
                  /* serve.c: answer() on a broken channel: busy = false, nothing written */
                  busy[i] = 0; bgen[i] = 0; bcid[i] = 0; srv_using[i] = 0;
                  i = 0; a = A_FAIL
               :: else ->
                  /* serve.c: answer() -- status, rep_len, reply bytes, store-release own = DONE{gen} */
#ifndef BYZ_CLIENT
                  assert(data[i] == bcid[i]); /* P4 */
#endif
                  data[i] = bcid[i];
                  g = bgen[i];
                  busy[i] = 0; bgen[i] = 0; bcid[i] = 0;
                  srv_using[i] = 0;
                  own_st[i] = S_DONE; own_gen[i] = g
               fi
           };
           /* fifo.h: uipc__fifo_push(cmp) -- load head only when the cache says full */
           if
           :: a == 0 && DIST(cpp, ccached) > CFS - 1 ->
              atomic {
                  if
                  :: DIST(cpp, cq_head) > CFS - 1 ->
#ifdef BYZ
                     srv_break(); a = A_FAIL   /* -UIPC_EPROTO: srv_break() */
#else
                     assert(false)   /* P5 */
#endif
                  :: else -> ccached = cq_head
                  fi
              }
           :: else -> skip
           fi;
           if
           :: a == A_FAIL -> a = 0; i = 0; g = 0
           :: else ->
              /* fifo.h: uipc__fifo_push(cmp) -- {slot, gen, 0}, then store-release seq */
              atomic {
                  cq_slot[cpp % CFS] = i; cq_gen[cpp % CFS] = g;
                  cq_seq[cpp % CFS] = INC(cpp);
                  cpp++
              };
              /* fifo.h: uipc__fifo_publish_tail(cmp) */
              atomic { cq_tail = cpp; i = 0; g = 0 }
           fi
        od
    } unless {
        atomic {
            kill_s ->
            /* SIGKILL: the incarnation and its private state are gone.
             * sv.c / bed.c reap it (waitid) before any reclaim. */
            kill_s = 0; s_up = 0; s_lied = 0;
            k = 0;
            do
            :: k < NS -> busy[k] = 0; bgen[k] = 0; bcid[k] = 0; srv_using[k] = 0; k++
            :: else -> break
            od;
            ep = 0; sp = 0; cpp = 0; ccached = 0; sb = 0;
            i = 0; g = 0; t = 0; k = 0; c = 0; a = 0;
            s_dead = 1
        }
    };
end_dead:
    /* sv.c: sv_start_module(): the next incarnation */
    atomic { s_start -> s_start = 0; s_up = 1 };
    goto sstart
}

/* ============ the supervisor: reclaim.c, and restarts (sv.c) ============ */
active proctype Supervisor()
{
    byte p, k, st, g, a, tl;
    bit sent[NS];

end_loop:
    do
    /* ---- sv-channel.c: sv_channels_dead() -> reclaim.c: uipc__reclaim_server(),
     * once the server is reaped ---- */
    :: atomic {
           s_dead ->
           s_dead = 0;
           /* reclaim.c: uipc__reclaim_server() -- atomic_store(up = 0), seq_cst;
            * then side_down(): the region's epoch := 0 (read by nobody: glued) */
           up = 0;
           srv_epoch = 0
       };
       atomic {
           /* reclaim.c: drain_submits() -- attach a consumer at head; load the
            * client's tail: a head more than a lap behind it or more than one
            * ahead is a lie, and the drain starts at the tail; pop every
            * stamped entry (at most a lap; a corrupted stamp ends it), publish
            * head.  Glued: the client's concurrent push lands either before
            * (drained) or after (left); nothing else moves those words (the
            * only other consumer is dead; a lying client's writes land before
            * or after). */
           p = sq_head;
           tl = sq_tail;
           if
           :: DIST(tl, p) > FS && DIST(p, tl) > 1 -> p = tl
           :: else -> skip
           fi;
           k = 0;
           do
           :: k < FS && SQ_HAS(p) -> p++; k++
           :: else -> break
           od;
#ifdef BYZ
           sq_head = p;
#else
           sq_drain_publish_head(p);
#endif
           p = 0; k = 0; a = 0; tl = 0
       };
       /* reclaim.c: free_held() -- per slot, atomic_load(own); SUBMITTED or
        * SERVING: compare-exchange it to FREE{gen} (nobody will write it
        * again: the next incarnation drops entries of another epoch; a dying
        * liar's words too, finding 9c).  DONE stays: an answer pushed before
        * the death is read from it.  Nothing goes into the completion FIFO
        * (finding 6). */
       do
       :: atomic {
              k < NS && a == 0 ->
              st = own_st[k]; g = own_gen[k];
              if
              :: st == S_SUB || st == S_SERV -> a = 1
              :: else -> k++; st = 0; g = 0
              fi
          }
       :: atomic {
              a == 1 ->
              if
              :: own_st[k] == st && own_gen[k] == g -> own_st[k] = S_FREE
              :: else -> skip
              fi;
              k++; st = 0; g = 0; a = 0
          }
       :: atomic { k >= NS && a == 0 -> k = 0 }; break
       od;
       /* reclaim.c: uipc__reclaim_server(), last -- atomic_store(alive = its epoch |
        * UIPC_EPOCH_DEAD), then the news: the client answers whatever it sent
        * to that incarnation itself (chan.c: peer_gone); a new value at every
        * death, so a client that saw the last one sees this one (finding 8) */
       atomic { alive = next_epoch + DEAD; s_respawn = 1 }

    /* ---- sv.c: sv_start_module() -> stamp_epoch(), sv_channels_started(): the
     * region's epoch (informative), the server's own epoch word, the client's
     * `alive`, then its `up`; then the new server runs ---- */
    :: atomic {
           s_respawn ->
           s_respawn = 0;
           next_epoch++;
           srv_epoch = next_epoch;
           alive = next_epoch
       };
       atomic { up = next_epoch; s_start = 1 }
    /* ---- sv.c: restart policy `never`, max_restarts reached, `uipcctl stop`:
     * the server is not restarted (calls fail at once from now on) ---- */
    :: atomic { s_respawn -> s_respawn = 0; s_gone = 1 }

    /* ---- reclaim.c: uipc__reclaim_client(), once the client is reaped ---- */
    :: atomic {
           c_dead ->
           c_dead = 0;
           /* reclaim.c: side_down(client) (its epoch: read by nobody here);
            * free_unsent() -- load-acquire(submit head), then every entry still
            * stamped from there on was sent.  Glued: only a client writes the
            * entries, and it is dead. */
           p = sq_head;
           k = 0;
           do
           :: k < FS && SQ_HAS(p) ->
              /* only an entry of the slot's current generation means that call
               * was sent (finding 4; the server, the word's only other writer
               * now, keeps its gen).  Glued: the client is dead. */
              if
              :: sq_slot[p % FS] < NS && sq_gen[p % FS] == own_gen[sq_slot[p % FS]] -> sent[sq_slot[p % FS]] = 1
              :: else -> skip
              fi;
              p++; k++
           :: else -> break
           od;
           p = 0; k = 0; a = 0
       };
       do
       :: atomic {
              /* reclaim.c: free_unsent() -- atomic_load(own) of slot k */
              k < NS && a == 0 ->
              st = own_st[k]; g = own_gen[k];
              if
              :: st == S_SUB && !sent[k] -> a = 1
              :: else -> sent[k] = 0; k++; st = 0; g = 0
              fi
          }
       :: atomic {
              /* reclaim.c: free_unsent() -- atomic_store(own = FREE{gen}) */
              a == 1 ->
              own_st[k] = S_FREE; own_gen[k] = g;
              sent[k] = 0; k++; st = 0; g = 0; a = 0
          }
       :: atomic { k >= NS -> k = 0; c_respawn = 1 }; break
       od

    /* ---- sv.c: sv_start_module(): the new client runs ---- */
    :: atomic { c_respawn -> c_respawn = 0; c_start = 1 }
    od
}

/* ========= crashes: a SIGKILL at any step, a bounded number of times =========
 * (a crash, `kill -9`, sv.c's kill_hung, uipcctl kill: all the same here) */
active proctype Killer()
{
end_kill:
    do
    :: atomic { sc < MAXSC && s_up && !kill_s -> kill_s = 1; sc++ }
    :: atomic { cc < MAXCC && c_up && !kill_c -> kill_c = 1; cc++ }
    od
}

/* ====== the end: nothing but the Killer (or a liar) can move; the final checks ======
 * Every such state is checked, whatever crashes the Killer may still do.
 * The check changes nothing, so it adds no state to the search.  Remote
 * references: the pids are Client 0, Server 1, Supervisor 2 (declaration
 * order). */
#define CL(x) Client[0]:x
#define SV(x) Server[1]:x
#define REC_QUIET(k) (CL(rst[k]) != C_READY && !(tos < MAXTO && CL(rst[k]) == C_INFL))
#define CLIENT_IDLE (Client[0]@end_idle && !(calls < NCALLS && CL(nfree) > 0 && !CL(brk)) && \
                     (CL(brk) || (!CQ_HAS(CL(cp)) && CQ_EMPTY(CL(cp)) && alive == CL(asn) && !reset)) && \
                     REC_QUIET(0) && REC_QUIET(NS - 1) && REC_QUIET(NS / 2))
#define SERVER_IDLE ((Server[1]@end_serve && srv_using[0] == 0 && srv_using[NS - 1] == 0 && srv_using[NS / 2] == 0 && \
                      (SV(sb) || (!SQ_HAS(SV(sp)) && SQ_EMPTY(SV(sp)) && !reset))) || \
                     (Server[1]@end_dead && s_gone))
#define SUPERVISOR_IDLE (Supervisor[2]@end_loop && !s_dead && !c_dead && !s_respawn && !c_respawn)
#define SLOT_BACK(k) (CL(rst[k]) == C_FREE && (own_st[k] == S_FREE || own_st[k] == S_DONE))
/* P3 for a halted client: free, abandoned or quarantined (the reset gives those back) */
#define SLOT_HELD_OK(k) (CL(rst[k]) == C_FREE || (CL(brk) && (CL(rst[k]) == C_ABAND || CL(rst[k]) == C_QUAR)))
#define NFREE_RECS ((CL(rst[0]) == C_FREE) + (NS >= 2 && CL(rst[NS - 1]) == C_FREE) + (NS >= 3 && CL(rst[NS / 2]) == C_FREE))

active proctype Checker()
{
end_check:
    do
    :: atomic {
           CLIENT_IDLE && SERVER_IDLE && SUPERVISOR_IDLE && !kill_s && !kill_c ->
#ifndef BYZ_CLIENT
           assert(npending == 0);           /* P2 */
           /* P3: every slot FREE in the client's table (or, halted, held
            * for the reset), and every FREE one in the free stack */
           assert(SLOT_HELD_OK(0) && SLOT_HELD_OK(NS - 1) && SLOT_HELD_OK(NS / 2)); /* finding 9 */
           assert(CL(nfree) == NFREE_RECS);   /* finding 10 */
#endif
#ifndef BYZ
           assert(SLOT_BACK(0) && SLOT_BACK(NS - 1) && SLOT_BACK(NS / 2)); /* P3 */
#ifndef NO_P9
           /* P9: sv.c's former hang check counted tail - head (mod 2^32) as
            * waiting work when it was 1..fifo_size; a tail behind head (a
            * client that died between stamping an entry and publishing tail)
            * reads as no work.  Only a server that runs is judged: one given
            * up leaves what the client sent after the drain. */
           assert(s_gone || DIST(sq_tail, sq_head) == 0 || DIST(sq_tail, sq_head) > FS);
#endif
#endif
           skip
       }
    :: timeout -> assert(false) /* stuck outside a quiet state: someone hangs */
    od
}

#ifdef BYZ_SERVER
/* ====== a byzantine server: BYZ_STEPS writes of garbage, then death ======
 * The server incarnation alive now (and not already being killed) writes
 * one value to one word it can write (both ends map the whole region; its
 * control region and the client's are out of its reach), then the SIGKILL
 * is due (it counts as one of the MAXSC crashes): the server's next step is
 * its death.  Further writes (BYZ_STEPS > 1) may come before that step.
 * Values are small domains around what an honest run holds:
 *  W_OWN    a slot word: any state, the word's generation or one more
 *           (findings 6, 9c)
 *  W_DATA   a slot's status / rep_len: a reply longer than the slot (the
 *           status itself is clamped by the client, and lengths are
 *           otherwise abstracted)
 *  W_CQ     a completion entry: slot (or one out of range), generation as
 *           above (its tag is read by nobody); its stamp kept, or a new entry
 *           appended at the first free position (BYZ_POS: any stamp of the
 *           lap, the previous or next lap, or 0, at any index)
 *  W_SQ     a submit entry's fields: slot, generation, tag of its own or of
 *           the next epoch (epochs are a supervisor-wide counter:
 *           guessable); BYZ_POS: its stamp too
 *  W_POS    the completion tail (read by nobody); BYZ_POS: the submit head
 *           and tail and the completion head, around their honest values
 *  W_EPOCH  side[SERVER].epoch in the region (read by nobody) */
inline pick_slot(j)
{
    if
    :: j = 0
#if NS >= 2
    :: j = 1
#endif
#if NS >= 3
    :: j = 2
#endif
    fi
}
inline pick_index(j, n)
{
    j = 0;
    do
    :: j < n - 1 -> j++
    :: break
    od
}
/* a stamp for index j of a FIFO of n entries whose consumer head is h: for
 * the position p in [h, h + n) at index j: p + 1, the previous lap's, the
 * next lap's, or 0 (never written) */
inline pick_stamp(v, h, j, n)
{
    v = (h + ((j + n - (h % n)) % n)) & 255;
    if
    :: v = INC(v)
    :: v = (v + 1 - n) & 255
    :: v = (v + 1 + n) & 255
    :: v = 0
    fi
}
/* an entry's slot (NS: out of range) and generation */
inline pick_gen(x, w)
{
    if
    :: x = own_gen[w]
    :: x = own_gen[w] + 1   /* findings 6, 9c */
    fi
}
inline pick_slot_gen(w, x)
{
    if
    :: pick_slot(w); pick_gen(x, w)
    :: w = NS; x = 0
    fi
}

active proctype ByzServer()
{
    byte j, v, w, x, y;
end_byz:
    do
    :: atomic {
           bw < BYZ_STEPS && s_up && (s_lied -> kill_s : (!kill_s && sc < MAXSC)) ->
           if
           :: (BYZ_WHAT & W_OWN) ->          /* a slot word */
              pick_slot(j);
              if :: v = S_FREE :: v = S_SUB :: v = S_SERV :: v = S_DONE fi;
              pick_gen(x, j);
              own_st[j] = v; own_gen[j] = x
           :: (BYZ_WHAT & W_DATA) ->         /* status / rep_len: a reply longer than the slot */
              pick_slot(j);
              data[j] = DBAD
           :: (BYZ_WHAT & W_CQ) ->           /* a completion entry */
#ifdef BYZ_POS
              pick_index(j, CFS);
              pick_stamp(v, cq_head, j, CFS);   /* finding 7 */
#else
              /* the first position not stamped from head */
              v = cq_head; y = 0;
              do
              :: y < CFS && CQ_HAS(v) -> v++; y++
              :: else -> break
              od;
              if
              :: pick_index(j, CFS); v = cq_seq[j]  /* a waiting (or old) entry's fields */
              :: y < CFS ->  /* a new entry there: the next producer's attach skips it */
                 j = v % CFS; v = INC(v)
              fi;
#endif
              pick_slot_gen(w, x);
              cq_slot[j] = w; cq_gen[j] = x; cq_seq[j] = v
           :: (BYZ_WHAT & W_SQ) ->           /* a submit entry */
              pick_index(j, FS);
#ifdef BYZ_POS
              pick_stamp(v, sq_head, j, FS);  /* finding 7 */
#else
              v = sq_seq[j];                  /* its fields only */
#endif
              pick_slot_gen(w, x);
              if :: y = next_epoch :: y = next_epoch + 1 fi;
              sq_slot[j] = w; sq_gen[j] = x; sq_tag[j] = y; sq_seq[j] = v
           :: (BYZ_WHAT & W_POS) ->          /* a head or a tail */
              if
#ifdef BYZ_POS
              /* finding 7 */
              :: sq_head = (sq_tail - FS - 1) & 255  /* over a lap behind the client's tail */
              :: sq_head = (sq_tail - 1) & 255
              :: sq_head = (sq_tail + 1) & 255       /* one ahead: passes the drain's check */
              :: sq_head = (sq_tail + 2) & 255
              :: sq_tail = (sq_head + FS + 1) & 255
              :: sq_tail = (sq_head - 2) & 255
              :: cq_head = (cq_head - 1) & 255
              :: cq_head = (cq_head + 1) & 255
              :: cq_head = (cq_head + CFS + 1) & 255
#endif
              :: cq_tail = (cq_tail + CFS + 1) & 255 /* read by nobody */
              fi
           :: (BYZ_WHAT & W_EPOCH) ->        /* the region's epoch word: read by nobody */
              srv_epoch = 0
           fi;
           j = 0; v = 0; w = 0; x = 0; y = 0;
           bw++;
           if
           :: !s_lied -> s_lied = 1; kill_s = 1; sc++
           :: else -> skip
           fi
       }
    od
}
#endif

#ifdef BYZ_CLIENT
/* ====== a lying client: BYZ_STEPS writes to its positions and stamps ======
 * At any moment while the client runs (another thread of it, in effect):
 * its submit tail, its completion head, or one submit entry's stamp. */
active proctype ByzClient()
{
    byte j, v;
end_byz:
    do
    :: atomic {
           bw < BYZ_STEPS && c_up && !kill_c ->
           if
           :: sq_tail = (sq_head + FS + 1) & 255   /* over a lap ahead of head */
           :: sq_tail = (sq_head - 2) & 255        /* behind head */
           :: sq_tail = (sq_head + 1) & 255
           :: cq_head = (cq_head - 1) & 255
           :: cq_head = (cq_head + 1) & 255
           :: cq_head = (cq_head + CFS + 1) & 255
           :: j = 0;
              do
              :: j < FS - 1 -> j++
              :: break
              od;
              v = (sq_head + ((j + FS - (sq_head % FS)) % FS)) & 255;
              if
              :: v = INC(v)
              :: v = (v + 1 - FS) & 255
              :: v = (v + 1 + FS) & 255
              :: v = 0
              fi;
              sq_seq[j] = v
           fi;
           j = 0; v = 0;
           bw++
       }
    od
}
#endif

/* Liveness, checked with -a -f: eventually, and from then on, no living
 * caller waits and every slot is FREE in the client's table. */
ltl answered { <> [] (npending == 0 && held == 0) }
