/*
 * metrics.h — counters and histograms of cairnd, served as Prometheus text
 * on HTTP /metrics (libmicrohttpd), plus /healthz.
 *
 * Recording is lock-free (relaxed atomics) and may be called from any
 * thread; the HTTP server runs its own thread and reads the engine's gauges
 * at scrape time.
 */
#ifndef CAIRN_METRICS_H
#define CAIRN_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct engine;
struct metrics;

/* METHOD_NAMES: one label per RPC method index (kept, not copied). */
struct metrics *metrics_new(struct engine *e, const char *const *method_names, size_t n_methods);
void metrics_free(struct metrics *m);
/* Serves LISTEN ("HOST:PORT"); -EADDRINUSE / -EINVAL on failure. */
int metrics_start(struct metrics *m, const char *listen);
void metrics_stop(struct metrics *m);

void metrics_rpc(struct metrics *m, size_t method, int grpc_code, double seconds);
void metrics_fsync(struct metrics *m, double seconds);
/* A session stream opened (+1) or ended (-1). */
void metrics_session(struct metrics *m, int delta);
void metrics_bytes_read(struct metrics *m, uint64_t n);
void metrics_bytes_written(struct metrics *m, uint64_t n);
/* The whole /metrics page (malloc'ed). */
char *metrics_render(struct metrics *m);

#endif
