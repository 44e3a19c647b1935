/*
 * cmd_node.c — `cairnctl node status | node reindex` and `member list`.
 */
#include "ctl.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

static int node_status(struct ctl *x, int argc, char **argv)
{
    (void)argv;
    if (argc != 0)
        return ctl_usage(&cmd_node[0]);
    cairn_node_status_t st;
    int rv;
    if ((rv = ctl_connect(x)) != 0)
        return rv;
    if ((rv = cairn_node_status(x->c, &st)) != 0)
        return ctl_fail("node status", rv);
    if (x->json) {
        printf("{\"node_id\":%u,\"name\":", st.node_id);
        ctl_json_str(stdout, st.name);
        printf(",\"version\":");
        ctl_json_str(stdout, st.version);
        printf(",\"data_dir\":");
        ctl_json_str(stdout, st.data_dir);
        printf(",\"uptime_s\":%llu,\"chunks\":%u,\"volumes\":%u,\"index_bytes\":%llu,"
               "\"bytes_appended\":%llu,\"flushes\":%llu,\"checksum_errors\":%llu,"
               "\"index_lost\":%s,\"damaged_located\":%llu,\"index_rebuilt\":",
               (unsigned long long)st.uptime_s, st.chunks, st.volumes,
               (unsigned long long)st.index_bytes, (unsigned long long)st.bytes_appended,
               (unsigned long long)st.flushes, (unsigned long long)st.checksum_errors,
               st.index_lost ? "true" : "false", (unsigned long long)st.damaged_located);
        ctl_json_str(stdout, st.index_rebuilt);
        printf("}\n");
        return 0;
    }
    /* why the start rebuilt the index (cairn.h index_rebuilt) */
    static const struct {
        const char *why, *text;
    } rebuilt[] = {
        {"missing", "ok (rebuilt at start from the chunk logs: there was none)"},
        {"layout", "ok (rebuilt at start from the chunk logs: an older release's layout)"},
        {"inconsistent", "ok (rebuilt at start from the chunk logs: it was ahead of them)"},
        {"damaged", "ok (rebuilt at start from the chunk logs: it was damaged and moved aside"
                    " as index.damaged-*)"},
    };
    const char *state = "ok";
    for (size_t i = 0; i < sizeof rebuilt / sizeof rebuilt[0]; i++)
        if (strcmp(st.index_rebuilt, rebuilt[i].why) == 0)
            state = rebuilt[i].text;
    char b1[16], b2[16];
    printf("node id          %u\nname             %s\nversion          %s\n"
           "data dir         %s\nuptime           %llus\nchunks           %u\n"
           "volumes          %u\nindex size       %s\nbytes appended   %s\n"
           "flushes          %llu\nchecksum errors  %llu\ndamaged records  %llu located\n"
           "index            %s\n",
           st.node_id, st.name, st.version, st.data_dir, (unsigned long long)st.uptime_s, st.chunks,
           st.volumes, ctl_size(st.index_bytes, b1), ctl_size(st.bytes_appended, b2),
           (unsigned long long)st.flushes, (unsigned long long)st.checksum_errors,
           (unsigned long long)st.damaged_located,
           st.index_lost ? "INCOMPLETE: a reindex failed; file operations are refused until"
                           " 'node reindex' succeeds or cairnd restarts"
                         : state);
    return 0;
}

static int node_reindex(struct ctl *x, int argc, char **argv)
{
    (void)argv;
    if (argc != 0)
        return ctl_usage(&cmd_node[1]);
    int rv;
    if ((rv = ctl_connect(x)) != 0)
        return rv;
    if (!x->timeout_ms) /* a reindex takes as long as the chunks take to read */
        cairn_set_timeout(x->c, CTL_TIMEOUT_MAX_S * 1000);
    if (isatty(STDERR_FILENO)) /* progress for a person; scripts get one line */
        fprintf(stderr, "reindexing: rebuilding the index from the chunk files...\n");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if ((rv = cairn_node_reindex(x->c)) != 0)
        return ctl_fail("node reindex", rv);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "reindexed in %.1fs\n",
            (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}

static int member_list(struct ctl *x, int argc, char **argv)
{
    (void)argv;
    if (argc != 0)
        return ctl_usage(&cmd_node[2]);
    cairn_node_status_t st;
    int rv;
    if ((rv = ctl_connect(x)) != 0)
        return rv;
    if ((rv = cairn_node_status(x->c, &st)) != 0)
        return ctl_fail("member list", rv);
    /* Without gossip (a later stage) the view holds this node alone. */
    if (x->json) {
        printf("[{\"node_id\":%u,\"name\":", st.node_id);
        ctl_json_str(stdout, st.name);
        printf(",\"state\":\"alive\",\"self\":true}]\n");
    } else {
        printf("%-10s %-24s %s\n", "NODE", "NAME", "STATE");
        printf("%-10u %-24s %s\n", st.node_id, st.name, "alive (self)");
    }
    return 0;
}

const struct cmd cmd_node[] = {
    {"node", "status", "", "show this node: id, chunks, volumes, index size", node_status},
    {"node", "reindex", "", "rebuild this node's index from its chunk files", node_reindex},
    {"member", "list", "", "the cluster as this node sees it", member_list},
    {NULL, NULL, NULL, NULL, NULL},
};
