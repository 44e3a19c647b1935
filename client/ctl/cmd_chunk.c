/*
 * cmd_chunk.c — `cairnctl chunk create | list | assign`.
 */
#include "ctl.h"

#include "cairn_size.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct listing {
    struct ctl *x;
    int n;
};

static int chunk_row(void *ctx, const cairn_chunk_info_t *ci)
{
    struct listing *l = ctx;
    if (l->x->json) {
        printf("%s{\"id\":\"%s\",\"number\":%u,\"capacity\":%llu,\"used\":%llu,\"volume\":",
               l->n ? "," : "[", ci->id, ci->number, (unsigned long long)ci->capacity,
               (unsigned long long)ci->used);
        ctl_json_str(stdout, ci->volume);
        printf("}");
    } else {
        char b1[16], b2[16];
        if (l->n == 0)
            printf("%-32s %6s %9s %9s  %s\n", "CHUNK", "NUMBER", "CAPACITY", "USED", "VOLUME");
        printf("%-32s %6u %9s %9s  %s\n", ci->id, ci->number, ctl_size(ci->capacity, b1),
               ctl_size(ci->used, b2), ci->volume[0] ? ci->volume : "-");
    }
    l->n++;
    return 0;
}

static void listing_end(struct listing *l)
{
    if (l->x->json)
        printf(l->n ? "]\n" : "[]\n");
}

static int chunk_create(struct ctl *x, int argc, char **argv)
{
    const char *count_s = NULL, *size_s = NULL;
    if (ctl_opt(x, &argc, argv, "--count", &count_s) < 0 ||
        ctl_opt(x, &argc, argv, "--size", &size_s) < 0 || argc != 0)
        return ctl_usage(&cmd_chunk[0]);
    unsigned long count = 1;
    uint64_t size = 0;
    char *end;
    if (count_s && ((count = strtoul(count_s, &end, 10)) == 0 || *end || count > 1024)) {
        fprintf(stderr, "cairnctl: --count must be 1..1024\n");
        return 2;
    }
    if (size_s && (cairn_parse_size(size_s, &size) != 0 || size == 0)) {
        fprintf(stderr, "cairnctl: --size '%s' is not a size (e.g. 64M, 8G)\n", size_s);
        return 2;
    }
    int rv;
    if ((rv = ctl_connect(x)) != 0)
        return rv;
    struct listing l = {x, 0};
    rv = cairn_chunk_create(x->c, (unsigned)count, size, chunk_row, &l);
    listing_end(&l);
    return rv ? ctl_fail("chunk create", rv) : 0;
}

static int chunk_list(struct ctl *x, int argc, char **argv)
{
    (void)argv;
    if (argc != 0)
        return ctl_usage(&cmd_chunk[1]);
    int rv;
    if ((rv = ctl_connect(x)) != 0)
        return rv;
    struct listing l = {x, 0};
    rv = cairn_chunk_list(x->c, chunk_row, &l);
    listing_end(&l);
    return rv ? ctl_fail("chunk list", rv) : 0;
}

static int chunk_assign(struct ctl *x, int argc, char **argv)
{
    if (argc != 2)
        return ctl_usage(&cmd_chunk[2]);
    int rv;
    if ((rv = ctl_connect(x)) != 0)
        return rv;
    if ((rv = cairn_chunk_assign(x->c, argv[0], argv[1])) != 0) {
        char what[128];
        snprintf(what, sizeof what, "chunk assign %.40s %.60s", argv[0], argv[1]);
        return ctl_fail(what, rv);
    }
    return 0;
}

const struct cmd cmd_chunk[] = {
    {"chunk", "create", "[--count N] [--size SIZE]", "create chunks on this node", chunk_create},
    {"chunk", "list", "", "list this node's chunks", chunk_list},
    {"chunk", "assign", "CHUNK VOLUME", "give a free chunk to a volume", chunk_assign},
    {NULL, NULL, NULL, NULL, NULL},
};
