/*
 * cmd_snapshot.c — `cairnctl snapshot create VOL NAME | snapshot list VOL`.
 */
#include "ctl.h"

#include <string.h>

static int snapshot_create(struct ctl *x, int argc, char **argv)
{
    if (argc != 2)
        return ctl_usage(&cmd_snapshot[0]);
    cairn_at_t at;
    if (cairn_parse_at(argv[1], &at) != 0 || !at.snapshot) {
        /* --at and asof= would read it as a time: it could never be named */
        fprintf(stderr, "cairnctl: snapshot name '%s' reads as a time; choose another\n", argv[1]);
        return 2;
    }
    int rv;
    if ((rv = ctl_connect(x)) != 0)
        return rv;
    if ((rv = cairn_snapshot_create(x->c, argv[0], argv[1])) != 0)
        return ctl_fail("snapshot create", rv);
    return 0;
}

struct listing {
    struct ctl *x;
    int n;
};

static int snap_row(void *ctx, const char *name, int64_t time_ms, uint64_t hlc)
{
    struct listing *l = ctx;
    char tb[32];
    if (l->x->json) {
        printf("%s{\"name\":", l->n ? "," : "[");
        ctl_json_str(stdout, name);
        printf(",\"time_ms\":%lld,\"hlc\":\"%llu\"}", (long long)time_ms, (unsigned long long)hlc);
    } else {
        if (l->n == 0)
            printf("%-24s %s\n", "SNAPSHOT", "TIME (UTC)");
        printf("%-24s %s.%03lld\n", name, ctl_time(time_ms * 1000000, tb),
               (long long)(time_ms % 1000));
    }
    l->n++;
    return 0;
}

static int snapshot_list(struct ctl *x, int argc, char **argv)
{
    if (argc != 1)
        return ctl_usage(&cmd_snapshot[1]);
    int rv;
    if ((rv = ctl_connect(x)) != 0)
        return rv;
    struct listing l = {x, 0};
    rv = cairn_snapshot_list(x->c, argv[0], snap_row, &l);
    if (x->json)
        printf(l.n ? "]\n" : "[]\n");
    return rv ? ctl_fail("snapshot list", rv) : 0;
}

const struct cmd cmd_snapshot[] = {
    {"snapshot", "create", "VOLUME NAME", "record the volume's current state as NAME",
     snapshot_create},
    {"snapshot", "list", "VOLUME", "list a volume's snapshots", snapshot_list},
    {NULL, NULL, NULL, NULL, NULL},
};
