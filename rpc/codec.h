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

/* NULL when BB is longer than MAX or does not parse as D. */
ProtobufCMessage *codec_decode(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *d,
                               size_t max);
/* M packed into OUT->data, a new malloc'ed buffer (the caller frees it);
 * -ENOMEM. */
int codec_pack(const ProtobufCMessage *m, ProtobufCBinaryData *out);
/* A new byte buffer holding M packed (destroy it after the send completes). */
grpc_byte_buffer *codec_encode(const ProtobufCMessage *m);

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
