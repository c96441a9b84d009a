/* SPDX-License-Identifier: MIT */
/* What the process benchmarks (crash.c, survival.c) share: the real
 * supervisor started with its log in a file, a results file shared with
 * their load module, and sorting their samples.  Each defines
 * UIPC_SUPERVISOR_PATH (bench/meson.build). */
#ifndef UIPC_BENCH_PROC_H
#define UIPC_BENCH_PROC_H

#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* uipc-supervisor --config conf, stdout and stderr into log. */
static inline pid_t start_supervisor(const char *conf, const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || dup2(fd, 2) < 0 || dup2(fd, 1) < 0)
            _exit(126);
        execl(UIPC_SUPERVISOR_PATH, "uipc-supervisor", "--config", conf, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* path made size zeroed bytes of mode (0666 for a load module that runs as
 * a uid of its own), mapped shared; NULL on failure. */
static inline void *map_results_file(const char *path, size_t size, mode_t mode)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod(fd, mode) < 0 || ftruncate(fd, (off_t)size) < 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return p == MAP_FAILED ? NULL : p;
}

static inline int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

#endif
