/* SPDX-License-Identifier: MIT */
/*
 * docs/slot-protocol.pml -- a Promela model of one uipc channel: the slot
 * lifecycle, the submit FIFO (client -> server), the completion FIFO
 * (server -> client), the client's private call records, the server's
 * epoch tag, and the supervisor's reclaim after either side is killed at
 * any step and then restarted.  Checked by `bash scripts/model-check.sh`;
 * docs/architecture.md, "Model check (docs/slot-protocol.pml)", maps every
 * step to the code and lists what is abstracted away.
 *
 * Granularity.  Every atomic { } is one access to a shared word (a load or
 * a store of a slot word, an epoch, a head or tail, or one FIFO entry),
 * together with the private work next to it.  Private work is invisible to
 * the other processes and dies with its own, so gluing it to a shared
 * access loses neither an interleaving nor a crash point.  A few loads of
 * words that no other running process can write at that moment are glued
 * too (each place says why).  Interleaving is sequentially consistent: the
 * release/acquire and seq_cst pairings of atomics.h are assumed, not
 * checked.
 *
 * Crashes.  A crash is a SIGKILL: the Killer sets kill_s / kill_c between
 * any two steps of its victim, whose `unless` escape then ends that
 * incarnation; private state is lost, shared memory stays.  The
 * Supervisor reclaims only after that (a reaped process), then restarts
 * the side with a new epoch.
 *
 * Honest peers.  Wherever the code would detect a protocol violation
 * (-UIPC_EPROTO, chan_break, srv_break, a full FIFO) there is an
 * assertion: two honest sides must never get there.
 *
 * Properties (P-numbers are used in the assertions below):
 *  P1  no caller gets two answers                         (tell_caller)
 *  P2  every call of a living caller gets its answer      (Checker)
 *  P3  no slot is lost: at the end every slot is FREE in the client's
 *      table (quarantined and abandoned ones came back)   (Checker)
 *  P4  no slot is used by two calls at once: the client never fills a
 *      slot the live server still serves, and nobody rewrites a slot the
 *      server serves
 *  P5  neither FIFO overflows (the producer's full check never trips)
 *  P6  neither side sees a protocol violation from the other
 *  P7  no call runs after its caller was told -UIPC_EPEERDIED
 *  P8  the reply a caller gets is the one for its own request
 *  P9  at the end the submit FIFO's published head is not behind its
 *      published tail: the supervisor's hang check (sv.c) sees no waiting
 *      work on an idle server
 *  and, with -a -f, the LTL formula `answered` at the end of the file.
 *
 * The first version of this model found five defects in the code
 * of the time; each is fixed in the code and the model, and architecture.md
 * ("Model check", Findings) tells each one and which step fixes it.  The
 * steps are marked "finding N".
 */

/* ---- bounds (override with spin -DNAME=value) ---- */
#ifndef NS
#define NS 2          /* slots in the region */
#endif
#ifndef NCALLS
#define NCALLS 2      /* calls issued, over all client incarnations */
#endif
#ifndef MAXSC
#define MAXSC 2       /* server crashes */
#endif
#ifndef MAXCC
#define MAXCC 1       /* client crashes */
#endif
#ifndef MAXTO
#define MAXTO 1       /* deadlines that pass (calls made with timeout_ms) */
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
#define ST_OK   0
#define ST_DIED 1  /* -UIPC_EPEERDIED */
#define ST_TIME 2  /* -UIPC_ETIMEDOUT */
/* region.h: UIPC_TAG_PEER_DIED on a completion entry */
#define TAG_PD 1
/* ghost: the life of one call, as its caller sees it */
#define K_NONE 0
#define K_PEND 1   /* uipc_call entered, no answer yet */
#define K_DONE 2   /* its caller got its one answer (a reply, or -UIPC_ETIMEDOUT) */
#define K_ORPH 3   /* its caller died with the client incarnation */
#define K_DIED 4   /* its caller got its one answer: -UIPC_EPEERDIED */

/* ===== the region (shared memory, region.h) ===== */
/* struct uipc_slot_hdr.own: {gen, state} in one 64-bit atomic word */
byte own_st[NS];
byte own_gen[NS];
/* slot payload: the request is the caller's call id + 1 (written by fill);
 * the server's reply is its own copy of the request it took */
byte data[NS];
/* submit FIFO: entries {seq, slot, gen, tag = server epoch seen}, head, tail */
byte sq_seq[FS]; byte sq_slot[FS]; byte sq_gen[FS]; byte sq_tag[FS];
byte sq_head; byte sq_tail;
/* completion FIFO: entries {seq, slot, gen, tag = 0 or TAG_PD}, head, tail */
byte cq_seq[CFS]; byte cq_slot[CFS]; byte cq_gen[CFS]; bit cq_tag[CFS];
byte cq_head; byte cq_tail;
/* side[SERVER].epoch; 0: the service is down.  (side[CLIENT].epoch is
 * stored by the supervisor and read by nobody in this protocol.) */
byte srv_epoch = 1;

/* Positions are free-running (32 bits in the code, never wrapping within
 * these bounds).  Fewer states, same behaviour: an entry's fields are
 * cleared once nobody can read them again; the stamps stay (the lap checks
 * read them).  Completion FIFO: only the client reads fields, from its own
 * position on, so its head publication clears what it passed.  Submit
 * FIFO: free_unsent() reads fields from a head it loaded earlier while the
 * server may be moving head on, so only the drain (the server is dead, and
 * the supervisor runs one reclaim at a time) clears them. */
inline sq_drain_publish_head(v)
{
    do
    :: sq_head < v -> sq_slot[sq_head % FS] = 0; sq_gen[sq_head % FS] = 0; sq_tag[sq_head % FS] = 0; sq_head++
    :: else -> break
    od
}
inline cq_publish_head(v)
{
    do
    :: cq_head < v -> cq_slot[cq_head % CFS] = 0; cq_gen[cq_head % CFS] = 0; cq_tag[cq_head % CFS] = 0; cq_head++
    :: else -> break
    od
}

/* ===== process control: the Killer, the supervisor's reaping ===== */
bool kill_s, kill_c;       /* SIGKILL sent, not yet taken */
bool s_up = 1, c_up = 1;   /* the incarnation runs */
bool s_dead, c_dead;       /* died; not yet reaped and reclaimed */
bool s_respawn, c_respawn; /* reclaimed; to be restarted */
bool s_start, c_start;     /* spawned: the new incarnation runs */
byte sc, cc;               /* crashes so far */
byte next_epoch = 1;       /* sv.c: stamp_epochs() counter */

/* ===== ghosts: not in the code, what the properties talk about ===== */
byte cst[NCALLS];       /* K_* per call */
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
#define A_FREEWORD 3  /* reap_one(): store own = FREE{gen} on a PEER_DIED */

/* chan.c: reap_one() -- its private decisions, on the entry {i, g, t} just
 * popped; sets `a` to the shared step still to do, if any */
inline reap_decide()
{
    assert(i < NS); /* P6: chan.c: uipc__chan_reap() -- else -UIPC_EPROTO */
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
          :: else ->
             if
             :: t == TAG_PD -> /* complete_rec(-UIPC_EPEERDIED): READY */
                rstat[i] = ST_DIED; rst[i] = C_READY
             :: else -> a = A_READ
             fi
          fi
       fi
    fi;
    if
    :: t == TAG_PD && rgen[i] == g -> a2 = a; a = A_FREEWORD
    :: else -> skip
    fi;
    t = t /* (an inline needs a statement after #endif) */
}

active proctype Client()
{
    /* struct uipc_chan: private, lost on a crash */
    byte rst[NS];   /* recs[i].state */
    byte rgen[NS];  /* recs[i].gen */
    byte rcid[NS];  /* ghost: which call recs[i] is */
    byte rstat[NS]; /* recs[i].status */
    bit  rexp[NS];  /* recs[i].expired */
    byte fstk[NS];  /* ch->free_stack */
    byte nfree;     /* ch->nfree */
    byte sp, scached; /* ch->sub: producer pos, cached head */
    byte cp;          /* ch->cmp: consumer pos */
    byte i, g, t, e, k, id;
    byte a;           /* the next shared step of a multi-step operation */
    byte a2;          /* the step after A_FREEWORD */
    byte e0;          /* issue(): the epoch loaded before the SUBMITTED store */
    bit  rf;          /* ch->reap_first: reap before the next issue (finding 2) */

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
            :: k < FS && sq_seq[sp % FS] == sp + 1 -> sp++; k++
            :: else -> break
            od;
            /* fifo.c: uipc__fifo_attach_consumer(cmp): pos = head.  Glued:
             * only a client writes cq_head. */
            cp = cq_head;
            /* fifo.c: uipc__fifo_attach_producer(sub): cached = head.  Glued: an
             * older head only makes the full check load it again, same outcome */
            scached = sq_head;
            /* chan.c: uipc__chan_init(): reap_first, so a predecessor's
             * completions are consumed before this incarnation issues */
            rf = 1;
            k = NS
        };
        /* chan.c: recs_adopt(): one slot word at a time, from the last slot */
        do
        :: atomic {
               k > 0 ->
               k--;
               rgen[k] = own_gen[k];
               if
               :: own_st[k] == S_SUB || own_st[k] == S_SERV -> rst[k] = C_QUAR; held++
               :: else -> fstk[nfree] = k; nfree++ /* FREE, DONE: ours again */
               fi
           }
        :: else -> break
        od;

end_idle:
        do
        /* ---- chan.c: uipc_call() -> issue() ---- */
        :: atomic {
               calls < NCALLS && nfree > 0 && !rf ->
               /* chan.c: issue() -- the free stack's top */
               nfree--;
               i = fstk[nfree]; fstk[nfree] = 0;
               assert(rst[i] == C_FREE);
               id = calls; calls++;
               cst[id] = K_PEND; npending++;
               /* chan.c: issue() -- atomic_load(side[SERVER].epoch) before the
                * SUBMITTED store (finding 1); fill() before it is private */
               e0 = srv_epoch
           };
           atomic {
               /* chan.c: issue() -- fill() writes the payload, the header,
                * then atomic_store(own = SUBMITTED{gen + 1}) */
               g = rgen[i] + 1;
               assert(srv_using[i] == 0); /* P4 */
               data[i] = id + 1;
               own_gen[i] = g;
               own_st[i] = S_SUB
           };
           /* chan.c: issue() -- atomic_load(side[SERVER].epoch), seq_cst after the store */
           atomic {
               e = srv_epoch;
               rgen[i] = g;
               /* finding 1: another epoch than before the store means a reclaim
                * came in between: fail the call as if the service were down */
               if :: e != e0 -> e = 0 :: else -> skip fi;
               e0 = 0;
               a = 0
           };
           do
           :: atomic {
                  e == 0 ->
                  /* chan.c: issue() -- service down: slot_release() (store own = FREE{gen});
                   * -UIPC_EPEERDIED returned at once */
                  rst[i] = C_FREE; fstk[nfree] = i; nfree++;
                  rf = 1; /* a reclaim may have answered it: reap before the next issue */
                  own_st[i] = S_FREE; own_gen[i] = rgen[i];
                  tell_caller(id, ST_DIED);
                  i = 0; g = 0; id = 0
              };
              break
           :: atomic {
                  /* fifo.h: uipc__fifo_push(sub) -- the cache says full: load head */
                  e != 0 && a == 0 && sp - scached > FS - 1 ->
                  scached = sq_head;
                  assert(sp - scached <= FS - 1) /* P5 */
              }
           :: atomic {
                  /* fifo.h: uipc__fifo_push(sub) -- slot, gen, tag = epoch, then store-release seq */
                  e != 0 && a == 0 && sp - scached <= FS - 1 ->
                  sq_slot[sp % FS] = i; sq_gen[sp % FS] = g; sq_tag[sp % FS] = e;
                  sq_seq[sp % FS] = sp + 1;
                  sp++;
                  a = 1
              }
           :: atomic {
                  /* fifo.h: uipc__fifo_publish_tail(sub); chan.c: issue() -- rec INFLIGHT */
                  a == 1 ->
                  sq_tail = sp;
                  rst[i] = C_INFL; rcid[i] = id; rexp[i] = 0; held++;
                  i = 0; g = 0; e = 0; id = 0; a = 0
              };
              break
           od

        /* ---- chan.c: uipc__chan_reap() -> reap_one(), until the FIFO is empty ---- */
        :: atomic {
               /* fifo.h: uipc__fifo_pop(cmp) -- load-acquire seq == pos + 1, copy the entry once */
               cq_seq[cp % CFS] == cp + 1 ->
               i = cq_slot[cp % CFS]; g = cq_gen[cp % CFS]; t = cq_tag[cp % CFS];
               cp++;
               reap_decide()
           };
           do
           :: atomic {
                  /* chan.c: reap_one() -- a PEER_DIED of the record's generation:
                   * nobody writes into that slot any more, so its word is
                   * FREE{gen} at once, whatever the record does next (finding 3:
                   * a crash before the delivery leaves no quarantine behind) */
                  a == A_FREEWORD ->
                  own_st[i] = S_FREE; own_gen[i] = g;
                  a = a2; a2 = 0
              }
           :: atomic {
                  /* chan.c: reap_one() -> slot_release(): ABANDONED / QUARANTINE free again */
                  a == A_RELEASE ->
                  rst[i] = C_FREE; rexp[i] = 0; rcid[i] = 0; rstat[i] = 0;
                  fstk[nfree] = i; nfree++; held--;
                  own_st[i] = S_FREE; own_gen[i] = rgen[i];
                  a = 0
              }
           :: atomic {
                  /* chan.c: read_answer() -- load-acquire own == DONE{gen}, then the reply;
                   * complete_rec(): READY */
                  a == A_READ ->
                  assert(own_st[i] == S_DONE && own_gen[i] == g); /* P6 */
                  assert(data[i] == rcid[i] + 1);  /* P8 */
                  rstat[i] = ST_OK; rst[i] = C_READY;
                  a = 0
              }
           :: atomic {
                  /* fifo.h: uipc__fifo_pop(cmp) -- the next entry */
                  a == 0 && cq_seq[cp % CFS] == cp + 1 ->
                  i = cq_slot[cp % CFS]; g = cq_gen[cp % CFS]; t = cq_tag[cp % CFS];
                  cp++;
                  reap_decide()
              }
           :: atomic {
                  /* fifo.h: uipc__fifo_peek(cmp) -- empty (the previous lap's stamp, or 0);
                   * then uipc__fifo_publish_head(cmp).  Glued: the load is as if taken
                   * at the store; only the producer's full check reads head. */
                  a == 0 && cq_seq[cp % CFS] != cp + 1 ->
                  assert(cq_seq[cp % CFS] == 0 || cq_seq[cp % CFS] + CFS == cp + 1); /* P6 */
                  cq_publish_head(cp);
                  rf = 0;
                  i = 0; g = 0; t = 0
              };
              break
           od

        /* chan.c: issue() -> uipc__chan_reap() with reap_first set, and nothing
         * waiting: fifo.h: uipc__fifo_peek(cmp) -- empty; no head published */
        :: atomic {
               rf && cq_seq[cp % CFS] != cp + 1 ->
               assert(cq_seq[cp % CFS] == 0 || cq_seq[cp % CFS] + CFS == cp + 1); /* P6 */
               rf = 0
           }

        /* ---- chan.c: uipc__chan_deliver() / sync_wait() -> finish_rec() ---- */
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
               :: rexp[i] ->
                  /* chan.c: uipc__chan_deliver() -- expired: ABANDONED, the slot waits */
                  rst[i] = C_ABAND; rexp[i] = 0
               :: else ->
                  /* chan.c: finish_rec() -> slot_release(): store-release own = FREE{gen} */
                  rst[i] = C_FREE; rcid[i] = 0; rstat[i] = 0;
                  fstk[nfree] = i; nfree++; held--;
                  own_st[i] = S_FREE; own_gen[i] = rgen[i]
               fi;
               /* chan.c: complete(status), or uipc_call() returns status */
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
               :: /* chan.c: sync_wait() -- deadline: ABANDONED, -UIPC_ETIMEDOUT */
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
            :: k < NS -> rst[k] = 0; rgen[k] = 0; rcid[k] = 0; rstat[k] = 0; rexp[k] = 0; fstk[k] = 0; k++
            :: else -> break
            od;
            nfree = 0; sp = 0; scached = 0; cp = 0; held = 0;
            i = 0; g = 0; t = 0; e = 0; k = 0; id = 0; a = 0;
            e0 = 0; a2 = 0; rf = 0;
            c_dead = 1
        }
    };
end_dead:
    /* sv.c: sv_start_module() (bed.c: uipc__bed_start()): the next incarnation */
    atomic { c_start -> c_start = 0; c_up = 1 };
    goto cstart
}

/* ========================= the server (serve.c) ========================= */
active proctype Server()
{
    /* struct uipc_srv: private, lost on a crash */
    byte ep;           /* s->epoch */
    byte sp;           /* s->sub: consumer pos */
    byte cpp, ccached; /* s->cmp: producer pos, cached head */
    bit  busy[NS];     /* s->reqs[i].busy */
    byte bgen[NS];     /* s->reqs[i].gen */
    byte bcid[NS];     /* the request it read (call id + 1) */
    byte i, g, t, k, c;

sstart:
    {
        atomic {
            /* serve.c: uipc__srv_init() -- s->epoch = load-acquire(side[SERVER].epoch);
             * 0 would be -ESTALE.  Glued, with the two attaches: only the
             * supervisor writes the epoch, sq_head (drain) and the completion
             * tail and stamps (reclaim), and never while this server runs. */
            ep = srv_epoch;
            assert(ep != 0);
            /* fifo.c: uipc__fifo_attach_consumer(sub): pos = head */
            sp = sq_head;
            /* fifo.c: uipc__fifo_attach_producer(cmp): pos = head, skip stamped entries */
            cpp = cq_head;
            k = 0;
            do
            :: k < CFS && cq_seq[cpp % CFS] == cpp + 1 -> cpp++; k++
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
               sq_seq[sp % FS] == sp + 1 ->
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
              assert(i < NS); /* P6: serve.c -- else -UIPC_EPROTO, srv_break() */
              /* serve.c: take() -- busy, then load-acquire own == SUBMITTED{gen} */
              atomic { assert(!busy[i] && own_st[i] == S_SUB && own_gen[i] == g) } /* P6 */
              /* serve.c: take() -- store own = SERVING{gen}, read the request */
              atomic {
                  own_st[i] = S_SERV;
                  c = data[i];
                  busy[i] = 1; bgen[i] = g; bcid[i] = c;
                  srv_using[i] = c;
                  assert(c > 0 && cst[c - 1] != K_DIED) /* P7 */
              };
              /* fifo.h: uipc__fifo_publish_head(sub) -- after the SERVING mark */
              atomic { sq_head = sp; i = 0; g = 0; t = 0; c = 0 }
           fi
        :: atomic {
               /* fifo.h: uipc__fifo_peek(sub) -- a stamp neither ours nor the previous lap's */
               sq_seq[sp % FS] != sp + 1 && sq_seq[sp % FS] != 0 && sq_seq[sp % FS] + FS != sp + 1 ->
               assert(false) /* P6 */
           }

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
               /* serve.c: answer() -- status, rep_len, reply bytes, store-release own = DONE{gen} */
               assert(data[i] == bcid[i]); /* P4 */
               data[i] = bcid[i];
               g = bgen[i];
               busy[i] = 0; bgen[i] = 0; bcid[i] = 0;
               srv_using[i] = 0;
               own_st[i] = S_DONE; own_gen[i] = g
           };
           /* fifo.h: uipc__fifo_push(cmp) -- load head only when the cache says full */
           if
           :: cpp - ccached > CFS - 1 ->
              atomic { ccached = cq_head; assert(cpp - ccached <= CFS - 1) } /* P5 */
           :: else -> skip
           fi;
           /* fifo.h: uipc__fifo_push(cmp) -- {slot, gen, 0}, then store-release seq */
           atomic {
               cq_slot[cpp % CFS] = i; cq_gen[cpp % CFS] = g; cq_tag[cpp % CFS] = 0;
               cq_seq[cpp % CFS] = cpp + 1;
               cpp++
           };
           /* fifo.h: uipc__fifo_publish_tail(cmp) */
           atomic { cq_tail = cpp; i = 0; g = 0 }
        od
    } unless {
        atomic {
            kill_s ->
            /* SIGKILL: the incarnation and its private state are gone.
             * sv.c / bed.c reap it (waitid) before any reclaim. */
            kill_s = 0; s_up = 0;
            k = 0;
            do
            :: k < NS -> busy[k] = 0; bgen[k] = 0; bcid[k] = 0; srv_using[k] = 0; k++
            :: else -> break
            od;
            ep = 0; sp = 0; cpp = 0; ccached = 0;
            i = 0; g = 0; t = 0; k = 0; c = 0;
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
    byte p, k, q, qc, st, g, a;
    bit sent[NS];
    byte cov[NS];  /* reclaim_server(): per slot, the newest generation + 1
                    * among the completions still waiting; 0: none */

end_loop:
    do
    /* ---- reclaim.c: uipc__reclaim_server(), once the server is reaped ---- */
    :: atomic {
           s_dead ->
           s_dead = 0;
           /* reclaim.c: side_down() -- atomic_store(epoch = 0), seq_cst */
           srv_epoch = 0
       };
       atomic {
           /* reclaim.c: drain_submits() -- attach a consumer at head (checked
            * against the client's tail: an honest head always passes, so
            * the model keeps it), pop every stamped entry, publish head.
            * Glued: the client's concurrent push lands either before
            * (drained) or after (left); nothing else moves those words (the
            * only other consumer is dead). */
           p = sq_head;
           k = 0;
           do
           :: k < FS && sq_seq[p % FS] == p + 1 -> p++; k++
           :: else -> break
           od;
           sq_drain_publish_head(p);
           /* reclaim.c: uipc__reclaim_server() -> fifo.c: uipc__fifo_attach_producer(cmp):
            * pos = the client's head, skip stamped entries (glued: their only
            * writer is dead); cached = head */
           q = cq_head;
           k = 0;
           do
           :: k < CFS && cq_seq[q % CFS] == q + 1 -> q++; k++
           :: else -> break
           od;
           qc = cq_head;
           p = 0; k = 0; a = 0
       };
       atomic {
           /* reclaim.c: waiting_gens() -- load-acquire(completion head), then the
            * entries from there to q (finding 2).  Glued: the entries' only
            * writer is this reclaim (the server is dead), and the model
            * clears only fields behind head */
           p = cq_head;
           do
           :: p < q ->
              if
              :: cov[cq_slot[p % CFS]] < cq_gen[p % CFS] + 1 -> cov[cq_slot[p % CFS]] = cq_gen[p % CFS] + 1
              :: else -> skip
              fi;
              p++
           :: else -> break
           od;
           p = 0
       };
       do
       :: atomic {
              /* reclaim.c: uipc__reclaim_server() -- atomic_load(own) of slot k;
               * a completion of its generation still waiting answers it
               * already (finding 2) */
              k < NS && a == 0 ->
              st = own_st[k]; g = own_gen[k];
              if
              :: (st == S_SUB || st == S_SERV || st == S_DONE) && cov[k] != g + 1 -> a = 1; cov[k] = 0
              :: else -> k++; st = 0; g = 0; cov[k - 1] = 0
              fi
          }
       :: atomic {
              /* fifo.h: uipc__fifo_push(cmp) -- the cache says full: load head */
              a == 1 && q - qc > CFS - 1 ->
              qc = cq_head;
              assert(q - qc <= CFS - 1) /* P5: else -UIPC_EPROTO, the reclaim stops */
          }
       :: atomic {
              /* fifo.h: uipc__fifo_push(cmp) -- {slot, gen, PEER_DIED}, then seq */
              a == 1 && q - qc <= CFS - 1 ->
              cq_slot[q % CFS] = k; cq_gen[q % CFS] = g; cq_tag[q % CFS] = TAG_PD;
              cq_seq[q % CFS] = q + 1;
              q++;
              k++; st = 0; g = 0; a = 0
          }
       :: atomic {
              /* reclaim.c: uipc__reclaim_server() -> fifo.h: uipc__fifo_publish_tail(cmp);
               * uipc__notify() (not modelled) */
              k >= NS ->
              cq_tail = q;
              q = 0; qc = 0; k = 0; s_respawn = 1
          };
          break
       od

    /* ---- sv.c: sv_start_module() -> stamp_epochs(), then the new server runs ---- */
    :: atomic {
           s_respawn ->
           s_respawn = 0;
           next_epoch++;
           srv_epoch = next_epoch;
           s_start = 1
       }

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
           :: k < FS && sq_seq[p % FS] == p + 1 ->
              /* only an entry of the slot's current generation means that call
               * was sent (finding 4; the server, the word's only other writer
               * now, keeps its gen).  Glued: the client is dead. */
              if
              :: sq_gen[p % FS] == own_gen[sq_slot[p % FS]] -> sent[sq_slot[p % FS]] = 1
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

/* ====== the end: nothing but the Killer can move; the final checks ======
 * Every such state is checked, whatever crashes the Killer may still do.
 * The check changes nothing, so it adds no state to the search.  Remote
 * references: the pids are Client 0, Server 1, Supervisor 2 (declaration
 * order). */
#define CL(x) Client[0]:x
#define CLIENT_IDLE (Client[0]@end_idle && !(calls < NCALLS && CL(nfree) > 0) && \
                     cq_seq[CL(cp) % CFS] != CL(cp) + 1 && \
                     CL(rst[0]) != C_READY && !(tos < MAXTO && CL(rst[0]) == C_INFL) && \
                     CL(rst[NS - 1]) != C_READY && !(tos < MAXTO && CL(rst[NS - 1]) == C_INFL) && \
                     CL(rst[NS / 2]) != C_READY && !(tos < MAXTO && CL(rst[NS / 2]) == C_INFL))
#define SERVER_IDLE (Server[1]@end_serve && sq_seq[Server[1]:sp % FS] != Server[1]:sp + 1 && \
                     srv_using[0] == 0 && srv_using[NS - 1] == 0 && srv_using[NS / 2] == 0)
#define SUPERVISOR_IDLE (Supervisor[2]@end_loop && !s_dead && !c_dead && !s_respawn && !c_respawn)
#define SLOT_BACK(k) (CL(rst[k]) == C_FREE && (own_st[k] == S_FREE || own_st[k] == S_DONE))

active proctype Checker()
{
end_check:
    do
    :: atomic {
           CLIENT_IDLE && SERVER_IDLE && SUPERVISOR_IDLE && !kill_s && !kill_c ->
           assert(npending == 0);           /* P2 */
           assert(SLOT_BACK(0) && SLOT_BACK(NS - 1) && SLOT_BACK(NS / 2)); /* P3 */
#ifndef NO_P9
           /* P9: sv.c's hang check counts tail - head (mod 2^32) as waiting
            * work when it is 1..fifo_size; a tail behind head (a client that
            * died between stamping an entry and publishing tail) reads as
            * no work */
           assert(sq_tail <= sq_head);
#endif
           skip
       }
    :: timeout -> assert(false) /* stuck outside a quiet state (cannot happen: a safety net) */
    od
}

/* Liveness, checked with -a -f: eventually, and from then on, no living
 * caller waits and every slot is FREE in the client's table. */
ltl answered { <> [] (npending == 0 && held == 0) }
