/*
 * fuzz_codec.c — fuzz target for protobuf decoding of the cairn.v1 messages
 * (rpc/codec.c hands every request body the server receives, and every
 * reply the client receives, to protobuf_c_message_unpack with the
 * generated descriptors; this target does the same without gRPC).
 *
 * The message types are not listed by hand: they are the input and output
 * types of every method of the Fs, Admin and Peer services, read from the
 * generated service descriptors, so a new RPC is fuzzed without touching
 * this file (nested types such as Attr or DirEntry are reached through the
 * messages that hold them). The first input byte picks a mode:
 *   odd: the rest of the input is unpacked as every type;
 *   even: the rest drives a generator that writes wire format for one type
 *     (the next byte picks it) from its descriptor: each field with its own
 *     wire type (varints, fixed32/64, length-delimited strings and bytes,
 *     nested messages to depth 4, repeated fields packed or not), mixed with
 *     unknown fields, wrong wire types and cut lengths now and then; so
 *     most inputs parse and the decoder's paths past the first byte run.
 * Properties checked (abort() when violated), for each message that unpacks:
 *   (1) protobuf_c_message_check accepts it;
 *   (2) it packs to exactly protobuf_c_message_get_packed_size bytes, those
 *       bytes unpack again, and packing that copy gives the same bytes;
 *   (3) everything is freed (LeakSanitizer, in sanitizer builds);
 *   (4) rpc/codec.c's codec_unpack, which leaves one large bytes field in
 *       the input instead of copying it, accepts exactly the same inputs and
 *       gives a message that packs to the same bytes (codec.c invariant 2).
 *   (5) codec_msg_decode with CODEC_SEGS, on the input cut into slices (of
 *       1, 7, 4096 and 16384 bytes in turn, from a start the input's size
 *       picks), accepts exactly the same inputs and gives a message that,
 *       with the bytes SEGS holds put back into its field, packs to the
 *       same bytes (codec.c invariant 3);
 *   (6) codec_encode_taking of the message unpacked again writes bytes that
 *       unpack to a message packing to the same bytes (codec.c invariant 4).
 * Length-delimited values the generator writes may be long (up to 128 KiB,
 * filled from the input and then a pattern), so that (4) meets fields past
 * CODEC_REF_MIN.
 */
#include "fuzz.h"

#include "cairn/v1/admin.pb-c.h"
#include "cairn/v1/fs.pb-c.h"
#include "cairn/v1/peer.pb-c.h"
#include "cairn/v1/session.pb-c.h"
#include "codec.h"

#include <grpc/byte_buffer_reader.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_codec: %s:%d: %s: property failed: %s\n", __FILE__, __LINE__,    \
                    d->name, #cond);                                                               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define MAX_TYPES 128

static const ProtobufCMessageDescriptor *types[MAX_TYPES];
static size_t n_types;

static void add_type(const ProtobufCMessageDescriptor *d)
{
    for (size_t i = 0; i < n_types; i++)
        if (types[i] == d)
            return;
    if (n_types == MAX_TYPES)
        abort(); /* programmer error: raise MAX_TYPES */
    types[n_types++] = d;
}

static void collect_types(void)
{
    static const ProtobufCServiceDescriptor *const services[] = {
        &cairn__v1__fs__descriptor,
        &cairn__v1__admin__descriptor,
        &cairn__v1__peer__descriptor,
        &cairn__v1__session__descriptor,
    };
    for (size_t s = 0; s < sizeof services / sizeof services[0]; s++)
        for (unsigned m = 0; m < services[s]->n_methods; m++) {
            add_type(services[s]->methods[m].input);
            add_type(services[s]->methods[m].output);
        }
}

/* 1 when M, or a message inside it, kept an unknown field numbered 0.
 * protobuf-c 1.4 refuses tag byte 0x00 but accepts field number 0 spelled
 * as a longer varint (80 00) and keeps it as an unknown field; packing it
 * writes 0x00, which does not unpack again. A library quirk, not cairn's:
 * such messages are exempt from the repack check (2). */
static int has_field_zero(const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < m->n_unknown_fields; i++)
        if (m->unknown_fields[i].tag == 0)
            return 1;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *base = (const char *)m;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            ProtobufCMessage *const *arr = *(ProtobufCMessage *const *const *)(base + f->offset);
            for (size_t k = 0; k < n; k++)
                if (arr[k] && has_field_zero(arr[k]))
                    return 1;
            continue;
        }
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + f->quantifier_offset) != f->id)
            continue;
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)(base + f->offset);
        if (sub && has_field_zero(sub))
            return 1;
    }
    return 0;
}

/* (4): codec_unpack's message for DATA packs to the N bytes at WANT (NULL:
 * protobuf refused DATA, so it must too). */
static void same_as_codec(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t size,
                          const uint8_t *want, size_t n)
{
    ProtobufCBinaryData *ref;
    ProtobufCMessage *m = codec_unpack(&ref, d, size, data);
    CHECK((m == NULL) == (want == NULL));
    if (!m)
        return;
    CHECK(!ref || (ref->data >= data && ref->data + ref->len <= data + size));
    CHECK(protobuf_c_message_get_packed_size(m) == n);
    uint8_t *out = malloc(n ? n : 1);
    CHECK(out != NULL);
    CHECK(protobuf_c_message_pack(m, out) == n);
    CHECK(memcmp(out, want, n) == 0);
    free(out);
    codec_free(m, ref);
}

/* (5): the same through codec_msg_decode with CODEC_SEGS, DATA in slices. */
static void same_as_segs(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t size,
                         const uint8_t *want, size_t n)
{
    static const size_t cuts[] = {1, 7, 4096, 16384};
    size_t cap = size + 1, k = 0;
    grpc_slice *sl = malloc(cap * sizeof *sl);
    CHECK(sl != NULL);
    for (size_t at = 0, c = size; at < size; k++, c++) {
        size_t l = cuts[c % 4] < size - at ? cuts[c % 4] : size - at;
        sl[k] = grpc_slice_from_copied_buffer((const char *)data + at, l);
        at += l;
    }
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(sl, k);
    for (size_t i = 0; i < k; i++)
        grpc_slice_unref(sl[i]);
    free(sl);
    struct codec_msg m;
    int rv = codec_msg_decode(&m, bb, d, SIZE_MAX, CODEC_SEGS);
    grpc_byte_buffer_destroy(bb);
    CHECK((rv == 0) == (want != NULL));
    if (rv != 0) {
        codec_msg_free(&m);
        return;
    }
    uint8_t *whole = NULL;
    if (m.segs.n > 0) { /* put the bytes back into their (empty) field */
        CHECK(m.ref && m.ref->len == 0 && m.segs.len >= CODEC_REF_MIN);
        whole = malloc(m.segs.len);
        CHECK(whole != NULL);
        size_t at = 0;
        for (int i = 0; i < m.segs.n; i++) {
            memcpy(whole + at, m.segs.iov[i].iov_base, m.segs.iov[i].iov_len);
            at += m.segs.iov[i].iov_len;
        }
        CHECK(at == m.segs.len);
        *m.ref = (ProtobufCBinaryData){at, whole};
    }
    CHECK(protobuf_c_message_get_packed_size(m.m) == n);
    uint8_t *out = malloc(n ? n : 1);
    CHECK(out != NULL);
    CHECK(protobuf_c_message_pack(m.m, out) == n);
    CHECK(memcmp(out, want, n) == 0);
    free(out);
    if (whole) {
        *m.ref = (ProtobufCBinaryData){0, NULL};
        free(whole);
    }
    codec_msg_free(&m);
}

static void unpack_as(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t size)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, size, data);
    if (!m) {
        same_as_codec(d, data, size, NULL, 0);
        same_as_segs(d, data, size, NULL, 0);
        return;
    }
    CHECK(m->descriptor == d);
    CHECK(protobuf_c_message_check(m)); /* (1) */

    size_t n = protobuf_c_message_get_packed_size(m); /* (2) */
    uint8_t *out = malloc(n ? n : 1);
    CHECK(out != NULL);
    CHECK(protobuf_c_message_pack(m, out) == n);
    same_as_codec(d, data, size, out, n); /* (4) */
    same_as_segs(d, data, size, out, n);  /* (5) */
    if (has_field_zero(m)) {
        free(out);
        protobuf_c_message_free_unpacked(m, NULL);
        return;
    }
    ProtobufCMessage *m2 = protobuf_c_message_unpack(d, NULL, n, out);
    CHECK(m2 != NULL);
    size_t n2 = protobuf_c_message_get_packed_size(m2);
    CHECK(n2 == n);
    uint8_t *out2 = malloc(n2 ? n2 : 1);
    CHECK(out2 != NULL);
    CHECK(protobuf_c_message_pack(m2, out2) == n2);
    CHECK(memcmp(out, out2, n) == 0);
    free(out2);
    /* (6) codec_encode_taking: the same message, its large field taken */
    grpc_byte_buffer *bb = codec_encode_taking(m2);
    grpc_byte_buffer_reader r;
    CHECK(grpc_byte_buffer_reader_init(&r, bb));
    grpc_slice all = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    grpc_byte_buffer_destroy(bb);
    ProtobufCMessage *m3 =
        protobuf_c_message_unpack(d, NULL, GRPC_SLICE_LENGTH(all), GRPC_SLICE_START_PTR(all));
    grpc_slice_unref(all);
    CHECK(m3 != NULL && protobuf_c_message_get_packed_size(m3) == n);
    out2 = malloc(n ? n : 1);
    CHECK(out2 != NULL);
    CHECK(protobuf_c_message_pack(m3, out2) == n);
    CHECK(memcmp(out, out2, n) == 0);
    free(out2);
    protobuf_c_message_free_unpacked(m3, NULL);
    free(out);
    protobuf_c_message_free_unpacked(m2, NULL); /* (3) */
    protobuf_c_message_free_unpacked(m, NULL);
}

/* ---- the generator ---- */

struct src {
    const uint8_t *p;
    size_t n;
};

struct out {
    uint8_t *p;
    size_t n, cap;
};

#define GEN_MAX (160u << 10)
#define GEN_DEPTH 4

static uint64_t take(struct src *s, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes && s->n; i++, s->p++, s->n--)
        v |= (uint64_t)s->p[0] << (8 * i);
    return v;
}

static void put_byte(struct out *o, uint8_t b)
{
    if (o->n < o->cap)
        o->p[o->n++] = b;
}

static void put_varint(struct out *o, uint64_t v)
{
    do {
        put_byte(o, (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
        v >>= 7;
    } while (v);
}

static void put_tag(struct out *o, uint32_t field, unsigned wire)
{
    put_varint(o, (uint64_t)field << 3 | wire);
}

/* A scalar value of field F's type, biased to boundaries. */
static uint64_t scalar(struct src *s)
{
    static const uint64_t edge[] = {
        0, 1, 0x7f, 0x80, 0xffffffffu, 0x7fffffffffffffffull, 0x8000000000000000ull, UINT64_MAX};
    uint64_t sel = take(s, 1);
    return sel < 32 ? edge[sel % 8] : take(s, sel % 8 + 1);
}

static int is_varint(ProtobufCType t)
{
    return t == PROTOBUF_C_TYPE_INT32 || t == PROTOBUF_C_TYPE_SINT32 ||
           t == PROTOBUF_C_TYPE_UINT32 || t == PROTOBUF_C_TYPE_INT64 ||
           t == PROTOBUF_C_TYPE_SINT64 || t == PROTOBUF_C_TYPE_UINT64 ||
           t == PROTOBUF_C_TYPE_BOOL || t == PROTOBUF_C_TYPE_ENUM;
}

static unsigned fixed_width(ProtobufCType t)
{
    if (t == PROTOBUF_C_TYPE_FIXED32 || t == PROTOBUF_C_TYPE_SFIXED32 || t == PROTOBUF_C_TYPE_FLOAT)
        return 4;
    if (t == PROTOBUF_C_TYPE_FIXED64 || t == PROTOBUF_C_TYPE_SFIXED64 ||
        t == PROTOBUF_C_TYPE_DOUBLE)
        return 8;
    return 0;
}

static void gen_message(struct out *o, const ProtobufCMessageDescriptor *d, struct src *s,
                        int depth);

/* Writes length-delimited BODY (built by the callback's bytes) at O. */
static void gen_delimited(struct out *o, struct src *s, const ProtobufCMessageDescriptor *sub,
                          int depth)
{
    struct out body = {malloc(GEN_MAX), 0, GEN_MAX};
    if (!body.p)
        abort();
    if (sub) {
        gen_message(&body, sub, s, depth + 1);
    } else {
        size_t len = take(s, 1);
        len = len < 200 ? len % 32 : take(s, 2) + (len >= 240 ? 65536 : 0);
        for (size_t i = 0; i < len; i++)
            put_byte(&body, s->n ? (uint8_t)take(s, 1) : (uint8_t)(i * 131));
    }
    uint64_t len = body.n;
    if (take(s, 1) == 0xff) /* a lying length now and then */
        len = scalar(s);
    put_varint(o, len);
    for (size_t i = 0; i < body.n; i++)
        put_byte(o, body.p[i]);
    free(body.p);
}

static void gen_value(struct out *o, const ProtobufCFieldDescriptor *f, struct src *s, int depth)
{
    unsigned w = fixed_width(f->type);
    if (is_varint(f->type)) {
        put_tag(o, f->id, 0);
        put_varint(o, scalar(s));
    } else if (w) {
        put_tag(o, f->id, w == 4 ? 5 : 1);
        uint64_t v = scalar(s);
        for (unsigned i = 0; i < w; i++)
            put_byte(o, (uint8_t)(v >> (8 * i)));
    } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        if (depth >= GEN_DEPTH)
            return;
        put_tag(o, f->id, 2);
        gen_delimited(o, s, f->descriptor, depth);
    } else { /* string, bytes */
        put_tag(o, f->id, 2);
        gen_delimited(o, s, NULL, depth);
    }
}

static void gen_message(struct out *o, const ProtobufCMessageDescriptor *d, struct src *s,
                        int depth)
{
    for (unsigned steps = take(s, 1) % 12; steps > 0 && s->n && o->n < o->cap; steps--) {
        uint8_t how = (uint8_t)take(s, 1);
        if (how >= 250 || d->n_fields == 0) { /* an unknown field, any wire type */
            unsigned wire = how % 6;
            put_tag(o, 1000 + (uint32_t)take(s, 1), wire);
            if (wire == 0)
                put_varint(o, scalar(s));
            else if (wire == 2)
                gen_delimited(o, s, NULL, depth);
            else
                for (unsigned i = 0; i < (wire == 1 ? 8u : 4u); i++)
                    put_byte(o, (uint8_t)take(s, 1));
            continue;
        }
        const ProtobufCFieldDescriptor *f = &d->fields[how % d->n_fields];
        if (how >= 240) { /* the right field number with the wrong wire type */
            put_tag(o, f->id, (how + 1) % 6);
            put_varint(o, scalar(s));
            continue;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED && (is_varint(f->type) || fixed_width(f->type)) &&
            (how & 1)) { /* packed */
            struct out body = {malloc(GEN_MAX), 0, GEN_MAX};
            if (!body.p)
                abort();
            unsigned w = fixed_width(f->type);
            for (unsigned k = take(s, 1) % 8; k > 0; k--) {
                uint64_t v = scalar(s);
                if (w)
                    for (unsigned i = 0; i < w; i++)
                        put_byte(&body, (uint8_t)(v >> (8 * i)));
                else
                    put_varint(&body, v);
            }
            put_tag(o, f->id, 2);
            put_varint(o, body.n);
            for (size_t i = 0; i < body.n; i++)
                put_byte(o, body.p[i]);
            free(body.p);
            continue;
        }
        gen_value(o, f, s, depth);
    }
}

static void generated(const uint8_t *data, size_t size)
{
    struct src s = {data, size};
    const ProtobufCMessageDescriptor *d = types[take(&s, 1) % n_types];
    struct out o = {malloc(GEN_MAX), 0, GEN_MAX};
    if (!o.p)
        abort();
    gen_message(&o, d, &s, 0);
    unpack_as(d, o.p, o.n);
    free(o.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!n_types)
        collect_types();
    if (size == 0)
        return 0;
    if (data[0] & 1) {
        for (size_t i = 0; i < n_types; i++)
            unpack_as(types[i], data + 1, size - 1);
    } else {
        generated(data + 1, size - 1);
    }
    return 0;
}
