/*
 * codec.c — owns message packing for the RPC layer (codec.h).
 * Invariant: nothing longer than the caller's limit is unpacked, and a
 * message that does not parse is rejected here, before any handler sees it.
 */
#include "codec.h"

#include <errno.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/slice.h>
#include <stdint.h>
#include <stdlib.h>

#include "rpc.h"

ProtobufCMessage *codec_decode(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *d,
                               size_t max)
{
    if (!bb || grpc_byte_buffer_length(bb) > max)
        return NULL;
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, bb))
        return NULL;
    grpc_slice s = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    ProtobufCMessage *m =
        protobuf_c_message_unpack(d, NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
    grpc_slice_unref(s);
    return m;
}

int codec_pack(const ProtobufCMessage *m, ProtobufCBinaryData *out)
{
    out->len = protobuf_c_message_get_packed_size(m);
    out->data = malloc(out->len ? out->len : 1);
    if (!out->data)
        return -ENOMEM;
    protobuf_c_message_pack(m, out->data);
    return 0;
}

void codec_channel_args(grpc_arg *args)
{
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = (char *)(uintptr_t)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = (int)RPC_MAX_MESSAGE;
}

grpc_byte_buffer *codec_encode(const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    grpc_slice s = grpc_slice_malloc(n);
    protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(s));
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}
