/* SPDX-License-Identifier: MIT */
/* uipc-launch: starts module programs wired by channels, through the test
 * bed, until the supervisor exists to do it from a config file.
 *   uipc-launch NAME=PROGRAM... -c CLIENT:SERVICE:SERVER... -w NAME
 * Runs until module NAME exits, stops the others with SIGTERM, and exits
 * with NAME's exit code. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "bed.h"

#define MAX_MODS 16

struct launch {
    struct uipc_bed *bed;
    char *names[MAX_MODS];
    char *argv[MAX_MODS][2];
    int ids[MAX_MODS];
    int n;
};

static int find(const struct launch *l, const char *name)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->names[i], name) == 0)
            return l->ids[i];
    return -1;
}

static int add_module(struct launch *l, char *spec)
{
    char *eq = strchr(spec, '=');
    if (!eq || eq == spec || !eq[1] || l->n == MAX_MODS)
        return -EINVAL;
    *eq = '\0';
    l->names[l->n] = spec;
    l->argv[l->n][0] = eq + 1;
    l->argv[l->n][1] = NULL;
    l->ids[l->n] = uipc__bed_module_exec(l->bed, spec, l->argv[l->n]);
    return l->ids[l->n] < 0 ? l->ids[l->n] : (l->n++, 0);
}

static int add_channel(struct launch *l, char *spec)
{
    char *svc = strchr(spec, ':');
    char *srv = svc ? strchr(svc + 1, ':') : NULL;
    if (!srv)
        return -EINVAL;
    *svc++ = '\0';
    *srv++ = '\0';
    int c = find(l, spec), s = find(l, srv);
    if (c < 0 || s < 0)
        return -ENOENT;
    int r = uipc__bed_channel(l->bed, c, s, svc, 0, 0);
    return r < 0 ? r : 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: uipc-launch NAME=PROGRAM... -c CLIENT:SERVICE:SERVER... -w NAME\n");
    return 2;
}

static int run(struct launch *l, int waited)
{
    int st = 0, err = uipc__bed_start_all(l->bed);
    if (err < 0) {
        fprintf(stderr, "uipc-launch: start: %s\n", strerror(-err));
        return 1;
    }
    for (;;) {
        int who = uipc__bed_wait(l->bed, -1, -1, &st);
        if (who < 0)
            return 1;
        if (who == waited)
            break;
        fprintf(stderr, "uipc-launch: a module exited early (status %#x)\n", st);
    }
    for (int i = 0; i < l->n; i++)
        if (uipc__bed_kill(l->bed, l->ids[i], SIGTERM) == 0)
            uipc__bed_wait(l->bed, l->ids[i], 3000, NULL);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv)
{
    struct launch l = { 0 };
    const char *wait_name = NULL;
    if (uipc__bed_new(&l.bed) < 0)
        return 1;
    for (int i = 1; i < argc; i++) {
        int err = 0;
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            err = add_channel(&l, argv[++i]);
        else if (strcmp(argv[i], "-w") == 0 && i + 1 < argc)
            wait_name = argv[++i];
        else if (argv[i][0] != '-')
            err = add_module(&l, argv[i]);
        else
            return usage();
        if (err < 0) {
            fprintf(stderr, "uipc-launch: %s: %s\n", argv[i], strerror(-err));
            return 2;
        }
    }
    int waited = wait_name ? find(&l, wait_name) : -1;
    if (waited < 0)
        return usage();
    int code = run(&l, waited);
    uipc__bed_free(l.bed);
    return code;
}
