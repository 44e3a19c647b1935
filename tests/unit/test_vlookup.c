/*
 * test_vlookup.c — unit tests for daemon/vlookup.c ("the newest version at or
 * before X"), over a real index (meta.c) under tu_tmpdir.
 *
 * One object (inode vol 1, ino 5: a 12-byte prefix, mk_inode) has five
 * versions, two of them at the same HLC from different origins:
 *     stamp (hlc, origin)   dot (origin, seq)
 *     (100, 1)              (1, 1)
 *     (200, 2)              (2, 1)
 *     (300, 1)              (1, 2)
 *     (300, 2)              (2, 2)
 *     (400, 1)              (1, 3)
 * and neighbours on both sides: ino 4 and ino 6 (same length, other bytes)
 * and a raw key made of the same 12 prefix bytes plus one more (0xff, so it
 * sorts right after the object's versions).
 * Covers vlookup.c's invariants: (1) a walk never leaves its object's prefix
 * (-ENOENT, never a neighbour's version, whatever the stamp and vector);
 * (2) every value visited is length-checked (CAIRN_EFORMAT for a short value
 * or a bad version byte) and versions newer than the one found, or older,
 * are not judged, so damage outside the walk does not matter.
 * Also: exact and in-between stamps, the origin as tie-break, vectors that
 * hide versions (stepped over), vlookup_asof, an upper-bounded iterator,
 * over-long prefixes, and stamp_cmp's order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bytes.h"
#include "cairn_err.h"
#include "format.h"
#include "meta.h"
#include "metakey.h"
#include "testutil.h"
#include "vclock.h"
#include "vlookup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VOL 1u
#define INO 5u

struct ver {
    uint64_t hlc;
    uint32_t origin;
    uint64_t seq;
};

static const struct ver versions[] = {
    {100, 1, 1}, {200, 2, 1}, {300, 1, 2}, {300, 2, 2}, {400, 1, 3},
};
#define NVER (sizeof versions / sizeof versions[0])

struct fx {
    char *dir;
    struct meta *m;
    struct meta_iter *it;
    uint8_t prefix[KEY_MAX];
    size_t plen;
};

/* A version's value: INDEX_VERSION, u64 seq, then some payload. */
static size_t mk_val(uint8_t *v, uint64_t seq)
{
    v[0] = INDEX_VERSION;
    put_le64(v + 1, seq);
    memcpy(v + 9, "payload", 7);
    return 16;
}

static void put_raw(struct fx *f, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen)
{
    struct meta_batch *b = meta_batch_new();
    meta_batch_put(f->m, b, CF_INODES, k, klen, v, vlen);
    assert_int_equal(meta_batch_commit(f->m, b, 0), 0);
    meta_batch_free(b);
}

static void put_version(struct fx *f, uint64_t ino, struct ver w)
{
    uint8_t k[KEY_MAX + STAMP_LEN], v[32];
    size_t klen = mk_inode(k, VOL, ino, (struct stamp){w.hlc, w.origin});
    put_raw(f, k, klen, v, mk_val(v, w.seq));
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->dir = tu_tmpdir("test_vlookup");
    char *path = NULL;
    if (asprintf(&path, "%s/index", f->dir) < 0 || meta_open(&f->m, path) != 0)
        return -1;
    free(path);
    uint8_t k[KEY_MAX + STAMP_LEN];
    f->plen = mk_inode(k, VOL, INO, (struct stamp){0, 0}) - STAMP_LEN;
    memcpy(f->prefix, k, f->plen);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    meta_iter_free(f->it);
    meta_close(f->m);
    tu_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* The object, its same-length neighbours, and a longer key with its prefix. */
static void fill(struct fx *f)
{
    for (size_t i = 0; i < NVER; i++)
        put_version(f, INO, versions[i]);
    for (uint32_t o = 1; o <= 3; o++) {
        put_version(f, INO - 1, (struct ver){50 * o, o, 100 + o});
        put_version(f, INO - 1, (struct ver){1000 * o, o, 200 + o});
        put_version(f, INO + 1, (struct ver){50 * o, o, 300 + o});
        put_version(f, INO + 1, (struct ver){1000 * o, o, 400 + o});
    }
    /* prefix + 0xff + stamp: starts with the object's 12 bytes */
    uint8_t k[64], v[32];
    memcpy(k, f->prefix, f->plen);
    k[f->plen] = 0xff;
    put_be64(k + f->plen + 1, ~(uint64_t)10);
    put_be32(k + f->plen + 9, ~(uint32_t)1);
    put_raw(f, k, f->plen + 1 + STAMP_LEN, v, mk_val(v, 999));
    f->it = meta_iter_new(f->m, CF_INODES, NULL, 0);
}

static void reiter(struct fx *f)
{
    meta_iter_free(f->it);
    f->it = meta_iter_new(f->m, CF_INODES, NULL, 0);
}

/* Asserts vlookup_seek(FROM, VV) finds the version with stamp (HLC,ORIGIN)
 * (HLC 0: -ENOENT) and that the iterator is on it. */
static void expect_seek(struct fx *f, struct stamp from, const struct vv *vv, uint64_t hlc,
                        uint32_t origin)
{
    int rv = vlookup_seek(f->it, f->prefix, f->plen, from, vv);
    if (hlc == 0) {
        if (rv != -ENOENT) {
            struct stamp s = rv == 0 ? vlookup_stamp(f->it) : (struct stamp){0, 0};
            fail_msg("seek (%llu,%u): rv %d at (%llu,%u), want -ENOENT",
                     (unsigned long long)from.hlc, from.origin, rv, (unsigned long long)s.hlc,
                     s.origin);
        }
        return;
    }
    if (rv != 0)
        fail_msg("seek (%llu,%u): rv %d, want (%llu,%u)", (unsigned long long)from.hlc, from.origin,
                 rv, (unsigned long long)hlc, origin);
    struct stamp s = vlookup_stamp(f->it);
    if (s.hlc != hlc || s.origin != origin)
        fail_msg("seek (%llu,%u): found (%llu,%u), want (%llu,%u)", (unsigned long long)from.hlc,
                 from.origin, (unsigned long long)s.hlc, s.origin, (unsigned long long)hlc, origin);
    /* the iterator is on that version: its key has the prefix and its seq */
    size_t klen, vlen;
    const uint8_t *k = meta_iter_key(f->it, &klen);
    assert_int_equal(klen, f->plen + STAMP_LEN);
    assert_memory_equal(k, f->prefix, f->plen);
    const uint8_t *v = meta_iter_value(f->it, &vlen);
    uint64_t want_seq = 0;
    for (size_t i = 0; i < NVER; i++)
        if (versions[i].hlc == hlc && versions[i].origin == origin)
            want_seq = versions[i].seq;
    assert_true(vlen >= 9);
    assert_int_equal(get_le64(v + 1), want_seq);
    assert_int_equal(vlookup_visible(f->it, vv), 1);
}

#define ST(h, o) ((struct stamp){(h), (o)})

/* ---- newest at or before a stamp ---- */

static void vlookup_finds_the_newest_version_at_or_before_the_stamp(void **state)
{
    struct fx *f = *state;
    fill(f);
    expect_seek(f, ST(0, 0), NULL, 0, 0);
    expect_seek(f, ST(99, UINT32_MAX), NULL, 0, 0);
    expect_seek(f, ST(100, 0), NULL, 0, 0); /* same hlc, lower origin: older */
    expect_seek(f, ST(100, 1), NULL, 100, 1);
    expect_seek(f, ST(100, 2), NULL, 100, 1);
    expect_seek(f, ST(199, UINT32_MAX), NULL, 100, 1);
    expect_seek(f, ST(200, 1), NULL, 100, 1); /* (200,1) is older than (200,2) */
    expect_seek(f, ST(200, 2), NULL, 200, 2);
    expect_seek(f, ST(250, 0), NULL, 200, 2);
    expect_seek(f, ST(300, 0), NULL, 200, 2);
    expect_seek(f, ST(300, 1), NULL, 300, 1);
    expect_seek(f, ST(300, 2), NULL, 300, 2);
    expect_seek(f, ST(300, UINT32_MAX), NULL, 300, 2);
    expect_seek(f, ST(399, 7), NULL, 300, 2);
    expect_seek(f, ST(400, 1), NULL, 400, 1);
    expect_seek(f, STAMP_NEWEST, NULL, 400, 1);
    expect_seek(f, ST(UINT64_MAX, 0), NULL, 400, 1);
}

static void vlookup_asof_reads_everything_up_to_the_hlc(void **state)
{
    struct fx *f = *state;
    fill(f);
    struct asof at = {300, NULL}; /* every origin at hlc 300 */
    assert_int_equal(vlookup_asof(f->it, f->prefix, f->plen, &at), 0);
    assert_int_equal(vlookup_stamp(f->it).hlc, 300);
    assert_int_equal(vlookup_stamp(f->it).origin, 2);
    at.hlc = 99;
    assert_int_equal(vlookup_asof(f->it, f->prefix, f->plen, &at), -ENOENT);
    assert_int_equal(vlookup_asof(f->it, f->prefix, f->plen, &ASOF_NOW), 0);
    assert_int_equal(vlookup_stamp(f->it).hlc, 400);

    struct vv vv;
    vv_init(&vv);
    vv_raise(&vv, 2, 2); /* saw origin 2 only */
    at = (struct asof){UINT64_MAX, &vv};
    assert_int_equal(vlookup_asof(f->it, f->prefix, f->plen, &at), 0);
    assert_int_equal(vlookup_stamp(f->it).hlc, 300);
    assert_int_equal(vlookup_stamp(f->it).origin, 2);
    vv_fini(&vv);
}

/* ---- vectors ---- */

static void vlookup_steps_over_versions_whose_dot_is_not_in_the_vector(void **state)
{
    struct fx *f = *state;
    fill(f);
    struct vv vv;
    vv_init(&vv);

    vv_raise(&vv, 1, 2); /* (1,3) and every dot of origin 2 are unseen */
    expect_seek(f, STAMP_NEWEST, &vv, 300, 1);
    expect_seek(f, ST(300, 2), &vv, 300, 1);
    expect_seek(f, ST(299, 0), &vv, 100, 1); /* steps over (200,2) */
    expect_seek(f, ST(99, 0), &vv, 0, 0);

    vv_clear(&vv);
    vv_raise(&vv, 2, 1); /* only (2,1) */
    expect_seek(f, STAMP_NEWEST, &vv, 200, 2);
    expect_seek(f, ST(199, 0), &vv, 0, 0);

    vv_raise(&vv, 1, 1); /* (1,1) (2,1) */
    expect_seek(f, STAMP_NEWEST, &vv, 200, 2);
    vv_raise(&vv, 2, 2); /* (1,1) (2,1) (2,2) */
    expect_seek(f, STAMP_NEWEST, &vv, 300, 2);
    expect_seek(f, ST(300, 1), &vv, 200, 2); /* (300,1) is (1,2): unseen */
    vv_raise(&vv, 1, 3);                     /* everything */
    expect_seek(f, STAMP_NEWEST, &vv, 400, 1);
    vv_fini(&vv);
}

static void vlookup_never_leaves_the_objects_prefix(void **state)
{
    struct fx *f = *state;
    fill(f);
    struct vv vv;
    vv_init(&vv);

    /* (1) nothing at or before the stamp: the walk ends at the object's end */
    expect_seek(f, ST(99, 0), NULL, 0, 0);
    expect_seek(f, ST(0, 0), NULL, 0, 0);

    /* an empty vector hides every version: every stamp gives -ENOENT,
     * never a neighbour's version (ino 6, or prefix + 0xff) */
    static const struct stamp froms[] = {
        {UINT64_MAX, UINT32_MAX}, {400, 1}, {250, 9}, {100, 1}, {5, 0}};
    for (size_t i = 0; i < sizeof froms / sizeof froms[0]; i++)
        expect_seek(f, froms[i], &vv, 0, 0);

    /* a vector that would accept the neighbours' dots but none of ours */
    vv_raise(&vv, 3, 1000);
    for (size_t i = 0; i < sizeof froms / sizeof froms[0]; i++)
        expect_seek(f, froms[i], &vv, 0, 0);

    /* the neighbours are there and found under their own prefixes */
    uint8_t k[KEY_MAX + STAMP_LEN];
    size_t plen = mk_inode(k, VOL, INO + 1, ST(0, 0)) - STAMP_LEN;
    assert_int_equal(vlookup_seek(f->it, k, plen, STAMP_NEWEST, NULL), 0);
    assert_int_equal(vlookup_stamp(f->it).hlc, 3000);
    plen = mk_inode(k, VOL, INO - 1, ST(0, 0)) - STAMP_LEN;
    assert_int_equal(vlookup_seek(f->it, k, plen, ST(60, 0), NULL), 0);
    assert_int_equal(vlookup_stamp(f->it).hlc, 50);
    /* (the longer key is not looked up as an object: real prefixes are
     * prefix-free, metakey.h; it is only there to be walked into) */
    memcpy(k, f->prefix, f->plen);
    k[f->plen] = 0xff;
    put_be64(k + f->plen + 1, ~(uint64_t)10);
    put_be32(k + f->plen + 9, ~(uint32_t)1);
    char *val = NULL;
    size_t vlen = 0;
    assert_int_equal(meta_get(f->m, CF_INODES, k, f->plen + 1 + STAMP_LEN, &val, &vlen), 0);
    free(val);
    vv_fini(&vv);
}

static void vlookup_of_an_object_without_versions_is_enoent(void **state)
{
    struct fx *f = *state;
    fill(f);
    uint8_t k[KEY_MAX + STAMP_LEN];
    size_t plen = mk_inode(k, VOL, 77, ST(0, 0)) - STAMP_LEN;
    assert_int_equal(vlookup_seek(f->it, k, plen, STAMP_NEWEST, NULL), -ENOENT);
    plen = mk_inode(k, VOL + 1, INO, ST(0, 0)) - STAMP_LEN;
    assert_int_equal(vlookup_seek(f->it, k, plen, STAMP_NEWEST, NULL), -ENOENT);
    /* the last object in the family: the walk runs off the end */
    plen = mk_inode(k, UINT32_MAX, UINT64_MAX, ST(0, 0)) - STAMP_LEN;
    assert_int_equal(vlookup_seek(f->it, k, plen, STAMP_NEWEST, NULL), -ENOENT);
    assert_int_equal(meta_iter_status(f->it), 0);
}

static void vlookup_respects_an_upper_bounded_iterator(void **state)
{
    struct fx *f = *state;
    fill(f);
    uint8_t upper[KEY_MAX + 1];
    size_t ulen = mk_prefix_end(upper, f->prefix, f->plen);
    meta_iter_free(f->it);
    f->it = meta_iter_new(f->m, CF_INODES, upper, ulen);
    expect_seek(f, ST(350, 0), NULL, 300, 2);
    expect_seek(f, ST(50, 0), NULL, 0, 0);
    struct vv vv;
    vv_init(&vv);
    expect_seek(f, STAMP_NEWEST, &vv, 0, 0);
    vv_fini(&vv);
    assert_int_equal(meta_iter_status(f->it), 0);
}

static void vlookup_refuses_a_prefix_longer_than_key_max(void **state)
{
    struct fx *f = *state;
    fill(f);
    uint8_t big[KEY_MAX + 1];
    memset(big, 0, sizeof big);
    memcpy(big, f->prefix, f->plen);
    assert_int_equal(vlookup_seek(f->it, big, KEY_MAX + 1, STAMP_NEWEST, NULL), -ENAMETOOLONG);
    /* KEY_MAX itself is allowed (and absent) */
    assert_int_equal(vlookup_seek(f->it, big, KEY_MAX, STAMP_NEWEST, NULL), -ENOENT);
}

/* ---- malformed values ---- */

static void vlookup_malformed_value_is_eformat(void **state)
{
    struct fx *f = *state;
    fill(f);
    uint8_t k[KEY_MAX + STAMP_LEN], v[32];
    size_t klen = mk_inode(k, VOL, INO, ST(300, 2));

    /* too short to hold a seq: 0 .. 8 bytes */
    for (size_t len = 0; len < 9; len++) {
        mk_val(v, 2);
        put_raw(f, k, klen, v, len);
        reiter(f);
        int rv = vlookup_seek(f->it, f->prefix, f->plen, ST(300, 2), NULL);
        if (rv != CAIRN_EFORMAT)
            fail_msg("value of %zu bytes: rv %d, want CAIRN_EFORMAT", len, rv);
        assert_int_equal(vlookup_visible(f->it, NULL), CAIRN_EFORMAT);
    }
    /* a bad version byte */
    static const uint8_t bad_ver[] = {0, INDEX_VERSION + 1, 0xff};
    for (size_t i = 0; i < sizeof bad_ver; i++) {
        mk_val(v, 2);
        v[0] = bad_ver[i];
        put_raw(f, k, klen, v, 16);
        reiter(f);
        assert_int_equal(vlookup_seek(f->it, f->prefix, f->plen, ST(300, 2), NULL), CAIRN_EFORMAT);
    }
    /* with a vector: the bad value is checked before its seq is used */
    struct vv vv;
    vv_init(&vv);
    vv_raise(&vv, 1, 2); /* hides (400,1): the walk reaches (300,2) */
    put_raw(f, k, klen, v, 5);
    reiter(f);
    assert_int_equal(vlookup_seek(f->it, f->prefix, f->plen, STAMP_NEWEST, &vv), CAIRN_EFORMAT);

    /* (2) versions outside the walk are not judged: newer than FROM ... */
    expect_seek(f, ST(300, 1), NULL, 300, 1);
    expect_seek(f, ST(200, 2), &vv, 100, 1);
    /* ... or older than the visible version */
    expect_seek(f, ST(400, 1), NULL, 400, 1);
    vv_fini(&vv);
}

/* ---- stamp_cmp ---- */

static void stamp_cmp_orders_by_hlc_then_origin(void **state)
{
    (void)state;
    static const struct stamp ordered[] = {
        {0, 0},          {0, 1},          {0, UINT32_MAX},          {1, 0},
        {100, 7},        {100, 8},        {1ull << 63, 0},          {UINT64_MAX - 1, UINT32_MAX},
        {UINT64_MAX, 0}, {UINT64_MAX, 1}, {UINT64_MAX, UINT32_MAX},
    };
    size_t n = sizeof ordered / sizeof ordered[0];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int c = stamp_cmp(ordered[i], ordered[j]);
            int want = i < j ? -1 : i > j ? 1 : 0;
            if ((c < 0 ? -1 : c > 0 ? 1 : 0) != want)
                fail_msg("stamp_cmp(#%zu, #%zu) = %d, want sign %d", i, j, c, want);
        }
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(vlookup_finds_the_newest_version_at_or_before_the_stamp),
        T(vlookup_asof_reads_everything_up_to_the_hlc),
        T(vlookup_steps_over_versions_whose_dot_is_not_in_the_vector),
        T(vlookup_never_leaves_the_objects_prefix),
        T(vlookup_of_an_object_without_versions_is_enoent),
        T(vlookup_respects_an_upper_bounded_iterator),
        T(vlookup_refuses_a_prefix_longer_than_key_max),
        T(vlookup_malformed_value_is_eformat),
        cmocka_unit_test(stamp_cmp_orders_by_hlc_then_origin),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
