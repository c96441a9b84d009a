/* SPDX-License-Identifier: MIT */
/* A module that tries to get out of its sandbox, every way an outside
 * review found or we know of, and prints one line per attempt:
 *
 *   escape: NAME: refused (ERRNO)      what the sandbox must say
 *   escape: NAME: ESCAPED              what a test must never see
 *
 * Nothing it does would hurt if it worked: signals are signal 0 (the
 * permission check alone), files are opened but not written, a file it
 * managed to create is removed, memory is only reserved.  Its parent is
 * the supervisor (no pid namespace); a sibling is another child of it.
 * Then it runs its loop. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uipc/module.h>

static unsigned escaped;

/* r < 0 with errno: refused; anything else: it worked. */
static void report(const char *what, long r)
{
    if (r < 0) {
        printf("escape: %s: refused (%s)\n", what, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
        return;
    }
    printf("escape: %s: ESCAPED\n", what);
    escaped++;
}

static long open_and_close(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    return fd;
}

/* Read from /proc, not asked of the kernel: getppid(), getuid() and
 * listing /proc are more than the default policy allows. */
static long proc_field(const char *path, const char *key)
{
    char buf[4096];
    long v = -1;
    FILE *f = fopen(path, "re");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *at = key ? strstr(buf, key) : strrchr(buf, ')');
    if (at && key)
        sscanf(at + strlen(key), " %ld", &v);
    else if (at)
        sscanf(at + 1, " %*c %ld", &v); /* /proc/PID/stat: ") STATE PPID" */
    return v;
}

/* Another child of our parent: /proc/PPID/task/PPID/children. */
static pid_t sibling(pid_t parent)
{
    char path[96];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)parent, (int)parent);
    FILE *f = fopen(path, "re");
    long pid = 0, found = 0;
    while (f && !found && fscanf(f, " %ld", &pid) == 1)
        if (pid != getpid())
            found = pid;
    if (f)
        fclose(f);
    return (pid_t)found;
}

static void signals(pid_t sv, pid_t sib)
{
    report("tgkill the supervisor", syscall(SYS_tgkill, sv, sv, 0));
    report("kill the supervisor", kill(sv, 0));
    report("rt_sigqueueinfo the supervisor", syscall(SYS_rt_sigqueueinfo, sv, 0, NULL));
    if (sib > 0) {
        report("tgkill a sibling", syscall(SYS_tgkill, sib, sib, 0));
        report("kill a sibling", kill(sib, 0));
    }
}

static void files(pid_t sv, pid_t sib)
{
    char path[64];
    report("open /etc/passwd for writing", open_and_close("/etc/passwd", O_WRONLY | O_APPEND));
    report("read /etc/shadow", open_and_close("/etc/shadow", O_RDONLY));
    long r = open_and_close("/etc/uipc-escape-probe", O_WRONLY | O_CREAT | O_EXCL);
    if (r >= 0)
        unlink("/etc/uipc-escape-probe");
    report("create a file in /etc", r);
    report("open /proc/sys/kernel/core_pattern for writing",
           open_and_close("/proc/sys/kernel/core_pattern", O_WRONLY));
    snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)sv);
    report("open the supervisor's oom_score_adj for writing", open_and_close(path, O_WRONLY));
    if (sib > 0) {
        snprintf(path, sizeof(path), "/proc/%d/mem", (int)sib);
        report("open a sibling's /proc/PID/mem", open_and_close(path, O_RDWR));
    }
}

static void processes(pid_t sv)
{
    report("ptrace the supervisor", ptrace(PTRACE_ATTACH, sv, NULL, NULL));
    char byte = 0;
    struct iovec local = { &byte, 1 }, remote = { &byte, 1 };
    report("process_vm_writev to the supervisor", process_vm_writev(sv, &local, 1, &remote, 1, 0));
    report("setpriority of the supervisor", setpriority(PRIO_PROCESS, (id_t)sv, 19));
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    if (child > 0)
        waitpid(child, NULL, 0);
    report("fork", child);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0)
        close(fd);
    report("socket", fd);
}

static void memory(void)
{
    size_t big = (size_t)64 << 30;
    void *p = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED)
        munmap(p, big);
    report("map 64 GiB", p == MAP_FAILED ? -1 : 0);
}

int main(void)
{
    uipc_module *m;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (uipc_module_open(&m) < 0)
        return 1;
    pid_t sv = (pid_t)proc_field("/proc/self/stat", NULL), sib = sibling(sv);
    printf("escape: supervisor %d, sibling %d, uid %ld\n", (int)sv, (int)sib,
           proc_field("/proc/self/status", "Uid:"));
    signals(sv, sib);
    files(sv, sib);
    processes(sv);
    memory();
    printf("escape: done, %u escaped\n", escaped);
    return uipc_run(m) < 0 ? 1 : 0;
}
