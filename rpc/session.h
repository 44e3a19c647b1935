/*
 * session.h — the client's session streams (session.proto): unary calls
 * carried one after another on long-lived streams, half the round trip of a
 * new call each time. Private to rpc/ (channel.c is the only user).
 */
#ifndef CAIRN_SESSION_H
#define CAIRN_SESSION_H

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

struct session_pool;

/* A pool of sessions on CH (which must outlive it); NULL when out of memory. */
struct session_pool *session_pool_new(grpc_channel *ch);
/* Ends every pooled session. No call may be running on the pool. */
void session_pool_free(struct session_pool *p);

/* Makes the unary call PATH on a session, with the same deadline and
 * wait-for-ready behaviour as a plain call: 1 with its result in *RV (and
 * *RESP on success), or 0 when the call must be made as a plain call instead
 * (a server without sessions, a request too large for one, no memory). */
struct call_opts {
    int timeout_ms, wait_ready, spin_us; /* the channel's settings (rpc.h) */
};
int session_call(struct session_pool *p, const char *path, const struct call_opts *o,
                 const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                 ProtobufCMessage **resp, int *rv);

/* channel.c, shared with the plain calls: */
/* What a call's batches fill in or send, owned by whoever owns the call (or
 * by orphan.c, for a call given up on). */
struct call_bufs {
    grpc_metadata_array init_md, trail_md;
    grpc_status_code status;
    grpc_slice details;
    grpc_byte_buffer *send, *recv; /* the batch in flight's messages, each way */
};
void call_bufs_init(struct call_bufs *b);
void call_bufs_destroy(struct call_bufs *b); /* also SEND and RECV if set */
/* The result of a call that ended with STATUS, DETAILS and the exact cairn
 * error ERRNO_MD (0: none), recorded as this thread's last error. */
int channel_result(grpc_status_code status, grpc_slice details, int errno_md);
/* The "cairn-errno" trailer in TRAIL, or 0. */
int channel_trailer_errno(const grpc_metadata_array *trail);
/* Fills OP to receive a call's final status into TRAIL, STATUS, DETAILS. */
void channel_status_op(grpc_op *op, grpc_metadata_array *trail, grpc_status_code *status,
                       grpc_slice *details);
/* The deadline MS milliseconds from now, on the monotonic clock that every
 * call and wait uses (channel.c (4)). */
gpr_timespec channel_in_ms(int64_t ms);
/* Shuts CQ down, drains it and destroys it. */
void channel_cq_destroy(grpc_completion_queue *cq);

#endif
