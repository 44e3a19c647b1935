/*
 * cmd_volume.c — `cairnctl volume create | list`, `conflicts list`, `repl status`.
 */
#include "ctl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int volume_create(struct ctl *x, int argc, char **argv)
{
    const char *dur = NULL;
    if (ctl_opt(x, &argc, argv, "--durability", &dur) < 0 || argc != 1)
        return ctl_usage(&cmd_volume[0]);
    int rv;
    if ((rv = ctl_connect(x)) != 0)
        return rv;
    if ((rv = cairn_volume_create(x->c, argv[0], dur)) == -EOPNOTSUPP) {
        fprintf(stderr,
                "cairnctl: volume create %.255s: --durability %s needs replication to peers, "
                "which this release does not have (use local)\n",
                argv[0], dur);
        return 1;
    } else if (rv != 0) {
        char what[300];
        snprintf(what, sizeof what, "volume create %.255s", argv[0]);
        return ctl_fail(what, rv);
    }
    return 0;
}

struct listing {
    struct ctl *x;
    int n;
};

static int volume_row(void *ctx, const cairn_volume_info_t *vi)
{
    struct listing *l = ctx;
    if (l->x->json) {
        printf("%s{\"name\":", l->n ? "," : "[");
        ctl_json_str(stdout, vi->name);
        printf(",\"id\":\"%s\",\"durability\":\"%s\",\"chunks\":%u,\"capacity\":%llu,"
               "\"used\":%llu,\"read_only\":%s}",
               vi->id, vi->durability, vi->chunks, (unsigned long long)vi->capacity,
               (unsigned long long)vi->used, vi->read_only ? "true" : "false");
    } else {
        char b1[16], b2[16];
        if (l->n == 0)
            printf("%-20s %-12s %6s %9s %9s  %s\n", "VOLUME", "DURABILITY", "CHUNKS", "CAPACITY",
                   "USED", "STATE");
        printf("%-20s %-12s %6u %9s %9s  %s\n", vi->name, vi->durability, vi->chunks,
               ctl_size(vi->capacity, b1), ctl_size(vi->used, b2),
               vi->read_only ? "read-only (failed flush)" : "ok");
    }
    l->n++;
    return 0;
}

static int volume_list(struct ctl *x, int argc, char **argv)
{
    (void)argv;
    if (argc != 0)
        return ctl_usage(&cmd_volume[1]);
    int rv;
    if ((rv = ctl_connect(x)) != 0)
        return rv;
    struct listing l = {x, 0};
    rv = cairn_volume_list(x->c, volume_row, &l);
    if (x->json)
        printf(l.n ? "]\n" : "[]\n");
    return rv ? ctl_fail("volume list", rv) : 0;
}

/* One node has no peers, so no conflicts and no replication lag exist yet;
 * the commands answer that truthfully (after checking the volume/daemon). */
static int conflicts_list(struct ctl *x, int argc, char **argv)
{
    if (argc != 1)
        return ctl_usage(&cmd_volume[2]);
    int rv;
    cairn_statfs_t st;
    if ((rv = ctl_connect(x)) != 0)
        return rv;
    if ((rv = cairn_statfs(x->c, argv[0], &st)) != 0)
        return ctl_fail("conflicts list", rv);
    if (x->json)
        printf("[]\n");
    else
        printf("%-40s %-12s %s\n", "PATH", "NODE", "TIME");
    return 0;
}

static int repl_status(struct ctl *x, int argc, char **argv)
{
    (void)argv;
    if (argc != 0)
        return ctl_usage(&cmd_volume[3]);
    int rv;
    cairn_node_status_t st;
    if ((rv = ctl_connect(x)) != 0)
        return rv;
    if ((rv = cairn_node_status(x->c, &st)) != 0)
        return ctl_fail("repl status", rv);
    if (x->json)
        printf("[]\n");
    else
        printf("%-10s %-8s %10s %10s %s\n", "PEER", "VOLUME", "RECORDS", "BYTES", "OLDEST");
    return 0;
}

const struct cmd cmd_volume[] = {
    {"volume", "create", "NAME [--durability local|replicas=N]", "create a volume", volume_create},
    {"volume", "list", "", "list volumes with their chunks and usage", volume_list},
    {"conflicts", "list", "VOLUME", "concurrent writes kept as .conflict siblings", conflicts_list},
    {"repl", "status", "", "replication lag per peer", repl_status},
    {NULL, NULL, NULL, NULL, NULL},
};
