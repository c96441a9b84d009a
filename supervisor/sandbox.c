/* SPDX-License-Identifier: MIT */
/* Confining a module's process.  Runs in the forked child only, before
 * exec; every failure is returned with the step, never skipped. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "policy.h"
#include "sandbox.h"

#define TMP_OPTIONS "mode=1777,size=64m"

static const char *const step_names[SB_STEP_COUNT] = {
    [SB_USERNS_WAIT] = "user namespace id maps",
    [SB_USERNS_ROOT] = "user namespace: become its root",
    [SB_MOUNT_PRIVATE] = "mount: make / private",
    [SB_MOUNT_RDONLY] = "mount: read-only root",
    [SB_MOUNT_TMP] = "mount: private /tmp",
    [SB_MOUNT_KEEP] = "mount: the module's own directory under /tmp",
    [SB_MOUNT_PROC] = "mount: /proc",
    [SB_MOUNT_REACH] = "mount: the way to the module's program",
    [SB_MOUNT_WRITABLE] = "mount: writable paths",
    [SB_HOSTNAME] = "hostname",
    [SB_LOOPBACK] = "loopback up",
    [SB_INIT_FORK] = "pid namespace: fork under its init",
    [SB_RLIMIT] = "rlimits",
    [SB_GROUPS] = "setgroups",
    [SB_GID] = "setresgid",
    [SB_UID] = "setresuid",
    [SB_SECUREBITS] = "securebits",
    [SB_BOUNDING] = "capability bounding set",
    [SB_CAPS] = "capabilities",
    [SB_AMBIENT] = "ambient capabilities",
    [SB_NO_NEW_PRIVS] = "no_new_privs",
    [SB_SECCOMP] = "seccomp filter",
    [SB_STDIO] = "stdin/stdout/stderr",
    [SB_FDS] = "file descriptors",
    [SB_SETSID] = "setsid",
    [SB_HANDOFF] = "seccomp listener hand-off",
    [SB_EXEC] = "exec",
    [SB_OOM] = "oom_score_adj",
};

const char *sandbox_step_name(int step)
{
    return step > 0 && step < SB_STEP_COUNT && step_names[step] ? step_names[step] : "?";
}

#define STEP(s, call) do { *step = (s); if ((call) < 0) return -errno; } while (0)

/* Whether uid/gid may search directory st (a module has no supplementary
 * groups and no capability that overrides permissions). */
static bool searchable(const struct stat *st, uid_t uid, gid_t gid)
{
    if (st->st_uid == uid)
        return st->st_mode & S_IXUSR;
    if (st->st_gid == gid)
        return st->st_mode & S_IXGRP;
    return st->st_mode & S_IXOTH;
}

int sandbox_unreachable(const char *path, uid_t uid, gid_t gid, char *dir, size_t len)
{
    struct stat st;
    for (const char *slash = strchr(path + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        snprintf(dir, len, "%.*s", (int)(slash - path), path);
        if (stat(dir, &st) == 0 && !searchable(&st, uid, gid))
            return 1;
    }
    snprintf(dir, len, "/");
    return stat("/", &st) == 0 && !searchable(&st, uid, gid);
}

/* A mount point at at for the detached tree: a directory, or an empty
 * file for a file. */
static int make_mount_point(int tree, const char *at)
{
    struct stat st;
    if (fstat(tree, &st) < 0)
        return -1;
    if (S_ISDIR(st.st_mode))
        return mkdir(at, 0755) < 0 && errno != EEXIST ? -1 : 0;
    int fd = open(at, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    return fd < 0 ? -1 : close(fd);
}

/* Puts the detached tree at at, and closes it. */
static int attach(int tree, const char *at)
{
    int r = move_mount(tree, "", AT_FDCWD, at, MOVE_MOUNT_F_EMPTY_PATH);
    int e = errno;
    close(tree);
    errno = e;
    return r;
}

#define MAX_REACH 17 /* the program and up to 16 library directories */

/* The next step under dir on the way to each target under it, each once
 * (steps[]), cloned with what lies below it (trees[]) before dir is
 * covered by a tmpfs.  A step that does not exist is skipped.  Returns
 * how many. */
static unsigned clone_steps(const char *dir, char targets[][PATH_MAX], unsigned n, char steps[][PATH_MAX],
                            int *trees)
{
    unsigned k = 0;
    size_t dl = strlen(dir);
    for (unsigned i = 0; i < n; i++) {
        const char *t = targets[i];
        if (strncmp(t, dir, dl) != 0 || t[dl] != '/')
            continue;
        const char *next = strchr(t + dl + 1, '/');
        snprintf(steps[k], PATH_MAX, "%.*s", next ? (int)(next - t) : (int)strlen(t), t);
        bool seen = false;
        for (unsigned j = 0; j < k; j++)
            seen = seen || strcmp(steps[j], steps[k]) == 0;
        if (!seen && (trees[k] = open_tree(AT_FDCWD, steps[k], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE)) >= 0)
            k++;
    }
    return k;
}

/* dir, which the module's ids cannot search, becomes a read-only tmpfs
 * holding only the next step of the way to each target under it (each
 * cloned from the original, read-only like the rest): the module reaches
 * what it runs without seeing anything else there. */
static int overmount(const char *dir, char targets[][PATH_MAX], unsigned n)
{
    struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
    char child[MAX_REACH][PATH_MAX];
    int tree[MAX_REACH];
    unsigned k = clone_steps(dir, targets, n, child, tree);
    int r = mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k");
    for (unsigned j = 0; j < k; j++) {
        if (r == 0 && make_mount_point(tree[j], child[j]) == 0)
            r = attach(tree[j], child[j]);
        else
            close(tree[j]);
    }
    return r < 0 ? r : mount_setattr(AT_FDCWD, dir, 0, &ro, sizeof(ro));
}

/* What the module must reach: its program, and the library directories
 * of LD_LIBRARY_PATH (the loader looks there).  Returns how many. */
static unsigned reach_targets(const char *exec, char targets[][PATH_MAX])
{
    unsigned n = 0;
    snprintf(targets[n++], PATH_MAX, "%s", exec);
    const char *lib = getenv("LD_LIBRARY_PATH");
    for (const char *p = lib; p && *p && n < MAX_REACH; p += strcspn(p, ":"), p += *p == ':') {
        size_t len = strcspn(p, ":");
        if (len && p[0] == '/')
            snprintf(targets[n++], PATH_MAX, "%.*s", (int)len, p);
    }
    return n;
}

/* Makes every directory on the way to each target searchable for the
 * module's ids (a checkout in root's home, mode 0700, or in a mkdtemp
 * directory).  In a user namespace the owners of the host's files are not
 * mapped (stat shows the overflow id), and we are already the module's
 * ids there, so the kernel's own check answers (access, as no capability
 * of ours reaches unmapped owners). */
static int reach(char targets[][PATH_MAX], unsigned n, uid_t uid, gid_t gid, bool userns)
{
    struct stat st;
    char dir[PATH_MAX];
    for (unsigned i = 0; i < n; i++) {
        const char *t = targets[i];
        for (const char *slash = strchr(t + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
            snprintf(dir, sizeof(dir), "%.*s", (int)(slash - t), t);
            if (stat(dir, &st) < 0)
                break; /* a library directory that is not there */
            bool ok = userns ? access(dir, X_OK) == 0 : searchable(&st, uid, gid);
            if (!ok && overmount(dir, targets, n) < 0)
                return -1;
        }
    }
    return 0;
}

/* mkdir -p, for a writable path under the private /tmp. */
static int make_dirs(const char *path)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s", path);
    for (char *s = strchr(p + 1, '/');; s = strchr(s + 1, '/')) {
        if (s)
            *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            return -1;
        if (!s)
            return 0;
        *s = '/';
    }
}

/* Read-only everywhere but the writable paths, a private /tmp, the way to
 * the module's program open to its ids, and with a pid namespace a /proc
 * that shows only the module's own processes. */
static int mount_view(const struct sandbox *sb, int *step)
{
    struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
    static char targets[MAX_REACH][PATH_MAX], tops[MAX_REACH][PATH_MAX];
    int trees[MAX_REACH], rw[CONF_MAX_LIST];
    unsigned n = reach_targets(sb->exec, targets);
    STEP(SB_MOUNT_PRIVATE, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
    /* Cloned before the read-only pass: they stay writable. */
    for (unsigned i = 0; i < sb->nwritable; i++)
        STEP(SB_MOUNT_WRITABLE, rw[i] = open_tree(AT_FDCWD, sb->writable[i],
                                                   OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
    STEP(SB_MOUNT_RDONLY, mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &ro, sizeof(ro)));
    /* A module installed under /tmp (a checkout there, say) would vanish
     * under its private /tmp, and so would its libraries: the top
     * directory there, "/tmp/NAME", of each way is carried over,
     * read-only like the rest. */
    unsigned ntops = clone_steps("/tmp", targets, n, tops, trees);
    /* New mounts after the read-only pass stay writable. */
    STEP(SB_MOUNT_TMP, mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, TMP_OPTIONS));
    for (unsigned i = 0; i < ntops; i++)
        STEP(SB_MOUNT_KEEP, make_mount_point(trees[i], tops[i]) < 0 ? -1 : attach(trees[i], tops[i]));
    bool userns = sb->namespaces & CLONE_NEWUSER;
    if (sb->set_ids || userns)
        STEP(SB_MOUNT_REACH, reach(targets, n, sb->uid, sb->gid, userns));
    for (unsigned i = 0; i < sb->nwritable; i++) {
        const char *w = sb->writable[i];
        if (strncmp(w, "/tmp/", 5) == 0)
            STEP(SB_MOUNT_WRITABLE, make_dirs(w));
        STEP(SB_MOUNT_WRITABLE, attach(rw[i], w));
    }
    if (sb->namespaces & CLONE_NEWPID)
        STEP(SB_MOUNT_PROC, mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL));
    return 0;
}

static int loopback_up(void)
{
    struct ifreq ifr = { .ifr_name = "lo" };
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int r = ioctl(fd, SIOCGIFFLAGS, &ifr);
    if (r == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        r = ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    int e = errno;
    close(fd);
    errno = e;
    return r;
}

int sandbox_namespaces(const struct sandbox *sb, int *step)
{
    int r;
    if ((sb->namespaces & CLONE_NEWNS) && (r = mount_view(sb, step)) < 0)
        return r;
    if (sb->namespaces & CLONE_NEWUTS)
        STEP(SB_HOSTNAME, sethostname(sb->name, strlen(sb->name)));
    if (sb->namespaces & CLONE_NEWNET)
        STEP(SB_LOOPBACK, loopback_up());
    return 0;
}

static int set_rlimits(const struct sandbox *sb)
{
    static const int resource[RL_COUNT] = {
        [RL_MEMORY] = RLIMIT_AS, [RL_NOFILE] = RLIMIT_NOFILE, [RL_NPROC] = RLIMIT_NPROC,
        [RL_CPU] = RLIMIT_CPU, [RL_CORE] = RLIMIT_CORE,
    };
    for (int i = 0; i < RL_COUNT; i++) {
        if (sb->rlimit[i] == CONF_RLIM_UNSET)
            continue;
        struct rlimit rl = { (rlim_t)sb->rlimit[i], (rlim_t)sb->rlimit[i] }, now;
        /* infinity, and a default: at most the supervisor's own hard
         * limit, which raising past would need CAP_SYS_RESOURCE (valgrind,
         * a container without it, a systemd LimitNOFILE=).  A value the
         * config asks for fails the start instead. */
        bool at_most = sb->rlimit[i] == CONF_RLIM_INFINITY || (sb->rlimit_default & (1u << i));
        if (at_most && getrlimit(resource[i], &now) == 0 &&
            (sb->rlimit[i] == CONF_RLIM_INFINITY || rl.rlim_max > now.rlim_max))
            rl.rlim_cur = rl.rlim_max = now.rlim_max;
        if (setrlimit(resource[i], &rl) < 0)
            return -1;
    }
    return 0;
}

/* Root keeps no capabilities across exec but those in the ambient set
 * (SECBIT_NOROOT), and a uid change leaves the sets alone
 * (SECBIT_NO_SETUID_FIXUP), so the drop below is the only one; all locked. */
#define SECUREBITS (SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP | \
                    SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED)

static int drop_bounding(uint64_t keep)
{
    for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++)
        if (!(keep & (1ull << c)) && cap_drop_bound(c) < 0)
            return -1;
    return 0;
}

static int set_caps(uint64_t keep)
{
    cap_t caps = cap_init();
    if (!caps)
        return -1;
    for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++) {
        if (!(keep & (1ull << c)))
            continue;
        cap_set_flag(caps, CAP_EFFECTIVE, 1, &c, CAP_SET);
        cap_set_flag(caps, CAP_PERMITTED, 1, &c, CAP_SET);
        cap_set_flag(caps, CAP_INHERITABLE, 1, &c, CAP_SET);
    }
    int r = cap_set_proc(caps);
    int e = errno;
    cap_free(caps);
    errno = e;
    return r;
}

static int set_ambient(uint64_t keep)
{
    if (cap_reset_ambient() < 0)
        return -1;
    for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++)
        if ((keep & (1ull << c)) && cap_set_ambient(c, CAP_SET) < 0)
            return -1;
    return 0;
}

bool sandbox_privileged(void)
{
    cap_t caps = cap_get_proc();
    cap_flag_value_t v = CAP_CLEAR;
    if (caps)
        cap_get_flag(caps, CAP_SETPCAP, CAP_EFFECTIVE, &v);
    cap_free(caps);
    return v == CAP_SET;
}

int sandbox_restrict(const struct sandbox *sb, int *step)
{
    bool userns = sb->namespaces & CLONE_NEWUSER;
    /* In a user namespace the module is its root, mapped to uid/gid outside. */
    uid_t uid = userns ? 0 : sb->uid;
    gid_t gid = userns ? 0 : sb->gid;
    /* An unprivileged supervisor has no capabilities to give away: its
     * modules have none either, and no_new_privs keeps them from gaining
     * any, but it cannot lock securebits, drop its groups or shrink the
     * bounding set.  Asked-for ids and capabilities still fail the start. */
    bool privileged = sandbox_privileged();

    STEP(SB_RLIMIT, set_rlimits(sb));
    if (privileged)
        STEP(SB_SECUREBITS, cap_set_secbits(SECUREBITS));
    if (privileged && !userns) /* in a user namespace setgroups is denied, the groups already gone */
        STEP(SB_GROUPS, setgroups(0, NULL));
    if (sb->set_ids || userns) {
        STEP(SB_GID, setresgid(gid, gid, gid));
        STEP(SB_UID, setresuid(uid, uid, uid));
    }
    if (privileged)
        STEP(SB_BOUNDING, drop_bounding(sb->caps));
    STEP(SB_CAPS, set_caps(sb->caps));
    STEP(SB_AMBIENT, set_ambient(sb->caps));
    STEP(SB_NO_NEW_PRIVS, prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    return 0;
}

int sandbox_seccomp(const struct sandbox *sb)
{
    policy_bind_self(sb->prog, getpid());
    long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, sb->prog);
    return fd < 0 ? -errno : (int)fd;
}
