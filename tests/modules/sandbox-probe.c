/* SPDX-License-Identifier: MIT */
/* A module that looks at its own sandbox and prints what it finds (its
 * output lands in the supervisor's log, where the tests read it), then
 * runs its loop.  PROBE selects what it does first:
 *
 *   idle     nothing
 *   socket   calls socket(): a syscall its policy does not allow
 *   view     pid, ppid, the pids it can see, its network interfaces,
 *            hostname, whether / and /tmp are writable
 *   fds      its own fds, and how many of other processes' fds it can open
 *   eat      allocates until malloc fails, then aborts */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uipc/module.h>

static void list_pids(void)
{
    char line[512] = "";
    size_t n = 0;
    DIR *d = opendir("/proc");
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
            n += (size_t)snprintf(line + n, n < sizeof(line) ? sizeof(line) - n : 0, " %s", e->d_name);
    if (d)
        closedir(d);
    printf("probe: pids:%s\n", line);
}

/* /proc/self/net/dev: two header lines, then one line per interface. */
static void list_interfaces(void)
{
    char buf[256], names[256] = "";
    FILE *f = fopen("/proc/self/net/dev", "re");
    for (int i = 0; f && fgets(buf, sizeof(buf), f); i++) {
        char *colon = strchr(buf, ':');
        if (i < 2 || !colon)
            continue;
        *colon = '\0';
        char *name = buf + strspn(buf, " ");
        snprintf(names + strlen(names), sizeof(names) - strlen(names), " %s", name);
    }
    if (f)
        fclose(f);
    printf("probe: interfaces:%s\n", names);
}

static const char *writable(const char *dir)
{
    char path[64];
    snprintf(path, sizeof(path), "%s/uipc-probe-XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0)
        return strerror(errno);
    close(fd);
    unlink(path);
    return "writable";
}

static void view(void)
{
    char host[65] = "";
    gethostname(host, sizeof(host) - 1);
    printf("probe: pid %d ppid %d uid %d gid %d hostname %s\n", (int)getpid(), (int)getppid(),
           (int)getuid(), (int)getgid(), host);
    list_pids();
    list_interfaces();
    printf("probe: root %s\n", writable(""));
    printf("probe: tmp %s\n", writable("/tmp"));
}

/* The parent of pid, from /proc/PID/stat ("pid (comm) state ppid ..."). */
static int parent_of(const char *pid)
{
    char path[300], buf[512];
    snprintf(path, sizeof(path), "/proc/%s/stat", pid);
    FILE *f = fopen(path, "re");
    int ppid = -1;
    if (f && fgets(buf, sizeof(buf), f)) {
        char *close_paren = strrchr(buf, ')');
        if (close_paren)
            sscanf(close_paren + 1, " %*c %d", &ppid);
    }
    if (f)
        fclose(f);
    return ppid;
}

/* Its own fds by target, then every fd of every other module of the same
 * supervisor (its siblings): how many it could open. */
static void fds(void)
{
    char path[300], target[256];
    DIR *d = opendir("/proc/self/fd");
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
            continue;
        snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        target[n > 0 ? n : 0] = '\0';
        printf("probe: fd %s -> %s\n", e->d_name, target);
    }
    if (d)
        closedir(d);
    unsigned tried = 0, opened = 0, procs = 0;
    DIR *p = opendir("/proc");
    for (struct dirent *e; p && (e = readdir(p));) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9' || atoi(e->d_name) == getpid() ||
            parent_of(e->d_name) != getppid())
            continue;
        procs++;
        for (int fd = 0; fd < 64; fd++) {
            snprintf(path, sizeof(path), "/proc/%s/fd/%d", e->d_name, fd);
            int r = open(path, O_RDONLY | O_CLOEXEC);
            tried++;
            if (r >= 0) {
                printf("probe: opened %s\n", path);
                opened++;
                close(r);
            }
        }
    }
    if (p)
        closedir(p);
    printf("probe: others' fds opened %u of %u tried in %u processes\n", opened, tried, procs);
}

static void eat(void)
{
    size_t total = 0;
    for (;;) {
        char *p = malloc(1 << 20);
        if (!p) {
            printf("probe: malloc failed after %zu MiB\n", total >> 20);
            fflush(stdout);
            abort();
        }
        memset(p, 1, 1 << 20);
        total += 1 << 20;
    }
}

int main(void)
{
    uipc_module *m;
    const char *what = getenv("PROBE");
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (uipc_module_open(&m) < 0)
        return 1;
    if (!what || strcmp(what, "idle") == 0)
        ;
    else if (strcmp(what, "socket") == 0)
        printf("probe: socket() returned %d\n", socket(AF_INET, SOCK_STREAM, 0));
    else if (strcmp(what, "view") == 0)
        view();
    else if (strcmp(what, "fds") == 0)
        fds();
    else if (strcmp(what, "eat") == 0)
        eat();
    printf("probe: done\n");
    return uipc_run(m) < 0 ? 1 : 0;
}
