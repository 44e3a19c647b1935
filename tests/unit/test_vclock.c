/*
 * test_vclock.c — unit tests for daemon/vclock.c (version vectors).
 *
 * Covers the algebra of vclock.c's invariants: (1) entries sorted and
 * strictly increasing by origin, (2) no zero seqs, (3) merge commutative,
 * associative and idempotent, compare consistent with dominates. Random
 * vectors (seeded with tu_seed, bounded iterations) are checked against a
 * dense array model over a small origin alphabet, so overlaps and equal
 * entries are common. Also vv_raise, vv_contains, vv_copy, and the byte
 * encoding: roundtrip, exact layout, and vv_decode rejecting unsorted,
 * duplicate, zero-seq and truncated input with CAIRN_EFORMAT.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bytes.h"
#include "cairn_err.h"
#include "testutil.h"
#include "vclock.h"

#define ITERS 2000
/* The origin alphabet of random vectors: small values, a gap, the maximum. */
static const uint32_t origins[] = {1, 2, 3, 4, 5, 7, 100, 65536, 0x7fffffffu, 0xffffffffu};
#define NORIG (sizeof origins / sizeof origins[0])

/* Dense model of a vector: model[i] is the seq of origins[i] (0 = absent). */
struct model {
    uint64_t s[NORIG];
};

/* A random vector over the alphabet, seqs small so equal entries happen. */
static void rand_vv(uint64_t *rng, struct vv *v, struct model *m)
{
    vv_clear(v);
    memset(m, 0, sizeof *m);
    unsigned k = (unsigned)(tu_rand(rng) % (NORIG + 1));
    for (unsigned j = 0; j < k; j++) {
        unsigned i = (unsigned)(tu_rand(rng) % NORIG);
        uint64_t seq = tu_rand(rng) % 5; /* 0 must be ignored by vv_raise */
        if (tu_rand(rng) % 16 == 0)
            seq = UINT64_MAX - tu_rand(rng) % 3;
        vv_raise(v, origins[i], seq);
        if (seq > m->s[i])
            m->s[i] = seq;
    }
}

/* Invariants (1) and (2), and agreement with the model. */
static void check_vv(const struct vv *v, const struct model *m)
{
    for (uint32_t i = 0; i < v->n; i++) {
        assert_true(v->e[i].seq != 0);
        if (i > 0)
            assert_true(v->e[i - 1].origin < v->e[i].origin);
    }
    uint32_t present = 0;
    for (unsigned i = 0; i < NORIG; i++) {
        assert_int_equal(vv_get(v, origins[i]), m->s[i]);
        present += m->s[i] != 0;
    }
    assert_int_equal(v->n, present);
}

static int vv_equal(const struct vv *a, const struct vv *b)
{
    if (a->n != b->n)
        return 0;
    for (uint32_t i = 0; i < a->n; i++)
        if (a->e[i].origin != b->e[i].origin || a->e[i].seq != b->e[i].seq)
            return 0;
    return 1;
}

static enum vv_order model_compare(const struct model *a, const struct model *b)
{
    int a_more = 0, b_more = 0;
    for (unsigned i = 0; i < NORIG; i++) {
        a_more |= a->s[i] > b->s[i];
        b_more |= a->s[i] < b->s[i];
    }
    return a_more && b_more ? VV_CONCURRENT : a_more ? VV_AFTER : b_more ? VV_BEFORE : VV_EQUAL;
}

static void vv_raise_keeps_entries_sorted_and_maximal(void **state)
{
    (void)state;
    uint64_t rng = tu_seed(__func__);
    struct vv v;
    vv_init(&v);
    struct model m;
    memset(&m, 0, sizeof m);
    for (int it = 0; it < ITERS; it++) {
        unsigned i = (unsigned)(tu_rand(&rng) % NORIG);
        uint64_t seq = tu_rand(&rng) % 6;
        vv_raise(&v, origins[i], seq);
        if (seq > m.s[i])
            m.s[i] = seq;
        check_vv(&v, &m);
    }
    vv_fini(&v);
}

static void vv_raise_with_zero_seq_adds_nothing(void **state)
{
    (void)state;
    struct vv v;
    vv_init(&v);
    vv_raise(&v, 9, 0);
    assert_int_equal(v.n, 0);
    vv_raise(&v, 9, 3);
    vv_raise(&v, 9, 0);
    assert_int_equal(v.n, 1);
    assert_int_equal(vv_get(&v, 9), 3);
    vv_raise(&v, 9, 2); /* lower: no effect */
    assert_int_equal(vv_get(&v, 9), 3);
    assert_int_equal(vv_get(&v, 8), 0);
    vv_fini(&v);
}

static void vv_merge_is_pointwise_max(void **state)
{
    (void)state;
    uint64_t rng = tu_seed(__func__);
    struct vv a, b;
    struct model ma, mb;
    vv_init(&a);
    vv_init(&b);
    for (int it = 0; it < ITERS; it++) {
        rand_vv(&rng, &a, &ma);
        rand_vv(&rng, &b, &mb);
        check_vv(&a, &ma);
        vv_merge(&a, &b);
        for (unsigned i = 0; i < NORIG; i++)
            ma.s[i] = ma.s[i] > mb.s[i] ? ma.s[i] : mb.s[i];
        check_vv(&a, &ma);
        check_vv(&b, &mb); /* the source is untouched */
    }
    vv_fini(&a);
    vv_fini(&b);
}

static void vv_merge_is_commutative(void **state)
{
    (void)state;
    uint64_t rng = tu_seed(__func__);
    struct vv a, b, ab, ba;
    struct model ma, mb;
    vv_init(&a);
    vv_init(&b);
    vv_init(&ab);
    vv_init(&ba);
    for (int it = 0; it < ITERS; it++) {
        rand_vv(&rng, &a, &ma);
        rand_vv(&rng, &b, &mb);
        vv_copy(&ab, &a);
        vv_merge(&ab, &b);
        vv_copy(&ba, &b);
        vv_merge(&ba, &a);
        assert_true(vv_equal(&ab, &ba));
        assert_int_equal(vv_compare(&ab, &ba), VV_EQUAL);
    }
    vv_fini(&a);
    vv_fini(&b);
    vv_fini(&ab);
    vv_fini(&ba);
}

static void vv_merge_is_associative(void **state)
{
    (void)state;
    uint64_t rng = tu_seed(__func__);
    struct vv a, b, c, left, right, bc;
    struct model ma, mb, mc;
    vv_init(&a);
    vv_init(&b);
    vv_init(&c);
    vv_init(&left);
    vv_init(&right);
    vv_init(&bc);
    for (int it = 0; it < ITERS; it++) {
        rand_vv(&rng, &a, &ma);
        rand_vv(&rng, &b, &mb);
        rand_vv(&rng, &c, &mc);
        /* (a + b) + c */
        vv_copy(&left, &a);
        vv_merge(&left, &b);
        vv_merge(&left, &c);
        /* a + (b + c) */
        vv_copy(&bc, &b);
        vv_merge(&bc, &c);
        vv_copy(&right, &a);
        vv_merge(&right, &bc);
        assert_true(vv_equal(&left, &right));
    }
    vv_fini(&a);
    vv_fini(&b);
    vv_fini(&c);
    vv_fini(&left);
    vv_fini(&right);
    vv_fini(&bc);
}

static void vv_merge_is_idempotent(void **state)
{
    (void)state;
    uint64_t rng = tu_seed(__func__);
    struct vv a, b, once, twice;
    struct model ma, mb;
    vv_init(&a);
    vv_init(&b);
    vv_init(&once);
    vv_init(&twice);
    for (int it = 0; it < ITERS; it++) {
        rand_vv(&rng, &a, &ma);
        rand_vv(&rng, &b, &mb);
        vv_copy(&once, &a);
        vv_merge(&once, &a); /* a + a = a */
        assert_true(vv_equal(&once, &a));
        vv_merge(&once, &once); /* merging a vector into itself */
        assert_true(vv_equal(&once, &a));
        vv_merge(&once, &b);
        vv_copy(&twice, &once);
        vv_merge(&twice, &b); /* (a + b) + b = a + b */
        assert_true(vv_equal(&once, &twice));
    }
    vv_fini(&a);
    vv_fini(&b);
    vv_fini(&once);
    vv_fini(&twice);
}

static void vv_merge_result_dominates_both_inputs(void **state)
{
    (void)state;
    uint64_t rng = tu_seed(__func__);
    struct vv a, b, m;
    struct model ma, mb;
    vv_init(&a);
    vv_init(&b);
    vv_init(&m);
    for (int it = 0; it < ITERS; it++) {
        rand_vv(&rng, &a, &ma);
        rand_vv(&rng, &b, &mb);
        vv_copy(&m, &a);
        vv_merge(&m, &b);
        assert_true(vv_dominates(&m, &a));
        assert_true(vv_dominates(&m, &b));
    }
    vv_fini(&a);
    vv_fini(&b);
    vv_fini(&m);
}

static void vv_compare_agrees_with_pointwise_model(void **state)
{
    (void)state;
    uint64_t rng = tu_seed(__func__);
    struct vv a, b;
    struct model ma, mb;
    vv_init(&a);
    vv_init(&b);
    unsigned seen[4] = {0};
    for (int it = 0; it < ITERS * 2; it++) {
        rand_vv(&rng, &a, &ma);
        if (tu_rand(&rng) % 4 == 0) { /* make EQUAL/BEFORE/AFTER common */
            vv_copy(&b, &a);
            mb = ma;
            unsigned i = (unsigned)(tu_rand(&rng) % NORIG);
            uint64_t seq = tu_rand(&rng) % 5;
            vv_raise(&b, origins[i], seq);
            if (seq > mb.s[i])
                mb.s[i] = seq;
        } else {
            rand_vv(&rng, &b, &mb);
        }
        enum vv_order want = model_compare(&ma, &mb);
        seen[want]++;
        assert_int_equal(vv_compare(&a, &b), want);
    }
    /* the generator exercised every outcome */
    for (int o = 0; o < 4; o++)
        assert_true(seen[o] > 0);
    vv_fini(&a);
    vv_fini(&b);
}

static void vv_compare_is_consistent_with_dominates(void **state)
{
    (void)state;
    uint64_t rng = tu_seed(__func__);
    struct vv a, b;
    struct model ma, mb;
    vv_init(&a);
    vv_init(&b);
    for (int it = 0; it < ITERS; it++) {
        rand_vv(&rng, &a, &ma);
        rand_vv(&rng, &b, &mb);
        if (it % 3 == 0)
            vv_merge(&b, &a); /* b dominates a */
        int ab = vv_dominates(&a, &b), ba = vv_dominates(&b, &a);
        /* dominates against the model: every entry of b is <= a's */
        int want_ab = 1, want_ba = 1;
        for (unsigned i = 0; i < NORIG; i++) {
            want_ab &= vv_get(&a, origins[i]) >= vv_get(&b, origins[i]);
            want_ba &= vv_get(&b, origins[i]) >= vv_get(&a, origins[i]);
        }
        assert_int_equal(ab, want_ab);
        assert_int_equal(ba, want_ba);
        enum vv_order o = vv_compare(&a, &b), r = vv_compare(&b, &a);
        assert_int_equal(o == VV_EQUAL, ab && ba);
        assert_int_equal(o == VV_AFTER, ab && !ba);
        assert_int_equal(o == VV_BEFORE, !ab && ba);
        assert_int_equal(o == VV_CONCURRENT, !ab && !ba);
        /* antisymmetry: swapping the arguments mirrors the answer */
        enum vv_order mirror[] = {VV_EQUAL, VV_AFTER, VV_BEFORE, VV_CONCURRENT};
        assert_int_equal(r, mirror[o]);
    }
    vv_fini(&a);
    vv_fini(&b);
}

static void vv_compare_of_empty_vectors(void **state)
{
    (void)state;
    struct vv e, x;
    vv_init(&e);
    vv_init(&x);
    assert_int_equal(vv_compare(&e, &e), VV_EQUAL);
    vv_raise(&x, 4, 1);
    assert_int_equal(vv_compare(&x, &e), VV_AFTER);
    assert_int_equal(vv_compare(&e, &x), VV_BEFORE);
    assert_true(vv_dominates(&x, &e));
    assert_false(vv_dominates(&e, &x));
    vv_fini(&e);
    vv_fini(&x);
}

static void vv_contains_covers_dots_up_to_the_entry(void **state)
{
    (void)state;
    struct vv v;
    vv_init(&v);
    vv_raise(&v, 2, 5);
    vv_raise(&v, 0xffffffffu, 1);
    for (uint64_t s = 1; s <= 5; s++)
        assert_true(vv_contains(&v, (struct dot){2, s}));
    assert_false(vv_contains(&v, (struct dot){2, 6}));
    assert_false(vv_contains(&v, (struct dot){2, 0})); /* seq 0 names no record */
    assert_false(vv_contains(&v, (struct dot){1, 1}));
    assert_false(vv_contains(&v, (struct dot){3, 1}));
    assert_true(vv_contains(&v, (struct dot){0xffffffffu, 1}));
    assert_false(vv_contains(&v, (struct dot){0xffffffffu, 2}));
    struct vv e;
    vv_init(&e);
    assert_false(vv_contains(&e, (struct dot){1, 1}));
    vv_fini(&e);
    vv_fini(&v);
}

static void vv_copy_is_independent_of_its_source(void **state)
{
    (void)state;
    uint64_t rng = tu_seed(__func__);
    struct vv a, b;
    struct model ma, mb;
    vv_init(&a);
    vv_init(&b);
    for (int it = 0; it < 200; it++) {
        rand_vv(&rng, &a, &ma);
        rand_vv(&rng, &b, &mb); /* old entries of the destination are dropped */
        vv_copy(&b, &a);
        check_vv(&b, &ma);
        vv_raise(&a, 6, 1000);
        check_vv(&b, &ma);
        vv_copy(&a, &a); /* self-copy is a no-op */
        assert_int_equal(vv_get(&a, 6), 1000);
    }
    vv_fini(&a);
    vv_fini(&b);
}

static void vv_encode_decode_roundtrip(void **state)
{
    (void)state;
    uint64_t rng = tu_seed(__func__);
    struct vv a, b;
    struct model ma;
    vv_init(&a);
    vv_init(&b);
    uint8_t buf[2 + NORIG * 12 + 7];
    for (int it = 0; it < ITERS; it++) {
        rand_vv(&rng, &a, &ma);
        size_t n = vv_encoded_len(&a);
        assert_int_equal(n, 2 + (size_t)a.n * 12);
        memset(buf, 0xa5, sizeof buf);
        vv_encode(&a, buf);
        size_t used = 0;
        vv_raise(&b, 3, 99); /* stale contents are replaced */
        /* trailing bytes are left alone and not counted */
        assert_int_equal(vv_decode(&b, buf, n + (size_t)(it % 8), &used), 0);
        assert_int_equal(used, n);
        check_vv(&b, &ma);
        assert_int_equal(vv_decode(&b, buf, n, NULL), 0);
        assert_true(vv_equal(&a, &b));
    }
    vv_fini(&a);
    vv_fini(&b);
}

static void vv_encode_writes_little_endian_count_then_sorted_entries(void **state)
{
    (void)state;
    struct vv v;
    vv_init(&v);
    vv_raise(&v, 0x01020304u, 0x1122334455667788ull);
    vv_raise(&v, 1, 2);
    uint8_t buf[2 + 2 * 12];
    assert_int_equal(vv_encoded_len(&v), sizeof buf);
    vv_encode(&v, buf);
    static const uint8_t want[] = {
        2, 0,                                                    /* count */
        1, 0, 0, 0, 2,    0,    0,    0,    0,    0,    0,    0, /* 1:2 */
        4, 3, 2, 1, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11};
    assert_memory_equal(buf, want, sizeof want);
    vv_fini(&v);
}

/* Builds an encoding of N raw entries (not validated). */
static size_t raw_encoding(uint8_t *out, const struct vv_entry *e, unsigned n)
{
    put_le16(out, (uint16_t)n);
    for (unsigned i = 0; i < n; i++) {
        put_le32(out + 2 + 12 * i, e[i].origin);
        put_le64(out + 6 + 12 * i, e[i].seq);
    }
    return 2 + 12 * (size_t)n;
}

static void vv_decode_rejects_unsorted_entries(void **state)
{
    (void)state;
    struct vv v;
    vv_init(&v);
    uint8_t buf[64];
    struct vv_entry e[] = {{1, 1}, {5, 2}, {3, 1}};
    size_t n = raw_encoding(buf, e, 3);
    assert_int_equal(vv_decode(&v, buf, n, NULL), CAIRN_EFORMAT);
    struct vv_entry e2[] = {{0xffffffffu, 1}, {0, 1}};
    n = raw_encoding(buf, e2, 2);
    assert_int_equal(vv_decode(&v, buf, n, NULL), CAIRN_EFORMAT);
    /* the same entries in order are accepted */
    struct vv_entry ok[] = {{0, 1}, {3, 1}, {5, 2}};
    n = raw_encoding(buf, ok, 3);
    assert_int_equal(vv_decode(&v, buf, n, NULL), 0);
    assert_int_equal(v.n, 3);
    vv_fini(&v);
}

static void vv_decode_rejects_duplicate_origins(void **state)
{
    (void)state;
    struct vv v;
    vv_init(&v);
    uint8_t buf[64];
    struct vv_entry e[] = {{1, 1}, {4, 2}, {4, 2}};
    size_t n = raw_encoding(buf, e, 3);
    assert_int_equal(vv_decode(&v, buf, n, NULL), CAIRN_EFORMAT);
    struct vv_entry e2[] = {{7, 1}, {7, 9}};
    n = raw_encoding(buf, e2, 2);
    assert_int_equal(vv_decode(&v, buf, n, NULL), CAIRN_EFORMAT);
    vv_fini(&v);
}

static void vv_decode_rejects_zero_seq(void **state)
{
    (void)state;
    struct vv v;
    vv_init(&v);
    uint8_t buf[64];
    struct vv_entry e[] = {{1, 0}};
    size_t n = raw_encoding(buf, e, 1);
    assert_int_equal(vv_decode(&v, buf, n, NULL), CAIRN_EFORMAT);
    struct vv_entry e2[] = {{1, 3}, {2, 0}, {3, 1}};
    n = raw_encoding(buf, e2, 3);
    assert_int_equal(vv_decode(&v, buf, n, NULL), CAIRN_EFORMAT);
    vv_fini(&v);
}

static void vv_decode_rejects_truncated_input(void **state)
{
    (void)state;
    struct vv v;
    vv_init(&v);
    uint8_t buf[64];
    struct vv_entry e[] = {{1, 1}, {2, 7}, {9, 3}};
    size_t n = raw_encoding(buf, e, 3);
    for (size_t len = 0; len < n; len++)
        assert_int_equal(vv_decode(&v, buf, len, NULL), CAIRN_EFORMAT);
    assert_int_equal(vv_decode(&v, buf, n, NULL), 0);
    /* a count larger than the bytes that follow */
    put_le16(buf, 0xffff);
    assert_int_equal(vv_decode(&v, buf, sizeof buf, NULL), CAIRN_EFORMAT);
    vv_fini(&v);
}

static void vv_decode_of_empty_vector(void **state)
{
    (void)state;
    struct vv v;
    vv_init(&v);
    vv_raise(&v, 1, 1);
    uint8_t buf[2] = {0, 0};
    size_t used = 99;
    assert_int_equal(vv_decode(&v, buf, 2, &used), 0);
    assert_int_equal(used, 2);
    assert_int_equal(v.n, 0);
    vv_fini(&v);
}

static void vv_decode_never_accepts_a_non_canonical_vector(void **state)
{
    (void)state;
    uint64_t rng = tu_seed(__func__);
    struct vv v;
    vv_init(&v);
    uint8_t buf[2 + 8 * 12], again[sizeof buf];
    unsigned accepted = 0, rejected = 0;
    for (int it = 0; it < ITERS * 2; it++) {
        unsigned n = (unsigned)(tu_rand(&rng) % 9);
        put_le16(buf, (uint16_t)n);
        for (unsigned i = 0; i < n; i++) {
            /* small values so that sorted, unsorted, duplicate and zero all occur */
            put_le32(buf + 2 + 12 * i, (uint32_t)(tu_rand(&rng) % 6));
            put_le64(buf + 6 + 12 * i, tu_rand(&rng) % 3);
        }
        size_t len = 2 + 12 * (size_t)n;
        int rv = vv_decode(&v, buf, len, NULL);
        if (rv != 0) {
            assert_int_equal(rv, CAIRN_EFORMAT);
            rejected++;
            continue;
        }
        accepted++;
        /* whatever is accepted satisfies (1) and (2) and re-encodes to the same bytes */
        for (uint32_t i = 0; i < v.n; i++) {
            assert_true(v.e[i].seq != 0);
            if (i > 0)
                assert_true(v.e[i - 1].origin < v.e[i].origin);
        }
        assert_int_equal(vv_encoded_len(&v), len);
        vv_encode(&v, again);
        assert_memory_equal(again, buf, len);
    }
    assert_true(accepted > 0);
    assert_true(rejected > 0);
    vv_fini(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vv_raise_keeps_entries_sorted_and_maximal),
        cmocka_unit_test(vv_raise_with_zero_seq_adds_nothing),
        cmocka_unit_test(vv_merge_is_pointwise_max),
        cmocka_unit_test(vv_merge_is_commutative),
        cmocka_unit_test(vv_merge_is_associative),
        cmocka_unit_test(vv_merge_is_idempotent),
        cmocka_unit_test(vv_merge_result_dominates_both_inputs),
        cmocka_unit_test(vv_compare_agrees_with_pointwise_model),
        cmocka_unit_test(vv_compare_is_consistent_with_dominates),
        cmocka_unit_test(vv_compare_of_empty_vectors),
        cmocka_unit_test(vv_contains_covers_dots_up_to_the_entry),
        cmocka_unit_test(vv_copy_is_independent_of_its_source),
        cmocka_unit_test(vv_encode_decode_roundtrip),
        cmocka_unit_test(vv_encode_writes_little_endian_count_then_sorted_entries),
        cmocka_unit_test(vv_decode_rejects_unsorted_entries),
        cmocka_unit_test(vv_decode_rejects_duplicate_origins),
        cmocka_unit_test(vv_decode_rejects_zero_seq),
        cmocka_unit_test(vv_decode_rejects_truncated_input),
        cmocka_unit_test(vv_decode_of_empty_vector),
        cmocka_unit_test(vv_decode_never_accepts_a_non_canonical_vector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
