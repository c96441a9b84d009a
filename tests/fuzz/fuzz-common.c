/* SPDX-License-Identifier: MIT */
/* The fuzz targets' scratch directory and checks (fuzz-common.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz-common.h"

#ifndef FUZZ_POLICY_DIR
#error "FUZZ_POLICY_DIR: the source tree's policies/ (tests/fuzz/meson.build)"
#endif

static char scratch[PATH_MAX];
static pid_t owner;

void fuzz_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void scratch_remove(void)
{
    if (scratch[0] && getpid() == owner)
        nftw(scratch, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_scratch_init(const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    char tmpl[PATH_MAX];
    snprintf(tmpl, sizeof(tmpl), "%s/uipc-fuzz-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
    if (!mkdtemp(tmpl))
        fuzz_die("mkdtemp %s: %s", tmpl, strerror(errno));
    if (!realpath(tmpl, scratch))
        fuzz_die("realpath %s: %s", tmpl, strerror(errno));
    owner = getpid();
    atexit(scratch_remove);
    return scratch;
}

const char *fuzz_scratch(void)
{
    return scratch;
}

const char *fuzz_path(const char *rel)
{
    static char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s/%s", scratch, rel);
    return buf;
}

void fuzz_write(const char *rel, const void *data, size_t len, mode_t mode)
{
    const char *path = fuzz_path(rel);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        fuzz_die("open %s: %s", path, strerror(errno));
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fd, (const char *)data + done, len - done);
        if (n <= 0)
            fuzz_die("write %s: %s", path, strerror(errno));
        done += (size_t)n;
    }
    if (fchmod(fd, mode) < 0)
        fuzz_die("chmod %s: %s", path, strerror(errno));
    close(fd);
}

void fuzz_copy_policies(const char *reldir)
{
    if (mkdir(fuzz_path(reldir), 0755) < 0 && errno != EEXIST)
        fuzz_die("mkdir %s: %s", fuzz_path(reldir), strerror(errno));
    DIR *d = opendir(FUZZ_POLICY_DIR);
    if (!d)
        fuzz_die("%s: %s", FUZZ_POLICY_DIR, strerror(errno));
    unsigned n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 8 || strcmp(e->d_name + len - 7, ".policy") != 0)
            continue;
        char src[PATH_MAX], dst[PATH_MAX], buf[65536];
        snprintf(src, sizeof(src), "%s/%s", FUZZ_POLICY_DIR, e->d_name);
        snprintf(dst, sizeof(dst), "%s/%s", reldir, e->d_name);
        FILE *f = fopen(src, "re");
        if (!f)
            fuzz_die("%s: %s", src, strerror(errno));
        size_t got = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        fuzz_write(dst, buf, got, 0644);
        n++;
    }
    closedir(d);
    if (n == 0)
        fuzz_die("no *.policy in %s", FUZZ_POLICY_DIR);
}
