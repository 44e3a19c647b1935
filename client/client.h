/*
 * client.h — libcairn internals shared by cairn.c, file.c and admin.c.
 */
#ifndef CAIRN_CLIENT_H
#define CAIRN_CLIENT_H

#include "cairn.h"
#include "methods.h"
#include "rpc.h"

#include "cairn/v1/admin.pb-c.h"
#include "cairn/v1/fs.pb-c.h"

#include <string.h>

struct cairn {
    struct rpc_channel *ch;
    _Atomic int relatime; /* set by any thread while others call */
};

/* A C string as a protobuf bytes field (borrowed, not copied). */
static inline ProtobufCBinaryData cl_bytes(const char *s)
{
    ProtobufCBinaryData b = {s ? strlen(s) : 0, (uint8_t *)(uintptr_t)s};
    return b;
}

/* Copies a bytes field into OUT (CAP bytes) as a C string, truncating. */
void cl_copy(char *out, size_t cap, const ProtobufCBinaryData *b);
void cl_attr(cairn_attr_t *out, const Cairn__V1__Attr *a);
/* Fills AT_PB from AT (which may be NULL); returns AT_PB or NULL for now. */
Cairn__V1__At *cl_at(Cairn__V1__At *at_pb, const cairn_at_t *at);
/* rpc_unary on the fs/admin tables, freeing nothing on failure. */
int cl_call(cairn_t *c, enum rpc_method_id m, const void *req, const ProtobufCMessageDescriptor *rd,
            void *resp_out);

#endif
