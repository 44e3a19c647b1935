/*
 * cairn.c — owns a libcairn connection: address resolution, the channel and
 * its settings, and the small conversions every call shares.
 * Threads: a cairn_t may be used by many threads at once (rpc.h channels are).
 */
#include "client.h"

#include <errno.h>
#include <stdlib.h>

int cairn_connect(cairn_t **out, const char *addr)
{
    if (!addr || !*addr)
        addr = getenv("CAIRN_SERVER");
    if (!addr || !*addr)
        addr = CAIRN_DEFAULT_ADDR;
    cairn_t *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    int rv = rpc_channel_open(&c->ch, addr, rpc_method_paths, M_COUNT);
    if (rv != 0) {
        free(c);
        return rv;
    }
    *out = c;
    return 0;
}

void cairn_disconnect(cairn_t *c)
{
    if (!c)
        return;
    rpc_channel_close(c->ch);
    free(c);
}

int cairn_tune_malloc(void)
{
    return rpc_tune_malloc();
}

_Static_assert(CAIRN_TIMEOUT_MS == RPC_TIMEOUT_MS, "cairn.h and rpc.h disagree on the timeout");

void cairn_set_timeout(cairn_t *c, int timeout_ms)
{
    rpc_channel_set_timeout(c->ch, timeout_ms);
}

void cairn_set_wait_for_ready(cairn_t *c, int on)
{
    rpc_channel_set_wait_for_ready(c->ch, on);
}

_Static_assert(CAIRN_SPIN_MAX_US == RPC_SPIN_MAX_US,
               "cairn.h and rpc.h disagree on the spin bound");

void cairn_set_spin(cairn_t *c, int spin_us)
{
    rpc_channel_set_spin(c->ch, spin_us);
}

void cairn_set_relatime(cairn_t *c, int on)
{
    c->relatime = on;
}

const char *cairn_last_error(void)
{
    return rpc_last_error();
}

void cl_copy(char *out, size_t cap, const ProtobufCBinaryData *b)
{
    size_t n = b->len < cap - 1 ? b->len : cap - 1;
    if (n)
        memcpy(out, b->data, n);
    out[n] = '\0';
}

void cl_attr(cairn_attr_t *out, const Cairn__V1__Attr *a)
{
    memset(out, 0, sizeof *out);
    if (!a)
        return;
    out->ino = a->ino;
    out->mode = a->mode;
    out->uid = a->uid;
    out->gid = a->gid;
    out->nlink = a->nlink;
    out->size = a->size;
    out->rdev = a->rdev;
    out->atime_ns = a->atime_ns;
    out->mtime_ns = a->mtime_ns;
    out->ctime_ns = a->ctime_ns;
    out->btime_ns = a->btime_ns;
    out->parent = a->parent;
}

Cairn__V1__At *cl_at(Cairn__V1__At *at_pb, const cairn_at_t *at)
{
    if (!at || (!at->snapshot && !at->time_ms))
        return NULL;
    cairn__v1__at__init(at_pb);
    at_pb->snapshot = cl_bytes(at->snapshot);
    at_pb->time_ms = at->time_ms;
    return at_pb;
}

int cl_call(cairn_t *c, enum rpc_method_id m, const void *req, const ProtobufCMessageDescriptor *rd,
            void *resp_out)
{
    return rpc_unary(c->ch, m, req, rd, resp_out);
}
