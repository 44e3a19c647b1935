/*
 * codec.h — protobuf-c messages <-> gRPC byte buffers, with size limits.
 * Private to rpc/. Pure apart from allocation; thread-safe.
 */
#ifndef CAIRN_CODEC_H
#define CAIRN_CODEC_H

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc.h" /* struct rpc_segs */

/* NULL when BB is longer than MAX or does not parse as D. */
ProtobufCMessage *codec_decode(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *d,
                               size_t max);
/* Bytes fields at least this long are left in place by the decoders below
 * (shorter ones cost less to copy than to look for). */
#define CODEC_REF_MIN 4096

/* A message whose one large bytes field (if any) may point into the wire
 * bytes instead of a copy (codec.c invariant 2): the bytes stay alive as
 * long as the message. */
struct codec_msg {
    ProtobufCMessage *m;
    ProtobufCBinaryData *ref; /* the field pointing into BYTES (or standing for SEGS), or NULL */
    grpc_slice bytes;
    /* CODEC_SEGS only: SEGS.n > 0 when the large field's bytes were left in
     * the received slices (REF is then that field, empty); IOV backs SEGS,
     * HELD[0..N_HELD) are references to those slices. */
    struct rpc_segs segs;
    struct iovec *iov;
    grpc_slice *held;
    size_t n_held;
};
/* Flags of codec_msg_decode. CODEC_SEGS: a message of at least
 * CODEC_SEGS_MIN bytes whose large bytes field comes last may have that
 * field's bytes left where they were received (SEGS) instead of copied into
 * one piece (whoever reads the message must read SEGS). */
#define CODEC_SEGS 1
#define CODEC_SEGS_MIN (64u << 10)
/* BB decoded as D into OUT; -1 when BB is longer than MAX or does not
 * parse (OUT then holds nothing). Release OUT with codec_msg_free, which
 * accepts a released or failed OUT. */
int codec_msg_decode(struct codec_msg *out, grpc_byte_buffer *bb,
                     const ProtobufCMessageDescriptor *d, size_t max, int flags);
void codec_msg_free(struct codec_msg *cm);
/* P[0..N) unpacked as D, as protobuf_c_message_unpack does, but a large
 * bytes field points into P (*REF is that field, or NULL): P must outlive
 * the message. NULL when it does not parse. Free with codec_free. */
ProtobufCMessage *codec_unpack(ProtobufCBinaryData **ref, const ProtobufCMessageDescriptor *d,
                               size_t n, const uint8_t *p);
/* Frees M (NULL: nothing) from codec_unpack, detaching REF first. */
void codec_free(ProtobufCMessage *m, ProtobufCBinaryData *ref);

/* M packed into OUT->data, a new malloc'ed buffer (the caller frees it);
 * -ENOMEM. */
int codec_pack(const ProtobufCMessage *m, ProtobufCBinaryData *out);
/* A new byte buffer holding M packed (destroy it after the send completes). */
grpc_byte_buffer *codec_encode(const ProtobufCMessage *m);
/* As codec_encode, with bytes field number FIELD (left empty in M) holding
 * TAKE: the byte buffer takes TAKE->data (malloc'ed) without copying it, and
 * TAKE is left empty. */
grpc_byte_buffer *codec_encode_with(const ProtobufCMessage *m, uint32_t field,
                                    ProtobufCBinaryData *take);
/* As codec_encode, but M's first plain bytes field (singular, not in a
 * oneof) of at least CODEC_REF_MIN bytes is taken into the byte buffer
 * (malloc'ed, as protobuf_c_message_free_unpacked expects) instead of
 * copied, and left empty in M; it goes last on the wire. */
grpc_byte_buffer *codec_encode_taking(ProtobufCMessage *m);
/* As codec_encode, but when M's field number lend_field(L) is a plain bytes
 * field of at least CODEC_REF_MIN bytes, its bytes are lent through L
 * (rpc_lend, lend.c): referred to where they lie, neither copied nor freed,
 * and last on the wire. M is not changed. */
grpc_byte_buffer *codec_encode_lent(const ProtobufCMessage *m, struct rpc_lend *l);

/* The session stream (session.proto), and the status detail with which a
 * stopping server ends an idle one (code ABORTED): a request that crossed
 * it was not applied. */
#define RPC_SESSION_PATH "/cairn.v1.Session/Call"
#define RPC_SESSION_ENDED "cairn: session ended, request not applied"

/* The channel arguments both ends use (the message size limit, for what
 * each end receives): fills ARGS[CODEC_N_ARGS]. Larger HTTP/2 windows,
 * frames and write buffers were measured and made no difference. */
#define CODEC_N_ARGS 1
void codec_channel_args(grpc_arg *args);

#endif
