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
 *  - codec_msg_decode with CODEC_SEGS (invariant 3), on the bytes cut into
 *    slices in several ways: a large data field last is left in the slices
 *    (the field empty, SEGS holding its bytes) and everything else is
 *    decoded as protobuf does: the field first, twice, unknown, short, a
 *    head longer than the decoder looks at, truncations; without the flag
 *    nothing is left in slices;
 *  - codec_encode_taking (invariant 4): a read piece encodes to codec_encode's
 *    bytes with its data taken, not copied, and reads back sliced; a large
 *    field that is not last by number goes last and decodes the same; a
 *    message with no large field encodes as codec_encode does;
 *  - codec_encode_lent: a write piece encodes to codec_encode's bytes, M is
 *    left as it was, and the lender's DONE runs once, after both the lender
 *    and the byte buffer let go (either order); the lent field short and
 *    another field large: nothing lent;
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

#include <grpc/byte_buffer_reader.h>

#include <stdlib.h>
#include <string.h>

#define BIG (2 * CODEC_REF_MIN)
#define SEG_BIG (CODEC_SEGS_MIN + 1000) /* a data field codec_msg_decode may leave in slices */

struct buf {
    uint8_t p[SEG_BIG + 3 * BIG];
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

static uint8_t pattern[SEG_BIG + 100];

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

/* A and B pack to the same bytes. */
static void assert_same(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    size_t an, bn;
    uint8_t *ap = packed(a, &an), *bp = packed(b, &bn);
    assert_int_equal(an, bn);
    assert_memory_equal(ap, bp, an);
    free(ap);
    free(bp);
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
    assert_same(want, got);
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
        assert_int_equal(codec_msg_decode(&m, bb, &cairn__v1__call_request__descriptor, 1 << 20, 0),
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
        assert_int_equal(codec_msg_decode(&m, bb, &cairn__v1__call_request__descriptor, 10, 0), -1);
        assert_null(m.m);
        codec_msg_free(&m);
        codec_msg_free(&m);
        grpc_byte_buffer_destroy(bb);
    }
}

/* P[0..N) as a byte buffer of slices CUT bytes long (the last one shorter;
 * CUT 0: a slice of 1, 7 and 16384 bytes in turn). */
static grpc_byte_buffer *sliced(const uint8_t *p, size_t n, size_t cut)
{
    static const size_t turn[] = {1, 7, 16384};
    grpc_slice *sl = malloc((n ? n : 1) * sizeof *sl);
    assert_non_null(sl);
    size_t k = 0;
    for (size_t at = 0; at < n; k++) {
        size_t l = cut ? cut : turn[k % 3];
        if (l > n - at)
            l = n - at;
        sl[k] = grpc_slice_from_copied_buffer((const char *)p + at, l);
        at += l;
    }
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(sl, k);
    for (size_t i = 0; i < k; i++)
        grpc_slice_unref(sl[i]);
    free(sl);
    return bb;
}

/* Invariant (3) on P[0..N) as a WriteRequest, cut into slices every way
 * sliced() knows: codec_msg_decode with CODEC_SEGS agrees with protobuf; 1
 * when the data was left in the slices (every way), 0 when not (any way),
 * and *OK whether it parsed. */
static int agree_segs(const uint8_t *p, size_t n, int *ok)
{
    const ProtobufCMessageDescriptor *d = wreq;
    static const size_t cuts[] = {0, 1, 1000, 16384, 65536, 1u << 20};
    ProtobufCMessage *want = protobuf_c_message_unpack(d, NULL, n, p);
    int in_slices = -1;
    *ok = want != NULL;
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        grpc_byte_buffer *bb = sliced(p, n, cuts[c]);
        struct codec_msg m;
        int rv = codec_msg_decode(&m, bb, d, RPC_MAX_MESSAGE, CODEC_SEGS);
        grpc_byte_buffer_destroy(bb); /* M keeps what it points into */
        assert_int_equal(rv, want ? 0 : -1);
        if (rv != 0) {
            assert_null(m.m);
            codec_msg_free(&m);
            continue;
        }
        int here = m.segs.n > 0;
        assert_true(in_slices < 0 || in_slices == here);
        in_slices = here;
        uint8_t *whole = NULL;
        ProtobufCBinaryData *bd = &((Cairn__V1__WriteRequest *)m.m)->data;
        if (here) { /* the field is empty; put its bytes back to compare */
            assert_int_equal(bd->len, 0);
            assert_ptr_equal(m.ref, bd);
            whole = malloc(m.segs.len + 1);
            assert_non_null(whole);
            size_t at = 0;
            for (int i = 0; i < m.segs.n; i++) {
                memcpy(whole + at, m.segs.iov[i].iov_base, m.segs.iov[i].iov_len);
                at += m.segs.iov[i].iov_len;
            }
            assert_int_equal(at, m.segs.len);
            *bd = (ProtobufCBinaryData){at, whole};
        }
        assert_same(want, m.m);
        if (here) { /* detach the copy before the message is freed */
            *bd = (ProtobufCBinaryData){0, NULL};
            free(whole);
        }
        codec_msg_free(&m);
        codec_msg_free(&m); /* a released one may be freed again */
    }
    if (want)
        protobuf_c_message_free_unpacked(want, NULL);
    return in_slices > 0;
}

static void test_large_last_field_left_in_slices(void **state)
{
    (void)state;
    int ok;
    static struct buf b;
    /* the usual order: left in the slices */
    b.n = 0;
    put_bytes(&b, 1, (const uint8_t *)"vol", 3);
    put_u64(&b, 2, 7);
    put_u64(&b, 3, 1u << 30);
    put_bytes(&b, 4, pattern, SEG_BIG);
    assert_int_equal(agree_segs(b.p, b.n, &ok), 1);
    assert_true(ok);
    /* the data alone, or preceded by an unknown field: still */
    b.n = 0;
    put_bytes(&b, 4, pattern, SEG_BIG);
    assert_int_equal(agree_segs(b.p, b.n, &ok), 1);
    b.n = 0;
    put_u64(&b, 99, 5);
    put_bytes(&b, 4, pattern, SEG_BIG);
    assert_int_equal(agree_segs(b.p, b.n, &ok), 1);
    /* without the flag: one piece, as before */
    grpc_byte_buffer *bb = sliced(b.p, b.n, 1000);
    struct codec_msg m;
    assert_int_equal(codec_msg_decode(&m, bb, wreq, RPC_MAX_MESSAGE, 0), 0);
    assert_int_equal(m.segs.n, 0);
    assert_int_equal(((Cairn__V1__WriteRequest *)m.m)->data.len, SEG_BIG);
    codec_msg_free(&m);
    grpc_byte_buffer_destroy(bb);
    /* too short to be worth it: decoded whole */
    b.n = 0;
    put_u64(&b, 2, 7);
    put_bytes(&b, 4, pattern, CODEC_SEGS_MIN - 100);
    assert_int_equal(agree_segs(b.p, b.n, &ok), 0);
    assert_true(ok);
}

static void test_other_layouts_decoded_whole(void **state)
{
    (void)state;
    int ok;
    static struct buf b;
    /* the data first, then another field */
    b.n = 0;
    put_bytes(&b, 4, pattern, SEG_BIG);
    put_u64(&b, 2, 7);
    assert_int_equal(agree_segs(b.p, b.n, &ok), 0);
    assert_true(ok);
    /* twice: protobuf keeps the last one */
    b.n = 0;
    put_bytes(&b, 4, pattern, 10);
    put_bytes(&b, 4, pattern + 1, SEG_BIG);
    assert_int_equal(agree_segs(b.p, b.n, &ok), 0);
    assert_true(ok);
    /* a large unknown field last */
    b.n = 0;
    put_u64(&b, 2, 7);
    put_bytes(&b, 99, pattern, SEG_BIG);
    assert_int_equal(agree_segs(b.p, b.n, &ok), 0);
    assert_true(ok);
    /* a head longer than the decoder looks at (a long volume name) */
    b.n = 0;
    put_bytes(&b, 1, pattern, 3000);
    put_bytes(&b, 4, pattern, SEG_BIG);
    assert_int_equal(agree_segs(b.p, b.n, &ok), 0);
    assert_true(ok);
    /* a padded tag (protobuf-c refuses tags over 5 bytes): rejected alike */
    b.n = 0;
    put_u64(&b, 2, 7);
    put_padded(&b, 4u << 3 | 2, 6);
    put_varint(&b, SEG_BIG);
    memcpy(b.p + b.n, pattern, SEG_BIG);
    b.n += SEG_BIG;
    agree_segs(b.p, b.n, &ok);
    /* truncations: in the head, in the data's length, in the data, one short */
    b.n = 0;
    put_bytes(&b, 1, (const uint8_t *)"vol", 3);
    put_u64(&b, 3, 300);
    put_bytes(&b, 4, pattern, SEG_BIG);
    size_t full = b.n;
    for (size_t n = 0; n < 16; n++)
        agree_segs(b.p, n, &ok);
    agree_segs(b.p, full / 2, &ok);
    assert_false(ok);
    agree_segs(b.p, full - 1, &ok);
    assert_false(ok);
    /* a length that claims more than there is, at the end */
    b.n = 0;
    put_u64(&b, 2, 7);
    put_varint(&b, 4u << 3 | 2);
    put_varint(&b, SEG_BIG + 1);
    memcpy(b.p + b.n, pattern, SEG_BIG);
    b.n += SEG_BIG;
    agree_segs(b.p, b.n, &ok);
    assert_false(ok);
}

/* BB's bytes in one new buffer (*N bytes); the caller frees it. */
static uint8_t *bb_bytes(grpc_byte_buffer *bb, size_t *n)
{
    grpc_byte_buffer_reader r;
    assert_true(grpc_byte_buffer_reader_init(&r, bb));
    grpc_slice s = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    *n = GRPC_SLICE_LENGTH(s);
    uint8_t *out = malloc(*n ? *n : 1);
    assert_non_null(out);
    memcpy(out, GRPC_SLICE_START_PTR(s), *n);
    grpc_slice_unref(s);
    return out;
}

/* Invariant (4): codec_encode_taking writes what codec_encode writes, with
 * the large bytes field taken (M's field left empty) and put last. */
static void test_encode_taking(void **state)
{
    (void)state;
    /* a read piece: the data is the last field anyway, so the same bytes */
    Cairn__V1__DataChunk dc = CAIRN__V1__DATA_CHUNK__INIT;
    dc.offset = 1u << 20;
    dc.data.len = SEG_BIG;
    dc.data.data = malloc(SEG_BIG);
    assert_non_null(dc.data.data);
    memcpy(dc.data.data, pattern, SEG_BIG);
    size_t wn, gn;
    grpc_byte_buffer *plain = codec_encode(&dc.base);
    uint8_t *w = bb_bytes(plain, &wn);
    grpc_byte_buffer_destroy(plain);
    grpc_byte_buffer *bb = codec_encode_taking(&dc.base);
    assert_int_equal(dc.data.len, 0); /* taken */
    assert_null(dc.data.data);
    uint8_t *g = bb_bytes(bb, &gn);
    assert_int_equal(wn, gn);
    assert_memory_equal(w, g, wn);
    /* and read back sliced, as a client reads a stream */
    struct codec_msg m;
    assert_int_equal(
        codec_msg_decode(&m, bb, &cairn__v1__data_chunk__descriptor, RPC_MAX_MESSAGE, CODEC_SEGS),
        0);
    assert_int_equal(m.segs.len, SEG_BIG);
    assert_int_equal(((Cairn__V1__DataChunk *)m.m)->offset, 1u << 20);
    codec_msg_free(&m);
    grpc_byte_buffer_destroy(bb); /* frees the taken data */
    free(w);
    free(g);
    /* a large field that is not the last by number goes last: same message */
    Cairn__V1__WriteRequest wr = CAIRN__V1__WRITE_REQUEST__INIT;
    wr.volume.len = BIG;
    wr.volume.data = malloc(BIG);
    assert_non_null(wr.volume.data);
    memcpy(wr.volume.data, pattern, BIG);
    wr.ino = 9;
    wr.data.len = 5;
    wr.data.data = (uint8_t *)"hello";
    plain = codec_encode(&wr.base);
    w = bb_bytes(plain, &wn);
    grpc_byte_buffer_destroy(plain);
    bb = codec_encode_taking(&wr.base); /* the byte buffer frees the volume's bytes */
    assert_null(wr.volume.data);
    assert_int_equal(wr.data.len, 5); /* short: stays */
    g = bb_bytes(bb, &gn);
    grpc_byte_buffer_destroy(bb);
    assert_int_equal(wn, gn);
    assert_memory_not_equal(w, g, wn); /* another order */
    ProtobufCMessage *a = protobuf_c_message_unpack(wreq, NULL, wn, w);
    ProtobufCMessage *b = protobuf_c_message_unpack(wreq, NULL, gn, g);
    assert_non_null(a);
    assert_non_null(b);
    const Cairn__V1__WriteRequest *bw = (const Cairn__V1__WriteRequest *)b;
    assert_int_equal(bw->volume.len, BIG);
    assert_memory_equal(bw->volume.data, pattern, BIG);
    assert_int_equal(bw->ino, 9);
    assert_memory_equal(bw->data.data, "hello", 5);
    assert_same(a, b);
    protobuf_c_message_free_unpacked(a, NULL);
    protobuf_c_message_free_unpacked(b, NULL);
    free(w);
    free(g);
    /* nothing large: as codec_encode */
    wr.volume = (ProtobufCBinaryData){3, (uint8_t *)"vol"};
    plain = codec_encode(&wr.base);
    w = bb_bytes(plain, &wn);
    grpc_byte_buffer_destroy(plain);
    bb = codec_encode_taking(&wr.base);
    assert_int_equal(wr.volume.len, 3);
    g = bb_bytes(bb, &gn);
    grpc_byte_buffer_destroy(bb);
    assert_int_equal(wn, gn);
    assert_memory_equal(w, g, wn);
    free(w);
    free(g);
}

static int lend_dones;

static void lend_done(void *arg)
{
    *(int *)arg += 1;
}

/* codec_encode_lent writes what codec_encode writes (the lent field last),
 * leaves M as it was, and the lender's DONE runs once, only when both the
 * lender and the byte buffer let go of the bytes, in either order. */
static void test_encode_lent(void **state)
{
    (void)state;
    Cairn__V1__WriteRequest wr = CAIRN__V1__WRITE_REQUEST__INIT;
    wr.volume = (ProtobufCBinaryData){3, (uint8_t *)"vol"};
    wr.ino = 7;
    wr.offset = 1u << 30;
    wr.data = (ProtobufCBinaryData){SEG_BIG, (uint8_t *)pattern};
    size_t wn, gn;
    grpc_byte_buffer *plain = codec_encode(&wr.base);
    uint8_t *w = bb_bytes(plain, &wn);
    grpc_byte_buffer_destroy(plain);
    for (int order = 0; order < 2; order++) {
        lend_dones = 0;
        struct rpc_lend *l = rpc_lend_new(4 /* data */, lend_done, &lend_dones);
        assert_non_null(l);
        grpc_byte_buffer *bb = codec_encode_lent(&wr.base, l);
        assert_int_equal(wr.data.len, SEG_BIG); /* M unchanged */
        assert_ptr_equal(wr.data.data, pattern);
        uint8_t *g = bb_bytes(bb, &gn);
        assert_int_equal(wn, gn); /* the data is the last field anyway: the same bytes */
        assert_memory_equal(w, g, wn);
        free(g);
        if (order == 0) {
            rpc_lend_end(l);
            assert_int_equal(lend_dones, 0); /* the byte buffer still refers to it */
            grpc_byte_buffer_destroy(bb);
        } else {
            grpc_byte_buffer_destroy(bb);
            assert_int_equal(lend_dones, 0); /* the lender has not ended */
            rpc_lend_end(l);
        }
        assert_int_equal(lend_dones, 1);
    }
    /* the lent field short, another one large: as codec_encode, nothing lent */
    wr.data = (ProtobufCBinaryData){5, (uint8_t *)"hello"};
    wr.volume = (ProtobufCBinaryData){SEG_BIG, (uint8_t *)pattern};
    plain = codec_encode(&wr.base);
    free(w);
    w = bb_bytes(plain, &wn);
    grpc_byte_buffer_destroy(plain);
    lend_dones = 0;
    struct rpc_lend *l = rpc_lend_new(4, lend_done, &lend_dones);
    assert_non_null(l);
    grpc_byte_buffer *bb = codec_encode_lent(&wr.base, l);
    rpc_lend_end(l);
    assert_int_equal(lend_dones, 1); /* the byte buffer refers to none of it */
    uint8_t *g = bb_bytes(bb, &gn);
    grpc_byte_buffer_destroy(bb);
    assert_int_equal(wn, gn);
    assert_memory_equal(w, g, wn);
    free(w);
    free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_large_field_in_place),
        cmocka_unit_test(test_no_reference_when_not_alone_or_short),
        cmocka_unit_test(test_truncated_and_changed_bytes),
        cmocka_unit_test(test_padded_varints),
        cmocka_unit_test(test_envelope_round_trip),
        cmocka_unit_test(test_large_last_field_left_in_slices),
        cmocka_unit_test(test_other_layouts_decoded_whole),
        cmocka_unit_test(test_encode_taking),
        cmocka_unit_test(test_encode_lent),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
