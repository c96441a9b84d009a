/* SPDX-License-Identifier: MIT */
/* uipc-chaos's clock: monotonic milliseconds, and sleeps that an
 * interrupt (SIGINT, SIGTERM) cuts short where the run should end early. */
#include <signal.h>
#include <time.h>

#include "chaos.h"

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

void chaos_catch_signals(void)
{
    signal(SIGINT, on_interrupt);
    signal(SIGTERM, on_interrupt);
    signal(SIGPIPE, SIG_IGN);
}

bool chaos_interrupted(void)
{
    return interrupted;
}

uint64_t chaos_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void chaos_sleep_ms(unsigned ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

void chaos_sleep_until(uint64_t when, bool interruptible)
{
    for (uint64_t now = chaos_now_ms(); now < when && !(interruptible && interrupted); now = chaos_now_ms())
        chaos_sleep_ms((unsigned)chaos_min(when - now, interruptible ? 50 : UINT32_MAX));
}
