/* SPDX-License-Identifier: MIT */
/* LD_PRELOAD'ed into modules that run under valgrind (tests/lib/svtest.c,
 * tests/valgrind.sh), and only there.  Valgrind 3.19 (Debian 12) does not
 * implement futex_waitv (syscall 449): every call fails with ENOSYS and
 * prints a five-line warning, so libmodule's wait (libmodule/wait.c,
 * sleep_on) would spin flat out and flood the supervisor's log.  Here the
 * call is emulated the way libmodule uses it: return at once (EAGAIN) if a
 * word no longer holds its expected value, else poll the words every
 * millisecond until one moves, the absolute deadline passes (ETIMEDOUT)
 * or a signal arrives (EINTR).  Every other system call goes to glibc's
 * syscall() untouched. */
#include <dlfcn.h>
#include <errno.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif

long syscall(long nr, ...);

static int moved(const struct futex_waitv *w, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (atomic_load((_Atomic uint32_t *)(uintptr_t)w[i].uaddr) != (uint32_t)w[i].val)
            return 1;
    return 0;
}

static long futex_waitv_poll(const struct futex_waitv *w, unsigned n, const struct timespec *abs,
                             clockid_t clk)
{
    for (;;) {
        if (moved(w, n)) {
            errno = EAGAIN;
            return -1;
        }
        struct timespec now, nap = { 0, 1000000 };
        if (abs) {
            clock_gettime(clk, &now);
            long long left = (long long)(abs->tv_sec - now.tv_sec) * 1000000000LL +
                             (abs->tv_nsec - now.tv_nsec);
            if (left <= 0) {
                errno = ETIMEDOUT;
                return -1;
            }
            if (left < nap.tv_nsec)
                nap.tv_nsec = (long)left;
        }
        if (nanosleep(&nap, NULL) < 0)
            return -1; /* EINTR */
    }
}

long syscall(long nr, ...)
{
    static long (*real)(long, ...);
    va_list ap;
    long a[6];
    va_start(ap, nr);
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if (nr == SYS_futex_waitv)
        return futex_waitv_poll((const struct futex_waitv *)a[0], (unsigned)a[1],
                                (const struct timespec *)a[3], (clockid_t)a[4]);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "syscall");
    return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
