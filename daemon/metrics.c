/*
 * metrics.c — owns cairnd's metric values and their Prometheus text form.
 *
 * Invariants: (1) every series exists from start-up (zero until used), so a
 * scrape never sees series appear; (2) histogram buckets are cumulative and
 * _count equals the +Inf bucket; (3) only this file includes microhttpd.h.
 * Threads: recorders are any thread (atomics); render runs on the HTTP
 * thread and takes the engine's own locks for gauges.
 */
#include "metrics.h"

#include "alloc.h"
#include "engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_CODES 17
#define N_BUCKETS 12
static const double bucket_le[N_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                            0.01,   0.025,   0.05,   0.1,   0.5,    1.0};
static const char *const code_names[N_CODES] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

struct hist {
    _Atomic uint64_t b[N_BUCKETS + 1]; /* last: +Inf */
    _Atomic uint64_t sum_ns;
};

struct metrics {
    struct engine *e;
    const char *const *names;
    size_t n;
    _Atomic uint64_t (*calls)[N_CODES];
    struct hist *lat;
    struct hist fsync;
    _Atomic uint64_t bytes_read, bytes_written;
    _Atomic uint64_t sessions_total;
    _Atomic int64_t sessions_open;
    struct MHD_Daemon *httpd;
};

struct metrics *metrics_new(struct engine *e, const char *const *names, size_t n)
{
    struct metrics *m = xcalloc(1, sizeof *m);
    m->e = e;
    m->names = names;
    m->n = n;
    m->calls = xcalloc(n ? n : 1, sizeof *m->calls);
    m->lat = xcalloc(n ? n : 1, sizeof *m->lat);
    return m;
}

void metrics_free(struct metrics *m)
{
    if (!m)
        return;
    metrics_stop(m);
    free(m->calls);
    free(m->lat);
    free(m);
}

static void hist_add(struct hist *h, double seconds)
{
    int i = 0;
    while (i < N_BUCKETS && seconds > bucket_le[i])
        i++;
    atomic_fetch_add_explicit(&h->b[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, (uint64_t)(seconds * 1e9), memory_order_relaxed);
}

void metrics_rpc(struct metrics *m, size_t method, int code, double seconds)
{
    if (!m || method >= m->n)
        return;
    if (code < 0 || code >= N_CODES)
        code = 2; /* UNKNOWN */
    atomic_fetch_add_explicit(&m->calls[method][code], 1, memory_order_relaxed);
    hist_add(&m->lat[method], seconds);
}

void metrics_fsync(struct metrics *m, double seconds)
{
    if (m)
        hist_add(&m->fsync, seconds);
}

void metrics_bytes_read(struct metrics *m, uint64_t n)
{
    if (m)
        atomic_fetch_add_explicit(&m->bytes_read, n, memory_order_relaxed);
}

void metrics_session(struct metrics *m, int delta)
{
    if (!m)
        return;
    if (delta > 0)
        atomic_fetch_add_explicit(&m->sessions_total, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sessions_open, delta, memory_order_relaxed);
}

void metrics_bytes_written(struct metrics *m, uint64_t n)
{
    if (m)
        atomic_fetch_add_explicit(&m->bytes_written, n, memory_order_relaxed);
}

/* ---- text rendering ---- */

struct out {
    char *p;
    size_t len, cap;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        o->cap = o->cap * 2 + (n > 0 ? (size_t)n : 0);
        o->p = xrealloc(o->p, o->cap);
    }
}

static void head(struct out *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void hist_render(struct out *o, const char *name, const char *labels, struct hist *h)
{
    uint64_t cum = 0;
    const char *sep = labels[0] ? "," : "";
    for (int i = 0; i <= N_BUCKETS; i++) {
        cum += atomic_load_explicit(&h->b[i], memory_order_relaxed);
        if (i < N_BUCKETS)
            put(o, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, bucket_le[i],
                (unsigned long long)cum);
        else
            put(o, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)cum);
    }
    double sum = (double)atomic_load_explicit(&h->sum_ns, memory_order_relaxed) / 1e9;
    if (labels[0]) {
        put(o, "%s_sum{%s} %.9f\n%s_count{%s} %llu\n", name, labels, sum, name, labels,
            (unsigned long long)cum);
    } else {
        put(o, "%s_sum %.9f\n%s_count %llu\n", name, sum, name, (unsigned long long)cum);
    }
}

/* Label values are volume names ([A-Za-z0-9._-]) and method names: no escaping needed. */
char *metrics_render(struct metrics *m)
{
    struct out o = {xmalloc(8192), 0, 8192};
    head(&o, "cairn_rpc_requests_total", "counter", "RPC calls served, by method and status code.");
    for (size_t i = 0; i < m->n; i++)
        for (int c = 0; c < N_CODES; c++) {
            uint64_t v = atomic_load_explicit(&m->calls[i][c], memory_order_relaxed);
            put(&o, "cairn_rpc_requests_total{method=\"%s\",code=\"%s\"} %llu\n", m->names[i],
                code_names[c], (unsigned long long)v);
        }
    head(&o, "cairn_rpc_duration_seconds", "histogram", "RPC call duration, by method.");
    for (size_t i = 0; i < m->n; i++) {
        char labels[96];
        snprintf(labels, sizeof labels, "method=\"%s\"", m->names[i]);
        hist_render(&o, "cairn_rpc_duration_seconds", labels, &m->lat[i]);
    }
    head(&o, "cairn_fsync_duration_seconds", "histogram",
         "Time for a volume fsync (group commit).");
    hist_render(&o, "cairn_fsync_duration_seconds", "", &m->fsync);
    head(&o, "cairn_read_bytes_total", "counter", "File bytes read by clients.");
    put(&o, "cairn_read_bytes_total %llu\n",
        (unsigned long long)atomic_load_explicit(&m->bytes_read, memory_order_relaxed));
    head(&o, "cairn_written_bytes_total", "counter", "File bytes written by clients.");
    put(&o, "cairn_written_bytes_total %llu\n",
        (unsigned long long)atomic_load_explicit(&m->bytes_written, memory_order_relaxed));

    head(&o, "cairn_rpc_sessions_total", "counter",
         "Session streams opened by clients (each carries unary calls one after another).");
    put(&o, "cairn_rpc_sessions_total %llu\n",
        (unsigned long long)atomic_load_explicit(&m->sessions_total, memory_order_relaxed));
    head(&o, "cairn_rpc_sessions_open", "gauge", "Session streams open now.");
    put(&o, "cairn_rpc_sessions_open %lld\n",
        (long long)atomic_load_explicit(&m->sessions_open, memory_order_relaxed));

    /* A reindex holds the engine for as long as it takes: answer without
     * what only the engine knows rather than keep the scraper waiting. */
    int busy = engine_reindexing(m->e);
    head(&o, "cairn_reindexing", "gauge",
         "1 while the index is being rebuilt (engine figures are left out meanwhile).");
    put(&o, "cairn_reindexing %d\n", busy);
    head(&o, "cairn_index_lost", "gauge",
         "1 after a reindex failed: every file operation fails until one succeeds or a restart.");
    put(&o, "cairn_index_lost %d\n", engine_index_lost(m->e));
    if (busy)
        return o.p;
    struct engine_stats st;
    engine_stats(m->e, &st);
    head(&o, "cairn_appended_bytes_total", "counter", "Record bytes appended to volume chunks.");
    put(&o, "cairn_appended_bytes_total %llu\n", (unsigned long long)st.bytes_appended);
    head(&o, "cairn_flushes_total", "counter", "Group-commit flushes (fdatasync + index sync).");
    put(&o, "cairn_flushes_total %llu\n", (unsigned long long)st.flushes);
    head(&o, "cairn_checksum_errors_total", "counter",
         "Records that failed checksum verification.");
    put(&o, "cairn_checksum_errors_total %llu\n", (unsigned long long)st.checksum_errors);
    head(&o, "cairn_torn_bytes_dropped_total", "counter", "Torn tail bytes dropped at recovery.");
    put(&o, "cairn_torn_bytes_dropped_total %llu\n", (unsigned long long)st.torn_bytes_dropped);
    head(&o, "cairn_damaged_records_located_total", "counter",
         "Damaged records found at recovery whose file data stays indexed (reads of it fail).");
    put(&o, "cairn_damaged_records_located_total %llu\n", (unsigned long long)st.damaged_located);
    head(&o, "cairn_index_rebuilt_at_start", "gauge",
         "1 for why this start rebuilt the index from the chunk logs: none was there (a new node),"
         " an older layout, inconsistent with the chunks, or damaged (moved aside).");
    static const char *const why[] = {ENGINE_REBUILT_WHY};
    for (size_t i = 0; i < sizeof why / sizeof why[0]; i++)
        put(&o, "cairn_index_rebuilt_at_start{reason=\"%s\"} %d\n", why[i],
            strcmp(why[i], engine_index_rebuilt(m->e)) == 0);
    head(&o, "cairn_index_bytes", "gauge", "Size of the RocksDB index on disk.");
    put(&o, "cairn_index_bytes %llu\n", (unsigned long long)engine_index_bytes(m->e));

    struct volume_info *vi;
    size_t nv;
    if (engine_volume_list(m->e, &vi, &nv) == 0) {
        head(&o, "cairn_volume_chunk_bytes", "gauge",
             "Chunk space of each volume, by kind (capacity, used).");
        for (size_t i = 0; i < nv; i++) {
            put(&o, "cairn_volume_chunk_bytes{volume=\"%s\",kind=\"capacity\"} %llu\n", vi[i].name,
                (unsigned long long)vi[i].capacity);
            put(&o, "cairn_volume_chunk_bytes{volume=\"%s\",kind=\"used\"} %llu\n", vi[i].name,
                (unsigned long long)vi[i].used);
        }
        head(&o, "cairn_volume_read_only", "gauge",
             "1 when a volume stopped writing after a failed flush.");
        for (size_t i = 0; i < nv; i++)
            put(&o, "cairn_volume_read_only{volume=\"%s\"} %d\n", vi[i].name, vi[i].failed);
        free(vi);
    }
    return o.p;
}

/* ---- HTTP ---- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, char *body,
                             const char *type)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result rv = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rv;
}

static enum MHD_Result on_http(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **req_cls)
{
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)req_cls;
    struct metrics *m = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(conn, 405, xstrdup("method not allowed\n"), "text/plain");
    if (strcmp(url, "/metrics") == 0)
        return reply(conn, 200, metrics_render(m), "text/plain; version=0.0.4; charset=utf-8");
    if (strcmp(url, "/healthz") == 0) {
        if (engine_reindexing(m->e))
            return reply(conn, 200, xstrdup("ok: reindexing\n"), "text/plain");
        if (engine_index_lost(m->e))
            return reply(conn, 503,
                         xstrdup("failed: a reindex failed, the index is incomplete (reindex or "
                                 "restart)\n"),
                         "text/plain");
        struct volume_info *vi;
        size_t nv;
        int failed = 0;
        if (engine_volume_list(m->e, &vi, &nv) == 0) {
            for (size_t i = 0; i < nv; i++)
                failed |= vi[i].failed;
            free(vi);
        }
        return failed ? reply(conn, 503, xstrdup("degraded: a volume is read-only\n"), "text/plain")
                      : reply(conn, 200, xstrdup("ok\n"), "text/plain");
    }
    return reply(conn, 404, xstrdup("not found\n"), "text/plain");
}

int metrics_start(struct metrics *m, const char *listen)
{
    const char *colon = strrchr(listen, ':');
    if (!colon)
        return -EINVAL;
    char host[64];
    size_t hl = (size_t)(colon - listen);
    if (hl >= sizeof host)
        return -EINVAL;
    memcpy(host, listen, hl);
    host[hl] = '\0';
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &sa.sin_addr) != 1)
        return -EINVAL;
    /* a thread per connection: a scrape that waits for the engine (a
     * reindex that began after its check) holds only its own connection,
     * never /healthz or the next scrape */
    m->httpd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                    MHD_USE_AUTO | MHD_USE_ERROR_LOG,
                                0, NULL, NULL, on_http, m, MHD_OPTION_SOCK_ADDR,
                                (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    return m->httpd ? 0 : -EADDRINUSE;
}

void metrics_stop(struct metrics *m)
{
    if (m && m->httpd) {
        MHD_stop_daemon(m->httpd);
        m->httpd = NULL;
    }
}
