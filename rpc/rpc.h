/*
 * rpc.h — the RPC layer of cairn: gRPC C core + protobuf-c, the only rpc/
 * header that daemon/ and client/ include.
 *
 * Server: a table of methods (unary, server-streaming, client-streaming)
 * served on a unix socket and/or TCP by a pool of completion-queue threads.
 * Handlers run on those threads and may block (the pool is sized for it).
 * Client: a channel to one server with the method table registered, and
 * blocking call helpers that are safe to use from many threads at once.
 *
 * Errors: every function returns 0 or a negative cairn error (cairn_err.h);
 * status.c is the only place that maps errors to gRPC status codes and back.
 */
#ifndef CAIRN_RPC_H
#define CAIRN_RPC_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Largest message accepted (request or reply) and the data piece size that
 * streams use: pieces fit in one message with room to spare. */
#define RPC_MAX_MESSAGE (16u << 20)
#define RPC_DATA_PIECE (1u << 20)
/* The longest spin (poll.c) a server or channel accepts, in microseconds. */
#define RPC_SPIN_MAX_US 100000

enum rpc_shape { RPC_UNARY, RPC_SERVER_STREAM, RPC_CLIENT_STREAM };

/* The bytes of a streamed message's one large bytes field, left where they
 * were received (several pieces of memory, no copy): the field itself is
 * then empty, and its LEN bytes are IOV[0..N) in order. */
struct rpc_segs {
    const struct iovec *iov;
    int n;
    size_t len;
};

/* Handlers return 0 or a negative cairn error, which becomes the call's
 * status. Replies and messages they hand out are freed by the server with
 * protobuf_c_message_free_unpacked (allocate every part with malloc). */
struct rpc_method {
    const char *path; /* "/cairn.v1.Fs/Lookup" */
    enum rpc_shape shape;
    const ProtobufCMessageDescriptor *req;
    /* RPC_UNARY */
    int (*unary)(void *app, const ProtobufCMessage *req, ProtobufCMessage **resp);
    /* RPC_SERVER_STREAM: start once; next returns 1 with a message, 0 at
     * the end, or an error. */
    int (*sstart)(void *app, const ProtobufCMessage *req, void **state);
    int (*snext)(void *state, ProtobufCMessage **msg);
    /* RPC_CLIENT_STREAM: start once, one call per message, finish at the
     * client's half-close with the reply. Messages are handled in order on
     * one of the server's appliers while the next ones are received; after
     * a message's error, which becomes the status, later ones are dropped
     * (server.c (8)). SEGS is NULL, or holds the bytes of MSG's large bytes
     * field (that field is then empty). */
    int (*cstart)(void *app, void **state);
    int (*cmsg)(void *state, const ProtobufCMessage *msg, const struct rpc_segs *segs);
    int (*cfinish)(void *state, ProtobufCMessage **resp);
    /* Frees stream state (both stream shapes); called exactly once. */
    void (*sfree)(void *state);
    /* 1: its handler (each piece, for a server stream) may take long or
     * block on the disk, so the thread that runs it first lets another one
     * serve the completion queue (server.c (6)). */
    int slow;
};

struct rpc_server_opts {
    const char *unix_path; /* NULL: no unix socket */
    const char *tcp_addr;  /* "HOST:PORT", NULL: no TCP */
    int threads;           /* completion-queue threads (>= 1) */
    const struct rpc_method *methods;
    size_t n_methods;
    void *app;
    /* Called after each call with its method index, gRPC status code and
     * duration; may be NULL. Any thread. */
    void (*observe)(void *app, size_t method, int code, double seconds);
    int no_sessions; /* 1: no cairn.v1.Session service (clients make plain calls) */
    /* Called with +1 when a session stream starts and -1 when it ends; may be
     * NULL. Any thread. */
    void (*session)(void *app, int delta);
    /* Threads that wait in the completion queue at once (server.c (6));
     * 0 means 1, more than THREADS means THREADS. */
    int pollers;
    /* Microseconds a thread polls the queue without blocking before it
     * sleeps in it (poll.c); 0: never, at most RPC_SPIN_MAX_US. */
    int spin_us;
    /* Milliseconds without a message after which an open client stream no
     * longer holds back that polling (server.c (7)); 0: 100. */
    int stream_quiet_ms;
};

struct rpc_server;
/* Binds and starts serving. -EADDRINUSE when the unix socket cannot be
 * bound, -EADDRNOTAVAIL when the TCP address cannot (in use, or a host that
 * does not resolve to one of this machine's), -EINVAL when a method path is given twice, -EAGAIN
 * when not one thread could be created (fewer than THREADS serve if only some could). */
int rpc_server_start(struct rpc_server **out, const struct rpc_server_opts *o);
/* How many events its threads caught while polling (poll.c), for tests. */
unsigned long rpc_server_spins_caught(struct rpc_server *s);
/* The TCP port actually bound (for "HOST:0"). */
int rpc_server_port(const struct rpc_server *s);
/* Stops accepting calls, ends idle sessions, lets running calls finish for
 * up to GRACE_MS, cancels the rest, and frees everything; 1 if calls had to
 * be cancelled, else 0. *DROPPED (if DROPPED is not NULL): how many requests
 * reached a session after the stop had ended it and were not applied (their
 * clients are told so: session.c (3)). Blocks. Each started server holds a
 * reference on the gRPC library until rpc_release() is called. */
int rpc_server_stop(struct rpc_server *s, int grace_ms, long *dropped);
/* Drops a started server's reference on the gRPC library (grpc_shutdown).
 * May block for seconds inside gRPC; a process about to exit may skip it. */
void rpc_release(void);

/* Process-wide: keeps the buffers of streamed pieces on the heap for reuse
 * instead of mapping and unmapping them for every piece (memory.c). For
 * executables to call once at start; 0, or -1 if glibc refused. */
int rpc_tune_malloc(void);

/* ---- client ---- */

struct rpc_channel;
/* ADDR: "unix:/path" or "HOST:PORT" (-ENAMETOOLONG: a path longer than a
 * unix socket's). PATHS: the method paths used later by
 * index (kept, not copied: they must outlive the channel). Unary calls go on
 * session streams (session.proto) when the server has them, plain calls
 * otherwise; CAIRN_NO_SESSIONS in the environment means plain calls only. */
int rpc_channel_open(struct rpc_channel **out, const char *addr, const char *const *paths,
                     size_t n_paths);
void rpc_channel_close(struct rpc_channel *ch);
/* Per-call deadline (ms, default RPC_TIMEOUT_MS; 0 or less: the default; a
 * stream gets it once for each of the PIECES messages it expects, and fails
 * as soon as the server makes no progress for that long) and whether calls
 * wait for the server to come (back) up until the deadline instead of
 * failing at once. */
#define RPC_TIMEOUT_MS 60000
/* The longest wait between two attempts to reach a server that went away
 * (gRPC's own default grows to 120 s). */
#define RPC_RECONNECT_MAX_MS 1000
void rpc_channel_set_timeout(struct rpc_channel *ch, int timeout_ms);
void rpc_channel_set_wait_for_ready(struct rpc_channel *ch, int on);
/* Microseconds a caller polls for its answer without blocking before it
 * sleeps (poll.c; default RPC_CLIENT_SPIN_US, 0: never, at most RPC_SPIN_MAX_US). */
#define RPC_CLIENT_SPIN_US 50
void rpc_channel_set_spin(struct rpc_channel *ch, int spin_us);

/* The text of the last error status seen by this thread ("" if none). */
const char *rpc_last_error(void);

/* *RESP is unpacked with RESP_DESC; free with protobuf_c_message_free_unpacked. */
int rpc_unary(struct rpc_channel *ch, size_t method, const ProtobufCMessage *req,
              const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp);
/* Calls ON_MSG for each streamed reply (owned by the helper; valid during the
 * call; SEGS NULL, or the bytes of its large bytes field, which is then
 * empty). A non-zero return from ON_MSG cancels the call and is returned. */
int rpc_server_stream(struct rpc_channel *ch, size_t method, size_t pieces,
                      const ProtobufCMessage *req, const ProtobufCMessageDescriptor *msg_desc,
                      int (*on_msg)(void *ctx, const ProtobufCMessage *m,
                                    const struct rpc_segs *segs),
                      void *ctx);
/* Bytes lent to the RPC layer (lend.c): the bytes field number FIELD of
 * each message refers to them where they lie instead of copying them.
 * DONE(ARG) runs exactly once, on any thread (it must not block), when the
 * lender has called rpc_lend_end and gRPC holds no reference to the bytes
 * any more; until then they must stay unchanged. That is usually before
 * the call that sent them returns, but a call given up on while its send
 * was blocked (channel.c (3)) holds them until that send ends (the server
 * reads again or the connection breaks) and orphan.c's reaper releases it
 * (within about 50 ms). */
struct rpc_lend;
struct rpc_lend *rpc_lend_new(uint32_t field, void (*done)(void *arg),
                              void *arg); /* NULL: ENOMEM */
void rpc_lend_end(struct rpc_lend *l);

/* Sends the messages NEXT produces (1 = *M set, still owned by the caller and
 * valid until the next call to NEXT; 0 = done; <0 = abort with that error),
 * then receives the single reply. With LEND, each message's lent field
 * (codec_encode_lent) lies in bytes lent through it and is not copied. */
int rpc_client_stream(struct rpc_channel *ch, size_t method, size_t pieces,
                      int (*next)(void *ctx, const ProtobufCMessage **m), void *ctx,
                      struct rpc_lend *lend, const ProtobufCMessageDescriptor *resp_desc,
                      ProtobufCMessage **resp);

/* ---- status mapping (status.c) ---- */
int rpc_status_from_err(int err);                /* -> grpc_status_code */
int rpc_err_from_status(int code, int errno_md); /* ERRNO_MD: from "cairn-errno", or 0 */

#endif
