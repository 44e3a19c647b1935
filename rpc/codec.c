/*
 * codec.c — owns message packing for the RPC layer (codec.h).
 * Invariants: (1) nothing longer than the caller's limit is unpacked, and a
 * message that does not parse is rejected here, before any handler sees it;
 * (2) a message from codec_unpack or codec_msg_decode accepts exactly the
 * bytes protobuf_c_message_unpack accepts and holds the same values: only
 * its one large bytes field (if any) points into the wire bytes instead of a
 * copy, and that field is detached before the message is freed; (3) with
 * CODEC_SEGS the same holds for a message whose field is left in the
 * received slices (segs_decode): it is the last field on the wire, its
 * number occurs once, and the message holds a reference to every slice it
 * points into until codec_msg_free; (4) codec_encode_taking writes the same
 * message as codec_encode, the taken field last, and so does
 * codec_encode_lent, with the lent field last.
 */
#include "codec.h"

#include <errno.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/slice.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lend.h"
#include "rpc.h"

/* BB's bytes as one slice (a copy when BB holds several); 0, or -1 when
 * BB is missing, longer than MAX or unreadable. */
static int flatten(grpc_slice *out, grpc_byte_buffer *bb, size_t max)
{
    if (!bb || grpc_byte_buffer_length(bb) > max)
        return -1;
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, bb))
        return -1;
    *out = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    return 0;
}

ProtobufCMessage *codec_decode(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *d,
                               size_t max)
{
    grpc_slice s;
    if (flatten(&s, bb, max) != 0)
        return NULL;
    ProtobufCMessage *m =
        protobuf_c_message_unpack(d, NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
    grpc_slice_unref(s);
    return m;
}

static int get_varint(const uint8_t *p, size_t n, size_t *i, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64 && *i < n; shift += 7) {
        uint8_t b = p[(*i)++];
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* One top-level field of wire bytes: [start, end) in all, its value at val
 * (len bytes, for a length-delimited one); plain: its tag and length take at
 * most 5 bytes each, the most protobuf-c reads (it refuses longer ones). */
struct field {
    uint64_t tag, len;
    size_t start, val, end;
    int plain;
};

/* The field at *I, moving *I past it; -1 when the bytes do not scan (groups
 * included: no cairn message has them); 1 when it is length-delimited and
 * its value runs past N (F is then filled but for END, *I is at its value). */
static int next_field(const uint8_t *p, size_t n, size_t *i, struct field *f)
{
    uint64_t v;
    f->start = *i;
    if (get_varint(p, n, i, &f->tag) != 0)
        return -1;
    f->plain = *i - f->start <= 5;
    f->val = *i;
    switch (f->tag & 7) {
    case 0:
        if (get_varint(p, n, i, &v) != 0)
            return -1;
        break;
    case 1:
    case 5: {
        size_t w = (f->tag & 7) == 1 ? 8 : 4;
        if (n - *i < w)
            return -1;
        *i += w;
        break;
    }
    case 2:
        if (get_varint(p, n, i, &f->len) != 0)
            return -1;
        f->plain = f->plain && *i - f->val <= 5;
        f->val = *i;
        if (f->len > n - *i)
            return 1;
        *i += (size_t)f->len;
        break;
    default:
        return -1;
    }
    f->end = *i;
    return 0;
}

/* 1 if C is a plain proto3 singular bytes field (no presence, not in a
 * oneof): the only kind left in place or taken. */
static int plain_bytes(const ProtobufCFieldDescriptor *c)
{
    return c && c->type == PROTOBUF_C_TYPE_BYTES && c->label == PROTOBUF_C_LABEL_NONE &&
           !(c->flags & PROTOBUF_C_FIELD_FLAG_ONEOF);
}

/* M's bytes field C (plain_bytes). */
static ProtobufCBinaryData *bytes_of(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *c)
{
    return (ProtobufCBinaryData *)((uintptr_t)m + c->offset);
}

/* F's field of D when it may be left in place: plain_bytes, LEN >=
 * CODEC_REF_MIN long. */
static const ProtobufCFieldDescriptor *ref_field(const ProtobufCMessageDescriptor *d,
                                                 const struct field *f, size_t len)
{
    if ((f->tag & 7) != 2 || len < CODEC_REF_MIN || !f->plain)
        return NULL;
    const ProtobufCFieldDescriptor *c =
        protobuf_c_message_descriptor_get_field(d, (unsigned)(f->tag >> 3));
    return plain_bytes(c) ? c : NULL;
}

/* 0 if field number NUMBER occurs in P[0..N) only at START (or not at all:
 * START may be N); 1 if it occurs elsewhere too; -1 if the bytes do not scan
 * (protobuf keeps the last occurrence, so a field left in place must be the
 * only one). */
static int occurs_elsewhere(const uint8_t *p, size_t n, uint64_t number, size_t start)
{
    struct field f;
    for (size_t i = 0; i < n;) {
        if (next_field(p, n, &i, &f) != 0)
            return -1;
        if (f.tag >> 3 == number && f.start != start)
            return 1;
    }
    return 0;
}

/* The one field of D in P[0..N) to leave in place: a plain proto3 singular
 * bytes field (no presence, not in a oneof) at least CODEC_REF_MIN long
 * whose number occurs once. 0 with *OUT and *FD; -1 when there is none (or
 * the bytes do not scan: the plain unpack then rejects them). */
static int find_ref(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n,
                    struct field *out, const ProtobufCFieldDescriptor **fd)
{
    struct field f;
    size_t i = 0;
    int found = 0;
    while (i < n) {
        if (next_field(p, n, &i, &f) != 0)
            return -1;
        const ProtobufCFieldDescriptor *c = ref_field(d, &f, f.end - f.val);
        if (!c)
            continue;
        if (found)
            return -1;
        found = 1;
        *out = f;
        *fd = c;
    }
    if (!found || occurs_elsewhere(p, n, out->tag >> 3, out->start) != 0)
        return -1;
    return 0;
}

ProtobufCMessage *codec_unpack(ProtobufCBinaryData **ref, const ProtobufCMessageDescriptor *d,
                               size_t n, const uint8_t *p)
{
    *ref = NULL;
    struct field f = {0};
    const ProtobufCFieldDescriptor *fd = NULL;
    if (find_ref(d, p, n, &f, &fd) != 0)
        return protobuf_c_message_unpack(d, NULL, n, p);
    /* The other fields, unpacked as usual: they are few and short. */
    size_t rest = n - (f.end - f.start);
    uint8_t small[512], *buf = rest <= sizeof small ? small : malloc(rest);
    if (!buf)
        return NULL;
    memcpy(buf, p, f.start);
    memcpy(buf + f.start, p + f.end, n - f.end);
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, rest, buf);
    if (buf != small)
        free(buf);
    if (!m)
        return NULL;
    ProtobufCBinaryData *bd = bytes_of(m, fd);
    bd->data = (uint8_t *)(uintptr_t)(p + f.val);
    bd->len = f.end - f.val;
    *ref = bd;
    return m;
}

void codec_free(ProtobufCMessage *m, ProtobufCBinaryData *ref)
{
    if (ref) { /* (2) not ours to free */
        ref->data = NULL;
        ref->len = 0;
    }
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
}

/* The head of a segmented message: its first bytes, enough to hold every
 * field before a large last one. */
#define SEGS_HEAD 1024

/* (3) BB (TOTAL bytes) decoded as D into OUT with its large bytes field
 * left in the slices; 1 when BB is not such a message (the caller decodes
 * it the plain way, which also rejects what does not parse), -1 on no
 * memory. */
static int segs_decode(struct codec_msg *out, grpc_byte_buffer *bb,
                       const ProtobufCMessageDescriptor *d, size_t total)
{
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, bb))
        return 1;
    size_t cap = 0, n = 0, have = 0;
    grpc_slice *held = NULL, *sp;
    int nomem = 0;
    while (!nomem && grpc_byte_buffer_reader_peek(&r, &sp)) {
        if (n == cap) {
            grpc_slice *g = realloc(held, (cap ? 2 * cap : 64) * sizeof *g);
            nomem = !g;
            if (nomem)
                break;
            held = g;
            cap = cap ? 2 * cap : 64;
        }
        held[n++] = grpc_slice_ref(*sp);
        have += GRPC_SLICE_LENGTH(*sp);
    }
    grpc_byte_buffer_reader_destroy(&r);
    out->held = held;
    out->n_held = n;
    if (nomem || have != total)
        return nomem ? -1 : 1;
    /* The head, copied; the last field must start in it and run to the end. */
    uint8_t head[SEGS_HEAD];
    size_t hn = 0;
    for (size_t i = 0; i < n && hn < sizeof head; i++) {
        size_t l = GRPC_SLICE_LENGTH(held[i]);
        if (l > sizeof head - hn)
            l = sizeof head - hn;
        memcpy(head + hn, GRPC_SLICE_START_PTR(held[i]), l);
        hn += l;
    }
    struct field f;
    size_t i = 0;
    int scan = 0;
    while (i < hn && (scan = next_field(head, hn, &i, &f)) == 0)
        ;
    const ProtobufCFieldDescriptor *fd = NULL;
    if (scan != 1 || f.len != total - f.val || !(fd = ref_field(d, &f, (size_t)f.len)))
        return 1;
    size_t at = f.start; /* the head: every field before it */
    if (occurs_elsewhere(head, at, f.tag >> 3, at) != 0)
        return 1; /* twice (protobuf keeps the last), or the plain unpack rejects it */
    out->m = protobuf_c_message_unpack(d, NULL, at, head);
    if (!out->m)
        return 1;
    /* The field's bytes: [f.val, total) of the slices. */
    if (!(out->iov = malloc(n * sizeof *out->iov)))
        return -1;
    int nv = 0;
    for (size_t s = 0, pos = 0; s < n; pos += GRPC_SLICE_LENGTH(held[s]), s++) {
        size_t l = GRPC_SLICE_LENGTH(held[s]), skip = f.val > pos ? f.val - pos : 0;
        if (skip >= l)
            continue;
        out->iov[nv].iov_base = GRPC_SLICE_START_PTR(held[s]) + skip;
        out->iov[nv++].iov_len = l - skip;
    }
    out->segs = (struct rpc_segs){out->iov, nv, (size_t)f.len};
    out->ref = bytes_of(out->m, fd); /* empty */
    return 0;
}

int codec_msg_decode(struct codec_msg *out, grpc_byte_buffer *bb,
                     const ProtobufCMessageDescriptor *d, size_t max, int flags)
{
    *out = (struct codec_msg){.bytes = grpc_empty_slice()};
    if (bb && (flags & CODEC_SEGS) && grpc_byte_buffer_length(bb) >= CODEC_SEGS_MIN &&
        grpc_byte_buffer_length(bb) <= max) {
        int rv = segs_decode(out, bb, d, grpc_byte_buffer_length(bb));
        if (rv <= 0) {
            if (rv < 0)
                codec_msg_free(out);
            return rv;
        }
        codec_msg_free(out); /* not such a message: decoded the plain way */
    }
    if (flatten(&out->bytes, bb, max) != 0) {
        out->bytes = grpc_empty_slice();
        return -1;
    }
    out->m =
        codec_unpack(&out->ref, d, GRPC_SLICE_LENGTH(out->bytes), GRPC_SLICE_START_PTR(out->bytes));
    if (!out->m) {
        codec_msg_free(out);
        return -1;
    }
    return 0;
}

void codec_msg_free(struct codec_msg *cm)
{
    codec_free(cm->m, cm->ref);
    grpc_slice_unref(cm->bytes);
    for (size_t i = 0; i < cm->n_held; i++)
        grpc_slice_unref(cm->held[i]);
    free(cm->held);
    free(cm->iov);
    *cm = (struct codec_msg){.bytes = grpc_empty_slice()};
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

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* M packed (its field number FIELD left empty), then FIELD holding DATA,
 * which the byte buffer takes over without copying. */
static grpc_byte_buffer *encode_around(const ProtobufCMessage *m, uint32_t field, grpc_slice data)
{
    /* Fields may come in any order on the wire: M's own, then FIELD. */
    uint8_t hdr[20];
    size_t h = put_varint(hdr, (uint64_t)field << 3 | 2);
    h += put_varint(hdr + h, GRPC_SLICE_LENGTH(data));
    size_t n = protobuf_c_message_get_packed_size(m);
    grpc_slice s[2];
    s[0] = grpc_slice_malloc(n + h);
    protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(s[0]));
    memcpy(GRPC_SLICE_START_PTR(s[0]) + n, hdr, h);
    s[1] = data;
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(s, 2);
    grpc_slice_unref(s[0]);
    grpc_slice_unref(s[1]);
    return bb;
}

grpc_byte_buffer *codec_encode_with(const ProtobufCMessage *m, uint32_t field,
                                    ProtobufCBinaryData *take)
{
    if (take->len == 0) {
        free(take->data);
        take->data = NULL;
        return codec_encode(m);
    }
    grpc_slice data = grpc_slice_new(take->data, take->len, free); /* now owned by the slice */
    *take = (ProtobufCBinaryData){0, NULL};
    return encode_around(m, field, data);
}

/* M's first plain bytes field of at least CODEC_REF_MIN bytes (4), or NULL. */
static ProtobufCBinaryData *large_field(const ProtobufCMessage *m, uint32_t *id)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (!plain_bytes(f))
            continue;
        ProtobufCBinaryData *bd = bytes_of(m, f);
        if (bd->len >= CODEC_REF_MIN) {
            *id = f->id;
            return bd;
        }
    }
    return NULL;
}

grpc_byte_buffer *codec_encode_taking(ProtobufCMessage *m)
{
    uint32_t id;
    ProtobufCBinaryData *bd = large_field(m, &id);
    if (!bd)
        return codec_encode(m);
    ProtobufCBinaryData take = *bd;
    *bd = (ProtobufCBinaryData){0, NULL}; /* (4) packed by codec_encode_with, last */
    return codec_encode_with(m, id, &take);
}

grpc_byte_buffer *codec_encode_lent(const ProtobufCMessage *m, struct rpc_lend *l)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, lend_field(l));
    const ProtobufCBinaryData *bd = plain_bytes(f) ? bytes_of(m, f) : NULL;
    if (!bd || bd->len < CODEC_REF_MIN)
        return codec_encode(m);
    /* a shallow copy of M without the field: M itself is left alone */
    ProtobufCMessage *rest = malloc(d->sizeof_message);
    if (!rest)
        return codec_encode(m);
    memcpy(rest, m, d->sizeof_message);
    *bytes_of(rest, f) = (ProtobufCBinaryData){0, NULL};
    grpc_byte_buffer *bb = encode_around(rest, f->id, lend_slice(l, bd->data, bd->len));
    free(rest);
    return bb;
}
