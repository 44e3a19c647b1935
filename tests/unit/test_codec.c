/*
 * test_codec.c — unit tests for rpc/codec.c's decoders that leave a large
 * bytes field in place (codec_unpack, codec_msg_decode) and for
 * codec_encode_with.
 *
 * Covers codec.c invariant (2): a message from codec_unpack accepts exactly
 * the bytes protobuf_c_message_unpack accepts and holds the same values,
 * checked by packing both and comparing the bytes:
 *  - a large data field last (the usual order), first, or between the
 *    others: it points into the input, the other fields are right;
 *  - the data field twice (protobuf keeps the last): no reference, the last
 *    value; a short data field: no reference; a large unknown field: kept
 *    as protobuf keeps it;
 *  - every truncation and every single-byte change of a message with a large
 *    field: NULL exactly when protobuf rejects it, the same message when not;
 *  - two large bytes fields, or a large string: nothing left in place;
 *  - tags and lengths padded past the 5 bytes protobuf-c reads: refused;
 *  - codec_encode_with + codec_msg_decode round-trip a session envelope with
 *    a large body and with none; a message over the size limit is refused
 *    and the released codec_msg can be freed again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cairn/v1/fs.pb-c.h"
#include "cairn/v1/session.pb-c.h"
#include "codec.h"

#include <stdlib.h>
#include <string.h>

#define BIG (2 * CODEC_REF_MIN)

struct buf {
    uint8_t p[3 * BIG];
    size_t n;
};

static void put_varint(struct buf *b, uint64_t v)
{
    while (v >= 0x80) {
        b->p[b->n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b->p[b->n++] = (uint8_t)v;
}

/* V as a varint padded to exactly W bytes (W >= its plain length). */
static void put_padded(struct buf *b, uint64_t v, unsigned w)
{
    for (unsigned i = 0; i + 1 < w; i++, v >>= 7)
        b->p[b->n++] = (uint8_t)(v | 0x80);
    b->p[b->n++] = (uint8_t)(v & 0x7f);
}

static void put_bytes(struct buf *b, uint32_t field, const uint8_t *data, size_t len)
{
    put_varint(b, (uint64_t)field << 3 | 2);
    put_varint(b, len);
    memcpy(b->p + b->n, data, len);
    b->n += len;
}

static void put_u64(struct buf *b, uint32_t field, uint64_t v)
{
    put_varint(b, (uint64_t)field << 3);
    put_varint(b, v);
}

static uint8_t pattern[BIG + 100];

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (uint8_t)(i * 131 + 7);
    return 0;
}

/* Packs M into a new buffer (*N bytes); the caller frees it. */
static uint8_t *packed(const ProtobufCMessage *m, size_t *n)
{
    *n = protobuf_c_message_get_packed_size(m);
    uint8_t *out = malloc(*n ? *n : 1);
    assert_non_null(out);
    assert_int_equal(protobuf_c_message_pack(m, out), *n);
    return out;
}

/* Invariant (2) on P[0..N) as D: both decoders agree. Returns the field
 * codec_unpack left in place (NULL: none); *OK says whether it parsed. */
static const ProtobufCBinaryData *agree(const ProtobufCMessageDescriptor *d, const uint8_t *p,
                                        size_t n, int *ok)
{
    ProtobufCMessage *want = protobuf_c_message_unpack(d, NULL, n, p);
    ProtobufCBinaryData *ref = (ProtobufCBinaryData *)(uintptr_t)1;
    ProtobufCMessage *got = codec_unpack(&ref, d, n, p);
    assert_true((want == NULL) == (got == NULL));
    *ok = got != NULL;
    if (!got) {
        assert_null(ref);
        return NULL;
    }
    size_t wn, gn;
    uint8_t *w = packed(want, &wn), *g = packed(got, &gn);
    assert_int_equal(wn, gn);
    assert_memory_equal(w, g, wn);
    free(w);
    free(g);
    if (ref) { /* it points into P, inside GOT */
        assert_true(ref->data >= p && ref->data + ref->len <= p + n);
        assert_true((uint8_t *)ref >= (uint8_t *)got &&
                    (uint8_t *)ref < (uint8_t *)got + d->sizeof_message);
    }
    static ProtobufCBinaryData seen;
    seen = ref ? *ref : (ProtobufCBinaryData){0, NULL};
    codec_free(got, ref);
    protobuf_c_message_free_unpacked(want, NULL);
    return ref ? &seen : NULL;
}

static const ProtobufCMessageDescriptor *wreq = &cairn__v1__write_request__descriptor;

static void test_large_field_in_place(void **state)
{
    (void)state;
    for (int order = 0; order < 3; order++) {
        struct buf b = {.n = 0};
        if (order == 1)
            put_bytes(&b, 4, pattern, BIG);
        put_bytes(&b, 1, (const uint8_t *)"vol", 3);
        put_u64(&b, 2, 7);
        if (order == 2)
            put_bytes(&b, 4, pattern, BIG);
        put_u64(&b, 3, 1u << 30);
        if (order == 0)
            put_bytes(&b, 4, pattern, BIG);
        ProtobufCBinaryData *ref;
        Cairn__V1__WriteRequest *r = (Cairn__V1__WriteRequest *)codec_unpack(&ref, wreq, b.n, b.p);
        assert_non_null(r);
        assert_ptr_equal(ref, &r->data);
        assert_int_equal(r->data.len, BIG);
        assert_true(r->data.data > b.p && r->data.data < b.p + b.n); /* not a copy */
        assert_memory_equal(r->data.data, pattern, BIG);
        assert_int_equal(r->volume.len, 3);
        assert_memory_equal(r->volume.data, "vol", 3);
        assert_int_equal(r->ino, 7);
        assert_int_equal(r->offset, 1u << 30);
        codec_free(&r->base, ref);
        int ok;
        assert_non_null(agree(wreq, b.p, b.n, &ok));
        assert_true(ok);
    }
}

static void test_no_reference_when_not_alone_or_short(void **state)
{
    (void)state;
    int ok;
    /* twice: protobuf keeps the last one, so must we */
    struct buf b = {.n = 0};
    put_bytes(&b, 4, pattern, BIG);
    put_bytes(&b, 4, pattern + 1, BIG - 1);
    assert_null(agree(wreq, b.p, b.n, &ok));
    assert_true(ok);
    ProtobufCBinaryData *ref;
    Cairn__V1__WriteRequest *r = (Cairn__V1__WriteRequest *)codec_unpack(&ref, wreq, b.n, b.p);
    assert_non_null(r);
    assert_int_equal(r->data.len, BIG - 1);
    assert_memory_equal(r->data.data, pattern + 1, BIG - 1);
    codec_free(&r->base, ref);
    /* a short one, then a large one elsewhere: one occurrence each is not enough */
    b.n = 0;
    put_bytes(&b, 4, pattern, 10);
    put_bytes(&b, 4, pattern, BIG);
    assert_null(agree(wreq, b.p, b.n, &ok));
    assert_true(ok);
    /* short */
    b.n = 0;
    put_bytes(&b, 4, pattern, CODEC_REF_MIN - 1);
    assert_null(agree(wreq, b.p, b.n, &ok));
    assert_true(ok);
    /* a large unknown field stays an unknown field */
    b.n = 0;
    put_u64(&b, 2, 5);
    put_bytes(&b, 99, pattern, BIG);
    assert_null(agree(wreq, b.p, b.n, &ok));
    assert_true(ok);
    /* any bytes field may be the one: here the volume */
    b.n = 0;
    put_bytes(&b, 1, pattern, BIG);
    assert_non_null(agree(wreq, b.p, b.n, &ok));
    /* but only one: two large fields are both copied */
    put_bytes(&b, 4, pattern, BIG);
    assert_null(agree(wreq, b.p, b.n, &ok));
    assert_true(ok);
    /* a large string is not bytes (CallRequest.method) */
    static uint8_t str[BIG];
    memset(str, 'a', sizeof str);
    b.n = 0;
    put_bytes(&b, 1, str, BIG);
    assert_null(agree(&cairn__v1__call_request__descriptor, b.p, b.n, &ok));
    assert_true(ok);
}

static void test_truncated_and_changed_bytes(void **state)
{
    (void)state;
    struct buf b = {.n = 0};
    put_bytes(&b, 1, (const uint8_t *)"v", 1);
    put_u64(&b, 3, 300);
    put_bytes(&b, 4, pattern, CODEC_REF_MIN);
    put_u64(&b, 2, 9);
    int ok, parsed = 0, refs = 0;
    for (size_t n = 0; n <= b.n; n++) {
        if (agree(wreq, b.p, n, &ok))
            refs++;
        parsed += ok;
    }
    assert_int_equal(refs, 2); /* cut right after the data field, and not cut */
    assert_true(parsed > refs && parsed < (int)b.n);
    /* every byte changed to each of a few values */
    static const uint8_t vals[] = {0x00, 0x02, 0x07, 0x0a, 0x22, 0x7f, 0x80, 0xff};
    for (size_t i = 0; i < b.n; i++) {
        uint8_t keep = b.p[i];
        for (size_t k = 0; k < sizeof vals; k++) {
            b.p[i] = vals[k];
            agree(wreq, b.p, b.n, &ok);
        }
        b.p[i] = keep;
    }
}

/* protobuf-c reads tags and lengths of at most 5 bytes: a longer (padded)
 * one is refused by both decoders, a 5-byte one accepted by both. */
static void test_padded_varints(void **state)
{
    (void)state;
    for (unsigned w = 2; w <= 7; w++) {
        for (int which = 0; which < 2; which++) {
            struct buf b = {.n = 0};
            put_u64(&b, 2, 1);
            if (which == 0) { /* padded tag */
                put_padded(&b, 4 << 3 | 2, w);
                put_varint(&b, BIG);
            } else { /* padded length */
                put_varint(&b, 4 << 3 | 2);
                put_padded(&b, BIG, w);
            }
            memcpy(b.p + b.n, pattern, BIG);
            b.n += BIG;
            int ok;
            const ProtobufCBinaryData *ref = agree(wreq, b.p, b.n, &ok);
            assert_int_equal(ok, w <= 5);
            assert_int_equal(ref != NULL, w <= 5);
        }
    }
}

static void test_envelope_round_trip(void **state)
{
    (void)state;
    for (size_t len = 0; len <= BIG; len += BIG) {
        Cairn__V1__CallRequest rq = CAIRN__V1__CALL_REQUEST__INIT;
        rq.method = (char *)"/cairn.v1.Fs/Write";
        ProtobufCBinaryData body = {len, len ? malloc(len) : NULL};
        if (len) {
            assert_non_null(body.data);
            memcpy(body.data, pattern, len);
        }
        grpc_byte_buffer *bb = codec_encode_with(&rq.base, 2, &body);
        assert_non_null(bb);
        assert_null(body.data); /* taken */
        assert_int_equal(body.len, 0);
        struct codec_msg m;
        assert_int_equal(codec_msg_decode(&m, bb, &cairn__v1__call_request__descriptor, 1 << 20),
                         0);
        const Cairn__V1__CallRequest *got = (const Cairn__V1__CallRequest *)m.m;
        assert_string_equal(got->method, "/cairn.v1.Fs/Write");
        assert_int_equal(got->body.len, len);
        if (len) {
            assert_ptr_equal(m.ref, &((Cairn__V1__CallRequest *)m.m)->body);
            assert_memory_equal(got->body.data, pattern, len);
        } else {
            assert_null(m.ref);
        }
        codec_msg_free(&m);
        /* over the limit: refused, and nothing to free twice */
        assert_int_equal(codec_msg_decode(&m, bb, &cairn__v1__call_request__descriptor, 10), -1);
        assert_null(m.m);
        codec_msg_free(&m);
        codec_msg_free(&m);
        grpc_byte_buffer_destroy(bb);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_large_field_in_place),
        cmocka_unit_test(test_no_reference_when_not_alone_or_short),
        cmocka_unit_test(test_truncated_and_changed_bytes),
        cmocka_unit_test(test_padded_varints),
        cmocka_unit_test(test_envelope_round_trip),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
