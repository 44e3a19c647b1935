/*
 * test_metakey.c — unit tests for daemon/metakey.c (index keys and values).
 *
 * Covers metakey.c's invariants: (1) versions of one object are adjacent and
 * sort newest first in memcmp order, so "latest at or before X" is one seek
 * to (object, X); (2) a name is followed by 00 and sorts with all its versions
 * before any longer name sharing its prefix ("a" < "a\x01" < "ab"); (3) every
 * iv_*_decode checks the version byte and lengths (CAIRN_EFORMAT), and
 * whatever it accepts re-encodes to the same bytes; (4) a comp's pieces stay
 * sorted and non-overlapping: comp_overlay/comp_clip are checked against a
 * byte-array reference model of one 64 KiB block (seeded random steps), which
 * records for every byte the piece it must come from and where in the record.
 * Also mk_stamp, mk_name and mk_live roundtrips, mk_prefix_end, and roundtrips of every
 * iv_* encoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bytes.h"
#include "cairn_err.h"
#include "format.h"
#include "metakey.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

/* ---- keys --------------------------------------------------------------- */

/* memcmp order of byte strings, shorter first on a common prefix (RocksDB's
 * default bytewise comparator). */
static int key_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c)
        return c < 0 ? -1 : 1;
    return an < bn ? -1 : an > bn;
}

/* Newer = greater (hlc, origin). */
static int stamp_cmp(struct stamp a, struct stamp b)
{
    if (a.hlc != b.hlc)
        return a.hlc < b.hlc ? -1 : 1;
    if (a.origin != b.origin)
        return a.origin < b.origin ? -1 : 1;
    return 0;
}

static struct stamp rand_stamp(uint64_t *rng)
{
    struct stamp s;
    /* small ranges so equal hlcs with different origins are common */
    switch (tu_rand(rng) % 4) {
    case 0:
        s.hlc = tu_rand(rng) % 4;
        break;
    case 1:
        s.hlc = UINT64_MAX - tu_rand(rng) % 4;
        break;
    default:
        s.hlc = tu_rand(rng);
        break;
    }
    s.origin = tu_rand(rng) % 2 ? (uint32_t)(tu_rand(rng) % 3) : (uint32_t)tu_rand(rng);
    return s;
}

enum keykind { K_INODE, K_DIRENT, K_EXTENT, K_XATTR, K_COUNT };

/* The key of object (KIND, fixed ids, NAME) at stamp S. */
static size_t versioned_key(uint8_t *k, enum keykind kind, const char *name, struct stamp s)
{
    switch (kind) {
    case K_INODE:
        return mk_inode(k, 7, 0x0102030405060708ull, s);
    case K_DIRENT:
        return mk_dirent(k, 7, 1, name, strlen(name), s);
    case K_EXTENT:
        return mk_extent(k, 7, 99, 12, s);
    case K_XATTR:
        return mk_xattr(k, 7, 99, name, strlen(name), s);
    default:
        return 0;
    }
}

static void mk_versioned_keys_sort_newest_first(void **state)
{
    (void)state;
    uint64_t rng = tu_seed(__func__);
    uint8_t a[KEY_MAX], b[KEY_MAX];
    for (int it = 0; it < 4000; it++) {
        enum keykind kind = (enum keykind)(it % K_COUNT);
        struct stamp sa = rand_stamp(&rng), sb = rand_stamp(&rng);
        if (it % 7 == 0)
            sb.hlc = sa.hlc; /* tie on hlc: origin decides */
        size_t an = versioned_key(a, kind, "name", sa);
        size_t bn = versioned_key(b, kind, "name", sb);
        assert_int_equal(an, bn);
        /* newer stamp = smaller key */
        assert_int_equal(key_cmp(a, an, b, bn), -stamp_cmp(sa, sb));
    }
}

static void mk_seek_to_stamp_finds_latest_at_or_before_it(void **state)
{
    (void)state;
    uint64_t rng = tu_seed(__func__);
    uint8_t x[KEY_MAX], k[KEY_MAX];
    for (int it = 0; it < 4000; it++) {
        enum keykind kind = (enum keykind)(it % K_COUNT);
        struct stamp sx = rand_stamp(&rng), s = rand_stamp(&rng);
        size_t xn = versioned_key(x, kind, "f", sx);
        size_t kn = versioned_key(k, kind, "f", s);
        /* a seek to (object, X) stops at keys >= it: exactly the versions <= X */
        int at_or_after_seek = key_cmp(k, kn, x, xn) >= 0;
        assert_int_equal(at_or_after_seek, stamp_cmp(s, sx) <= 0);
    }
    /* STAMP_NEWEST sorts before every real version */
    uint8_t newest[KEY_MAX];
    for (int kind = 0; kind < K_COUNT; kind++) {
        size_t nn = versioned_key(newest, (enum keykind)kind, "f", STAMP_NEWEST);
        size_t kn = versioned_key(k, (enum keykind)kind, "f", (struct stamp){UINT64_MAX - 1, 5});
        assert_true(key_cmp(newest, nn, k, kn) < 0);
    }
}

static void mk_name_versions_sort_before_longer_names_with_that_prefix(void **state)
{
    (void)state;
    uint64_t rng = tu_seed(__func__);
    const char *names[] = {"a", "a\x01", "a\x01z", "ab", "b"}; /* in sort order */
    uint8_t k1[KEY_MAX], k2[KEY_MAX];
    for (int it = 0; it < 2000; it++) {
        enum keykind kind = it % 2 ? K_DIRENT : K_XATTR;
        unsigned i = (unsigned)(tu_rand(&rng) % 5), j = (unsigned)(tu_rand(&rng) % 5);
        struct stamp si = rand_stamp(&rng), sj = rand_stamp(&rng);
        if (it % 3 == 0) { /* the worst cases: oldest shorter vs newest longer */
            si = (struct stamp){0, 0};
            sj = STAMP_NEWEST;
        }
        size_t n1 = versioned_key(k1, kind, names[i], si);
        size_t n2 = versioned_key(k2, kind, names[j], sj);
        int c = key_cmp(k1, n1, k2, n2);
        if (i != j)
            assert_int_equal(c, i < j ? -1 : 1);
        else
            assert_int_equal(c, -stamp_cmp(si, sj));
    }
    /* and the object ids outrank the names */
    size_t n1 = mk_dirent(k1, 7, 1, "zzz", 3, (struct stamp){0, 0});
    size_t n2 = mk_dirent(k2, 7, 2, "a", 1, STAMP_NEWEST);
    assert_true(key_cmp(k1, n1, k2, n2) < 0);
    n1 = mk_dirent(k1, 7, UINT64_MAX, "a", 1, STAMP_NEWEST);
    n2 = mk_dirent(k2, 8, 0, "a", 1, STAMP_NEWEST);
    assert_true(key_cmp(k1, n1, k2, n2) < 0);
}

static void mk_keys_have_the_documented_layout(void **state)
{
    (void)state;
    uint8_t k[KEY_MAX];
    struct stamp s = {0x1122334455667788ull, 0xa1b2c3d4u};
    assert_int_equal(mk_inode(k, 0x01020304u, 0x0506070809101112ull, s), 12 + STAMP_LEN);
    static const uint8_t inode[] = {1,    2,    3,    4,    5,    6,    7,    8,
                                    9,    0x10, 0x11, 0x12, 0xee, 0xdd, 0xcc, 0xbb,
                                    0xaa, 0x99, 0x88, 0x77, 0x5e, 0x4d, 0x3c, 0x2b};
    assert_memory_equal(k, inode, sizeof inode);
    assert_int_equal(mk_dirent(k, 1, 2, "nm", 2, s), 12 + 2 + 1 + STAMP_LEN);
    assert_int_equal(k[12], 'n');
    assert_int_equal(k[13], 'm');
    assert_int_equal(k[14], 0);
    assert_int_equal(mk_extent(k, 1, 2, EXT_TRUNC_BLOCK, s), 20 + STAMP_LEN);
    assert_int_equal(get_be64(k + 12), EXT_TRUNC_BLOCK);
    assert_int_equal(mk_record(k, 3, 4, 5), 16);
    assert_int_equal(get_be32(k), 3);
    assert_int_equal(get_be32(k + 4), 4);
    assert_int_equal(get_be64(k + 8), 5);
    assert_int_equal(mk_chunk(k, 9, 'a'), 5);
    assert_int_equal(get_be32(k), 9);
    assert_int_equal(k[4], 'a');
    assert_int_equal(mk_volume_name(k, "home", 4), 5);
    assert_memory_equal(k, "nhome", 5);
    assert_int_equal(mk_volume(k, 0x01020304u), 5);
    assert_memory_equal(k, "v\x01\x02\x03\x04", 5);
    assert_int_equal(mk_snapshot(k, 2, "s1", 2), 6);
    assert_int_equal(get_be32(k), 2);
    assert_memory_equal(k + 4, "s1", 2);
}

static void mk_record_keys_sort_by_numeric_seq(void **state)
{
    (void)state;
    uint64_t rng = tu_seed(__func__);
    uint8_t a[16], b[16];
    for (int it = 0; it < 2000; it++) {
        uint64_t x = tu_rand(&rng) >> (tu_rand(&rng) % 64);
        uint64_t y = tu_rand(&rng) >> (tu_rand(&rng) % 64);
        mk_record(a, 1, 2, x);
        mk_record(b, 1, 2, y);
        int c = memcmp(a, b, 16);
        assert_int_equal(c < 0 ? -1 : c > 0, x < y ? -1 : x > y);
    }
}

static void mk_stamp_roundtrips_for_every_versioned_key(void **state)
{
    (void)state;
    uint64_t rng = tu_seed(__func__);
    uint8_t k[KEY_MAX];
    for (int it = 0; it < 2000; it++) {
        struct stamp s = rand_stamp(&rng), got = {0, 0};
        size_t n = versioned_key(k, (enum keykind)(it % K_COUNT), "some-name", s);
        assert_int_equal(mk_stamp(k, n, &got), 0);
        assert_int_equal(got.hlc, s.hlc);
        assert_int_equal(got.origin, s.origin);
    }
    struct stamp got;
    for (size_t n = 0; n < STAMP_LEN + 4; n++)
        assert_int_equal(mk_stamp(k, n, &got), CAIRN_EFORMAT);
}

static void mk_name_roundtrips_and_rejects_malformed_keys(void **state)
{
    (void)state;
    uint8_t k[KEY_MAX];
    const char *name;
    size_t nlen;
    struct stamp s = {12345, 6};
    size_t n = mk_dirent(k, 1, 2, "hello", 5, s);
    assert_int_equal(mk_name(k, n, &name, &nlen), 0);
    assert_int_equal(nlen, 5);
    assert_memory_equal(name, "hello", 5);
    assert_ptr_equal(name, (const char *)k + 12);
    n = mk_xattr(k, 1, 2, "x", 1, s);
    assert_int_equal(mk_name(k, n, &name, &nlen), 0);
    assert_int_equal(nlen, 1);
    /* no terminator before the stamp */
    n = mk_dirent(k, 1, 2, "hello", 5, s);
    k[12 + 5] = 'X';
    assert_int_equal(mk_name(k, n, &name, &nlen), CAIRN_EFORMAT);
    /* a 00 inside the name */
    n = mk_dirent(k, 1, 2, "he\0lo", 5, s);
    assert_int_equal(mk_name(k, n, &name, &nlen), CAIRN_EFORMAT);
    /* too short to hold a non-empty name */
    n = mk_dirent(k, 1, 2, "", 0, s);
    assert_int_equal(mk_name(k, n, &name, &nlen), CAIRN_EFORMAT);
    for (size_t m = 0; m < 12 + 2 + STAMP_LEN; m++)
        assert_int_equal(mk_name(k, m, &name, &nlen), CAIRN_EFORMAT);
}

/* Live keys: vol parent name, no terminator; they sort by name as the
 * versioned dirent keys do ("a" before "a\x01" before "ab"). */
static void mk_live_roundtrips_sorts_as_dirents_and_rejects_malformed_keys(void **state)
{
    (void)state;
    uint8_t k[KEY_MAX], k2[KEY_MAX];
    const char *name;
    size_t nlen;
    size_t n = mk_live(k, 1, 2, "hello", 5);
    assert_int_equal(n, 12 + 5);
    assert_int_equal(get_be32(k), 1);
    assert_int_equal(get_be64(k + 4), 2);
    assert_int_equal(mk_live_name(k, n, &name, &nlen), 0);
    assert_int_equal(nlen, 5);
    assert_ptr_equal(name, (const char *)k + 12);
    const char *order[] = {"a", "a\x01", "ab", "b"};
    for (int i = 0; i + 1 < 4; i++) {
        size_t a = mk_live(k, 1, 2, order[i], strlen(order[i]));
        size_t b = mk_live(k2, 1, 2, order[i + 1], strlen(order[i + 1]));
        size_t m = a < b ? a : b;
        int c = memcmp(k, k2, m);
        assert_true(c < 0 || (c == 0 && a < b));
    }
    n = mk_live(k, 1, 2, "he\0lo", 5); /* a 00 inside the name */
    assert_int_equal(mk_live_name(k, n, &name, &nlen), CAIRN_EFORMAT);
    for (size_t m = 0; m <= 12; m++) /* no name */
        assert_int_equal(mk_live_name(k, m, &name, &nlen), CAIRN_EFORMAT);
    assert_int_equal(mk_live_name(k, 12 + 256, &name, &nlen), CAIRN_EFORMAT);
}

static void mk_prefix_end_is_the_least_key_above_the_prefix(void **state)
{
    (void)state;
    uint8_t out[16];
    const uint8_t p1[] = {0x01, 0x02};
    assert_int_equal(mk_prefix_end(out, p1, 2), 2);
    assert_memory_equal(out, ((uint8_t[]){0x01, 0x03}), 2);
    const uint8_t p2[] = {0x01, 0xff, 0xff};
    assert_int_equal(mk_prefix_end(out, p2, 3), 1);
    assert_int_equal(out[0], 0x02);
    const uint8_t p3[] = {0xff, 0xff};
    assert_int_equal(mk_prefix_end(out, p3, 2), 0); /* no upper bound */
    assert_int_equal(mk_prefix_end(out, p3, 0), 0);
    const uint8_t p4[] = {0x00};
    assert_int_equal(mk_prefix_end(out, p4, 1), 1);
    assert_int_equal(out[0], 0x01);

    /* "the smallest key greater than every key with that prefix": a key K
     * sorts below the end exactly when K has the prefix or sorts below it */
    uint64_t rng = tu_seed(__func__);
    uint8_t prefix[8], key[12];
    unsigned with_end = 0;
    for (int it = 0; it < 4000; it++) {
        size_t n = 1 + (size_t)(tu_rand(&rng) % 8);
        for (size_t i = 0; i < n; i++)
            prefix[i] = tu_rand(&rng) % 3 ? 0xff : (uint8_t)(tu_rand(&rng) % 4);
        size_t en = mk_prefix_end(out, prefix, n);
        if (en == 0) {
            for (size_t i = 0; i < n; i++)
                assert_int_equal(prefix[i], 0xff);
            continue;
        }
        with_end++;
        assert_true(en <= n);
        for (int j = 0; j < 8; j++) {
            /* keys near the prefix: its bytes, neighbours, 00 and ff */
            size_t kn = (size_t)(tu_rand(&rng) % 12);
            for (size_t i = 0; i < kn; i++) {
                uint8_t base = i < n ? prefix[i] : 0x80;
                switch (tu_rand(&rng) % 5) {
                case 0:
                    key[i] = (uint8_t)(base + 1);
                    break;
                case 1:
                    key[i] = 0xff;
                    break;
                case 2:
                    key[i] = 0;
                    break;
                default:
                    key[i] = base;
                    break;
                }
            }
            int has_prefix = kn >= n && memcmp(key, prefix, n) == 0;
            int below = key_cmp(key, kn, prefix, n) < 0;
            assert_int_equal(key_cmp(key, kn, out, en) < 0, has_prefix || below);
        }
    }
    assert_true(with_end > 0);
}

/* ---- comp: the reference model ------------------------------------------ */

/* For every byte of the block: which overlay it comes from (0 = hole) and
 * where inside that overlay's record the byte lies. */
struct model {
    uint32_t src[BLOCK_SIZE];
    uint32_t doff[BLOCK_SIZE];
};

/* A piece whose fields all derive from its source id, so the comp can be
 * checked against the model. */
static struct piece make_piece(uint32_t id, uint32_t boff, uint32_t len, uint32_t data_off)
{
    struct piece p = {.boff = boff,
                      .len = len,
                      .chunk_no = id,
                      .rec_off = (uint64_t)id * 1000003u,
                      .rec_len = data_off + len + id % 17,
                      .data_off = data_off};
    return p;
}

static void model_overlay(struct model *m, const struct piece *p, uint32_t id)
{
    for (uint32_t x = 0; x < p->len; x++) {
        m->src[p->boff + x] = id;
        m->doff[p->boff + x] = p->data_off + x;
    }
}

static void model_clip(struct model *m, uint64_t limit)
{
    for (uint64_t x = limit; x < BLOCK_SIZE; x++)
        m->src[x] = 0;
}

/* (4) and byte-for-byte agreement with the model. */
static void check_comp(const struct comp *c, const struct model *m)
{
    uint64_t prev_end = 0;
    uint32_t covered = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        const struct piece *p = &c->p[i];
        assert_true(p->len > 0);
        assert_true(p->boff >= prev_end); /* sorted, non-overlapping */
        assert_true((uint64_t)p->boff + p->len <= BLOCK_SIZE);
        /* a piece keeps its record: id-derived fields unchanged */
        uint32_t id = p->chunk_no;
        assert_int_equal(p->rec_off, (uint64_t)id * 1000003u);
        assert_true((uint64_t)p->data_off + p->len <= p->rec_len);
        for (uint64_t x = prev_end; x < p->boff; x++)
            if (m->src[x] != 0)
                fail_msg("byte %llu should come from %u but is a hole", (unsigned long long)x,
                         m->src[x]);
        for (uint32_t x = 0; x < p->len; x++) {
            uint32_t b = p->boff + x;
            if (m->src[b] != id || m->doff[b] != p->data_off + x)
                fail_msg("byte %u: comp says piece %u @%u, model says %u @%u", b, id,
                         p->data_off + x, m->src[b], m->doff[b]);
        }
        covered += p->len;
        prev_end = (uint64_t)p->boff + p->len;
    }
    for (uint64_t x = prev_end; x < BLOCK_SIZE; x++)
        if (m->src[x] != 0)
            fail_msg("byte %llu should come from %u but is a hole", (unsigned long long)x,
                     m->src[x]);
    uint32_t want = 0;
    for (uint32_t x = 0; x < BLOCK_SIZE; x++)
        want += m->src[x] != 0;
    assert_int_equal(covered, want);
}

static void assert_comp_equal(const struct comp *a, const struct comp *b)
{
    assert_int_equal(a->seq, b->seq);
    assert_int_equal(a->n, b->n);
    for (uint32_t i = 0; i < a->n; i++) {
        assert_int_equal(a->p[i].boff, b->p[i].boff);
        assert_int_equal(a->p[i].len, b->p[i].len);
        assert_int_equal(a->p[i].chunk_no, b->p[i].chunk_no);
        assert_int_equal(a->p[i].rec_off, b->p[i].rec_off);
        assert_int_equal(a->p[i].rec_len, b->p[i].rec_len);
        assert_int_equal(a->p[i].data_off, b->p[i].data_off);
    }
}

/* A random boundary: often an existing piece edge, so exact replacements,
 * adjacent pieces and shared edges happen. */
static uint32_t rand_edge(uint64_t *rng, const struct comp *c)
{
    if (c->n && tu_rand(rng) % 3 == 0) {
        const struct piece *p = &c->p[tu_rand(rng) % c->n];
        return tu_rand(rng) % 2 ? p->boff : p->boff + p->len;
    }
    return (uint32_t)(tu_rand(rng) % (BLOCK_SIZE + 1));
}

static void comp_overlay_and_clip_match_the_byte_model(void **state)
{
    (void)state;
    uint64_t rng = tu_seed(__func__);
    struct model *m = calloc(1, sizeof *m);
    assert_non_null(m);
    struct comp c, d;
    comp_init(&c);
    comp_init(&d);
    c.seq = 4242;
    uint8_t *v = malloc(11 + (size_t)COMP_HARD_MAX * PIECE_LEN);
    assert_non_null(v);
    unsigned encoded = 0;
    for (uint32_t step = 1; step <= 3000; step++) {
        uint32_t r = (uint32_t)(tu_rand(&rng) % 100);
        if (r < 8) {
            uint64_t limit = rand_edge(&rng, &c);
            if (r == 0)
                limit = BLOCK_SIZE + tu_rand(&rng) % 100; /* beyond the block: no-op */
            comp_clip(&c, limit);
            if (limit < BLOCK_SIZE)
                model_clip(m, limit);
        } else {
            uint32_t a = rand_edge(&rng, &c), b;
            if (r < 70)
                b = a + 1 + (uint32_t)(tu_rand(&rng) % 700); /* small writes */
            else
                b = rand_edge(&rng, &c);
            if (b < a) {
                uint32_t t = a;
                a = b;
                b = t;
            }
            if (b > BLOCK_SIZE)
                b = BLOCK_SIZE;
            if (a == b) {
                if (a == BLOCK_SIZE)
                    a--;
                else
                    b++;
            }
            struct piece p = make_piece(step, a, b - a, 48 + (uint32_t)(tu_rand(&rng) % 200));
            comp_overlay(&c, &p);
            model_overlay(m, &p, step);
        }
        assert_int_equal(c.seq, 4242); /* overlays keep the version's seq */
        check_comp(&c, m);
        /* the value encoding keeps the pieces exactly */
        if (c.n <= COMP_HARD_MAX) {
            assert_int_equal(iv_comp_len(&c), 11 + (size_t)c.n * PIECE_LEN);
            iv_comp_encode(v, &c);
            assert_int_equal(iv_comp_decode(&d, v, iv_comp_len(&c)), 0);
            assert_comp_equal(&c, &d);
            encoded++;
        }
        if (step % 500 == 0) { /* copies are deep */
            comp_copy(&d, &c);
            assert_comp_equal(&c, &d);
        }
    }
    assert_true(encoded > 0);
    free(v);
    comp_fini(&c);
    comp_fini(&d);
    free(m);
}

static void comp_overlay_splits_a_piece_around_a_smaller_one(void **state)
{
    (void)state;
    struct comp c;
    comp_init(&c);
    struct piece big = make_piece(1, 100, 1000, 48);
    comp_overlay(&c, &big);
    struct piece mid = make_piece(2, 400, 10, 60);
    comp_overlay(&c, &mid);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.p[0].boff, 100);
    assert_int_equal(c.p[0].len, 300);
    assert_int_equal(c.p[0].data_off, 48);
    assert_int_equal(c.p[1].boff, 400);
    assert_int_equal(c.p[1].chunk_no, 2);
    assert_int_equal(c.p[2].boff, 410);
    assert_int_equal(c.p[2].len, 690);
    assert_int_equal(c.p[2].data_off, 48 + 310); /* the right part starts later in the record */
    assert_int_equal(c.p[2].chunk_no, 1);
    /* covering everything leaves one piece */
    struct piece all = make_piece(3, 0, BLOCK_SIZE, 48);
    comp_overlay(&c, &all);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.p[0].chunk_no, 3);
    comp_clip(&c, 0);
    assert_int_equal(c.n, 0);
    comp_fini(&c);
}

/* ---- values ------------------------------------------------------------- */

/* Every decoder in one shape: 0 or an error for V of VLEN bytes. */
typedef int (*decode_fn)(const uint8_t *v, size_t vlen);

static int dec_inode(const uint8_t *v, size_t n)
{
    struct iv_inode o;
    return iv_inode_decode(&o, v, n);
}
static int dec_dirent(const uint8_t *v, size_t n)
{
    uint64_t s, c;
    uint8_t t;
    return iv_dirent_decode(v, n, &s, &c, &t);
}
static int dec_comp(const uint8_t *v, size_t n)
{
    struct comp c;
    comp_init(&c);
    int rv = iv_comp_decode(&c, v, n);
    comp_fini(&c);
    return rv;
}
static int dec_trunc(const uint8_t *v, size_t n)
{
    uint64_t s, z;
    return iv_trunc_decode(v, n, &s, &z);
}
static int dec_xattr(const uint8_t *v, size_t n)
{
    uint64_t s;
    const uint8_t *val;
    uint32_t len;
    return iv_xattr_decode(v, n, &s, &val, &len);
}
static int dec_recloc(const uint8_t *v, size_t n)
{
    struct recloc l;
    return iv_recloc_decode(&l, v, n);
}
static int dec_assign(const uint8_t *v, size_t n)
{
    struct assigninfo a;
    return iv_assign_decode(&a, v, n);
}
static int dec_applied(const uint8_t *v, size_t n)
{
    uint64_t a, l;
    return iv_applied_decode(v, n, &a, &l);
}
static int dec_volume(const uint8_t *v, size_t n)
{
    struct volinfo vi;
    return iv_volume_decode(&vi, v, n);
}
static int dec_snapshot(const uint8_t *v, size_t n)
{
    struct snapinfo s;
    vv_init(&s.vv);
    int rv = iv_snapshot_decode(&s, v, n);
    vv_fini(&s.vv);
    return rv;
}

enum {
    V_INODE,
    V_DIRENT,
    V_COMP,
    V_TRUNC,
    V_XATTR,
    V_RECLOC,
    V_ASSIGN,
    V_APPLIED,
    V_VOLUME,
    V_SNAPSHOT,
    V_COUNT
};

static const decode_fn decoders[V_COUNT] = {dec_inode,  dec_dirent,  dec_comp,   dec_trunc,
                                            dec_xattr,  dec_recloc,  dec_assign, dec_applied,
                                            dec_volume, dec_snapshot};
static const char *const vnames[V_COUNT] = {"inode",  "dirent", "comp",    "trunc",  "xattr",
                                            "recloc", "assign", "applied", "volume", "snapshot"};

static void sample_attr(struct attr *a)
{
    *a = (struct attr){.mode = 0120777,
                       .uid = 5,
                       .gid = 6,
                       .nlink = 1,
                       .size = 11,
                       .rdev = 0,
                       .parent = 1,
                       .atime = -5,
                       .mtime = 1700000000000000000ll,
                       .ctime = 3,
                       .btime = 4,
                       .flags = 0};
}

/* A valid encoding of kind WHICH (variant VAR); returns its length. */
static size_t sample_value(int which, int var, uint8_t *v)
{
    switch (which) {
    case V_INODE: {
        struct attr a;
        sample_attr(&a);
        const char *t = var ? "target/of/link" : "";
        iv_inode_encode(v, 77, &a, t, (uint16_t)strlen(t));
        return iv_inode_len((uint16_t)strlen(t));
    }
    case V_DIRENT:
        iv_dirent_encode(v, 78, var ? 0 : 1234, var ? 0 : 4);
        return IV_DIRENT_LEN;
    case V_COMP: {
        struct comp c;
        comp_init(&c);
        c.seq = 79;
        if (var) {
            struct piece p1 = make_piece(1, 0, 100, 48), p2 = make_piece(2, 100, 50, 60),
                         p3 = make_piece(3, BLOCK_SIZE - 8, 8, 48);
            comp_overlay(&c, &p1);
            comp_overlay(&c, &p2);
            comp_overlay(&c, &p3);
        }
        size_t n = iv_comp_len(&c);
        iv_comp_encode(v, &c);
        comp_fini(&c);
        return n;
    }
    case V_TRUNC:
        iv_trunc_encode(v, 80, var ? 0 : 123456789);
        return IV_TRUNC_LEN;
    case V_XATTR: {
        uint32_t len = var == 0 ? 5 : var == 1 ? 0 : XATTR_REMOVED;
        iv_xattr_encode(v, 81, "value", len);
        return iv_xattr_len(len);
    }
    case V_RECLOC: {
        struct recloc l = {3, 0x123456789ull, 4096, 0xabcdefull};
        iv_recloc_encode(v, &l);
        return IV_RECLOC_LEN;
    }
    case V_ASSIGN: {
        struct assigninfo a = {.vol_no = 2, .ord = 99};
        for (int i = 0; i < 16; i++)
            a.id[i] = (uint8_t)(i * 3 + 1);
        iv_assign_encode(v, &a);
        return IV_ASSIGN_LEN;
    }
    case V_APPLIED:
        iv_applied_encode(v, 1u << 20, var ? 0 : 1000);
        return IV_APPLIED_LEN;
    case V_VOLUME: {
        struct volinfo vi = {.vol_no = 3, .durability = 1, .replicas = 2};
        memset(vi.id, 0x42, 16);
        if (var)
            memset(vi.name, 'n', 255);
        else
            strcpy(vi.name, "home");
        iv_volume_encode(v, &vi);
        return iv_volume_len(&vi);
    }
    case V_SNAPSHOT: {
        struct snapinfo s = {.dot = {3, 9}, .hlc = 0x55};
        vv_init(&s.vv);
        if (var) {
            vv_raise(&s.vv, 1, 4);
            vv_raise(&s.vv, 3, 9);
        }
        size_t n = iv_snapshot_len(&s);
        iv_snapshot_encode(v, &s);
        vv_fini(&s.vv);
        return n;
    }
    }
    return 0;
}

/* Decodes then re-encodes V; 0 when the bytes come back identical, -1 when
 * they differ, or the decode error. */
static int reencode(int which, const uint8_t *v, size_t n, uint8_t *out, size_t *outn)
{
    int rv;
    switch (which) {
    case V_INODE: {
        struct iv_inode o;
        if ((rv = iv_inode_decode(&o, v, n)) != 0)
            return rv;
        *outn = iv_inode_len(o.tlen);
        iv_inode_encode(out, o.seq, &o.a, o.target, o.tlen);
        break;
    }
    case V_DIRENT: {
        uint64_t s, c;
        uint8_t t;
        if ((rv = iv_dirent_decode(v, n, &s, &c, &t)) != 0)
            return rv;
        *outn = IV_DIRENT_LEN;
        iv_dirent_encode(out, s, c, t);
        break;
    }
    case V_COMP: {
        struct comp c;
        comp_init(&c);
        if ((rv = iv_comp_decode(&c, v, n)) != 0) {
            comp_fini(&c);
            return rv;
        }
        *outn = iv_comp_len(&c);
        iv_comp_encode(out, &c);
        comp_fini(&c);
        break;
    }
    case V_TRUNC: {
        uint64_t s, z;
        if ((rv = iv_trunc_decode(v, n, &s, &z)) != 0)
            return rv;
        *outn = IV_TRUNC_LEN;
        iv_trunc_encode(out, s, z);
        break;
    }
    case V_XATTR: {
        uint64_t s;
        const uint8_t *val;
        uint32_t len;
        if ((rv = iv_xattr_decode(v, n, &s, &val, &len)) != 0)
            return rv;
        *outn = iv_xattr_len(len);
        iv_xattr_encode(out, s, val, len);
        break;
    }
    case V_RECLOC: {
        struct recloc l;
        if ((rv = iv_recloc_decode(&l, v, n)) != 0)
            return rv;
        *outn = IV_RECLOC_LEN;
        iv_recloc_encode(out, &l);
        break;
    }
    case V_ASSIGN: {
        struct assigninfo a;
        if ((rv = iv_assign_decode(&a, v, n)) != 0)
            return rv;
        *outn = IV_ASSIGN_LEN;
        iv_assign_encode(out, &a);
        break;
    }
    case V_APPLIED: {
        uint64_t a, l;
        if ((rv = iv_applied_decode(v, n, &a, &l)) != 0)
            return rv;
        *outn = IV_APPLIED_LEN;
        iv_applied_encode(out, a, l);
        break;
    }
    case V_VOLUME: {
        struct volinfo vi;
        memset(&vi, 0, sizeof vi);
        if ((rv = iv_volume_decode(&vi, v, n)) != 0)
            return rv;
        *outn = iv_volume_len(&vi);
        iv_volume_encode(out, &vi);
        break;
    }
    case V_SNAPSHOT: {
        struct snapinfo s;
        vv_init(&s.vv);
        if ((rv = iv_snapshot_decode(&s, v, n)) != 0) {
            vv_fini(&s.vv);
            return rv;
        }
        *outn = iv_snapshot_len(&s);
        iv_snapshot_encode(out, &s);
        vv_fini(&s.vv);
        break;
    }
    default:
        return CAIRN_EFORMAT;
    }
    return *outn == n && memcmp(out, v, n) == 0 ? 0 : -1;
}

#define VBUF 2048

static void iv_values_roundtrip_through_encode_and_decode(void **state)
{
    (void)state;
    uint8_t v[VBUF], out[VBUF];
    for (int w = 0; w < V_COUNT; w++)
        for (int var = 0; var < 3; var++) {
            size_t n = sample_value(w, var, v);
            assert_true(n > 0 && n < VBUF);
            assert_int_equal(v[0], INDEX_VERSION);
            size_t outn = 0;
            int rv = reencode(w, v, n, out, &outn);
            if (rv != 0)
                fail_msg("%s variant %d: reencode gave %d", vnames[w], var, rv);
        }
}

static void iv_values_decode_to_the_encoded_fields(void **state)
{
    (void)state;
    uint8_t v[VBUF];
    /* inode */
    struct attr a;
    sample_attr(&a);
    iv_inode_encode(v, 77, &a, "tgt", 3);
    struct iv_inode o;
    assert_int_equal(iv_inode_decode(&o, v, iv_inode_len(3)), 0);
    assert_int_equal(o.seq, 77);
    assert_int_equal(o.a.mode, a.mode);
    assert_int_equal(o.a.mtime, a.mtime);
    assert_int_equal(o.a.atime, -5);
    assert_int_equal(o.tlen, 3);
    assert_memory_equal(o.target, "tgt", 3);
    assert_ptr_equal(o.target, (const char *)v + iv_inode_len(0)); /* points into the value */
    /* dirent */
    uint64_t seq, child, x;
    uint8_t dt;
    iv_dirent_encode(v, 5, 0, 4);
    assert_int_equal(iv_dirent_decode(v, IV_DIRENT_LEN, &seq, &child, &dt), 0);
    assert_int_equal(seq, 5);
    assert_int_equal(child, 0);
    assert_int_equal(dt, 4);
    /* trunc */
    iv_trunc_encode(v, 6, UINT64_MAX);
    assert_int_equal(iv_trunc_decode(v, IV_TRUNC_LEN, &seq, &x), 0);
    assert_int_equal(seq, 6);
    assert_int_equal(x, UINT64_MAX);
    /* xattr removed and present */
    const uint8_t *val;
    uint32_t len;
    iv_xattr_encode(v, 7, NULL, XATTR_REMOVED);
    assert_int_equal(iv_xattr_len(XATTR_REMOVED), 13);
    assert_int_equal(iv_xattr_decode(v, 13, &seq, &val, &len), 0);
    assert_int_equal(len, XATTR_REMOVED);
    iv_xattr_encode(v, 8, "abc", 3);
    assert_int_equal(iv_xattr_decode(v, 16, &seq, &val, &len), 0);
    assert_int_equal(seq, 8);
    assert_int_equal(len, 3);
    assert_memory_equal(val, "abc", 3);
    /* recloc */
    struct recloc l = {9, 1ull << 40, 77, 1234}, l2;
    iv_recloc_encode(v, &l);
    assert_int_equal(iv_recloc_decode(&l2, v, IV_RECLOC_LEN), 0);
    assert_int_equal(l2.chunk_no, 9);
    assert_int_equal(l2.off, 1ull << 40);
    assert_int_equal(l2.len, 77);
    assert_int_equal(l2.hlc, 1234);
    /* assign, applied */
    struct assigninfo as = {.vol_no = 4, .ord = 17}, as2;
    memset(as.id, 0x3c, 16);
    iv_assign_encode(v, &as);
    assert_int_equal(iv_assign_decode(&as2, v, IV_ASSIGN_LEN), 0);
    assert_memory_equal(as2.id, as.id, 16);
    assert_int_equal(as2.vol_no, 4);
    assert_int_equal(as2.ord, 17);
    uint64_t ap, last;
    iv_applied_encode(v, 4096, 2048);
    assert_int_equal(iv_applied_decode(v, IV_APPLIED_LEN, &ap, &last), 0);
    assert_int_equal(ap, 4096);
    assert_int_equal(last, 2048);
    /* volume: the number lives in the key, not the value */
    struct volinfo vi = {.vol_no = 3, .durability = 2, .replicas = 5}, vi2;
    memset(vi.id, 0x11, 16);
    strcpy(vi.name, "data");
    iv_volume_encode(v, &vi);
    memset(&vi2, 0, sizeof vi2);
    assert_int_equal(iv_volume_decode(&vi2, v, iv_volume_len(&vi)), 0);
    assert_memory_equal(vi2.id, vi.id, 16);
    assert_int_equal(vi2.durability, 2);
    assert_int_equal(vi2.replicas, 5);
    assert_string_equal(vi2.name, "data");
    /* snapshot */
    struct snapinfo s = {.dot = {2, 40}, .hlc = 99}, s2;
    vv_init(&s.vv);
    vv_init(&s2.vv);
    vv_raise(&s.vv, 2, 40);
    vv_raise(&s.vv, 5, 1);
    iv_snapshot_encode(v, &s);
    assert_int_equal(iv_snapshot_decode(&s2, v, iv_snapshot_len(&s)), 0);
    assert_int_equal(s2.dot.origin, 2);
    assert_int_equal(s2.dot.seq, 40);
    assert_int_equal(s2.hlc, 99);
    assert_int_equal(vv_compare(&s.vv, &s2.vv), VV_EQUAL);
    vv_fini(&s.vv);
    vv_fini(&s2.vv);
}

static void iv_decoders_reject_wrong_versions(void **state)
{
    (void)state;
    uint8_t v[VBUF];
    for (int w = 0; w < V_COUNT; w++) {
        size_t n = sample_value(w, 1, v);
        assert_int_equal(decoders[w](v, n), 0);
        const uint8_t bad[] = {0, INDEX_VERSION + 1, 0x80, 0xff};
        for (size_t b = 0; b < sizeof bad; b++) {
            v[0] = bad[b];
            if (decoders[w](v, n) != CAIRN_EFORMAT)
                fail_msg("%s accepted version %u", vnames[w], bad[b]);
        }
    }
}

static void iv_decoders_reject_wrong_lengths(void **state)
{
    (void)state;
    uint8_t *v = malloc(VBUF);
    assert_non_null(v);
    for (int w = 0; w < V_COUNT; w++)
        for (int var = 0; var < 3; var++) {
            size_t n = sample_value(w, var, v);
            /* every truncation, each in an allocation of exactly that size */
            for (size_t k = 0; k < n; k++) {
                uint8_t *cut = malloc(k ? k : 1);
                assert_non_null(cut);
                memcpy(cut, v, k);
                if (decoders[w](cut, k) != CAIRN_EFORMAT)
                    fail_msg("%s variant %d: %zu of %zu bytes accepted", vnames[w], var, k, n);
                free(cut);
            }
            /* one byte too many */
            v[n] = 0;
            if (decoders[w](v, n + 1) != CAIRN_EFORMAT)
                fail_msg("%s variant %d: a trailing byte was accepted", vnames[w], var);
        }
    free(v);
}

static void iv_inode_and_xattr_reject_inner_length_mismatches(void **state)
{
    (void)state;
    uint8_t v[VBUF];
    struct iv_inode o;
    struct attr a;
    sample_attr(&a);
    iv_inode_encode(v, 1, &a, "abc", 3);
    put_le16(v + 9 + ATTR_LEN, 4); /* says 4, holds 3 */
    assert_int_equal(iv_inode_decode(&o, v, iv_inode_len(3)), CAIRN_EFORMAT);
    put_le16(v + 9 + ATTR_LEN, 2);
    assert_int_equal(iv_inode_decode(&o, v, iv_inode_len(3)), CAIRN_EFORMAT);
    uint64_t seq;
    const uint8_t *val;
    uint32_t len;
    iv_xattr_encode(v, 1, "abcd", 4);
    put_le32(v + 9, 5);
    assert_int_equal(iv_xattr_decode(v, 17, &seq, &val, &len), CAIRN_EFORMAT);
    put_le32(v + 9, XATTR_REMOVED); /* removed, yet carries bytes */
    assert_int_equal(iv_xattr_decode(v, 17, &seq, &val, &len), CAIRN_EFORMAT);
    put_le32(v + 9, 0xfffffff0u); /* huge, no overflow */
    assert_int_equal(iv_xattr_decode(v, 17, &seq, &val, &len), CAIRN_EFORMAT);
}

/* Writes an extents value holding the given raw pieces. */
static size_t raw_comp(uint8_t *v, const struct piece *p, unsigned n)
{
    v[0] = INDEX_VERSION;
    put_le64(v + 1, 1);
    put_le16(v + 9, (uint16_t)n);
    for (unsigned i = 0; i < n; i++) {
        uint8_t *q = v + 11 + (size_t)i * PIECE_LEN;
        put_le32(q, p[i].boff);
        put_le32(q + 4, p[i].len);
        put_le32(q + 8, p[i].chunk_no);
        put_le64(q + 12, p[i].rec_off);
        put_le32(q + 20, p[i].rec_len);
        put_le32(q + 24, p[i].data_off);
    }
    return 11 + (size_t)n * PIECE_LEN;
}

static void iv_comp_decode_rejects_malformed_pieces(void **state)
{
    (void)state;
    static uint8_t v[11 + (COMP_HARD_MAX + 1) * PIECE_LEN];
    struct comp c;
    comp_init(&c);
    struct piece ok[2] = {make_piece(1, 0, 10, 48), make_piece(2, 10, 10, 48)};
    assert_int_equal(iv_comp_decode(&c, v, raw_comp(v, ok, 2)), 0);
    assert_int_equal(c.n, 2);
    struct {
        const char *what;
        struct piece p[2];
    } bad[] = {
        {"empty piece", {make_piece(1, 0, 0, 48), make_piece(2, 10, 10, 48)}},
        {"overlap", {make_piece(1, 0, 11, 48), make_piece(2, 10, 10, 48)}},
        {"unsorted", {make_piece(2, 10, 10, 48), make_piece(1, 0, 10, 48)}},
        {"duplicate", {make_piece(1, 0, 10, 48), make_piece(1, 0, 10, 48)}},
        {"past the block", {make_piece(1, 0, 10, 48), make_piece(2, BLOCK_SIZE - 5, 6, 48)}},
        {"boff overflow", {make_piece(1, 0, 10, 48), make_piece(2, 0xfffffff0u, 0x20, 48)}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (iv_comp_decode(&c, v, raw_comp(v, bad[i].p, 2)) != CAIRN_EFORMAT)
            fail_msg("comp with %s accepted", bad[i].what);
        assert_int_equal(c.n, 0);
    }
    /* data beyond the record, and records longer than any record can be */
    struct piece p = make_piece(1, 0, 10, 48);
    p.rec_len = 57;
    assert_int_equal(iv_comp_decode(&c, v, raw_comp(v, &p, 1)), CAIRN_EFORMAT);
    p.rec_len = 58;
    assert_int_equal(iv_comp_decode(&c, v, raw_comp(v, &p, 1)), 0);
    p.data_off = 0xfffffffau;
    p.rec_len = 0xffffffffu;
    assert_int_equal(iv_comp_decode(&c, v, raw_comp(v, &p, 1)), CAIRN_EFORMAT);
    p.data_off = 48;
    p.rec_len = REC_MAX_LEN + 1;
    assert_int_equal(iv_comp_decode(&c, v, raw_comp(v, &p, 1)), CAIRN_EFORMAT);
    /* more pieces than COMP_HARD_MAX, each valid */
    static struct piece many[COMP_HARD_MAX + 1];
    for (unsigned i = 0; i <= COMP_HARD_MAX; i++)
        many[i] = make_piece(i + 1, i * 64, 64, 48);
    assert_int_equal(iv_comp_decode(&c, v, raw_comp(v, many, COMP_HARD_MAX)), 0);
    assert_int_equal(c.n, COMP_HARD_MAX);
    assert_int_equal(iv_comp_decode(&c, v, raw_comp(v, many, COMP_HARD_MAX + 1)), CAIRN_EFORMAT);
    comp_fini(&c);
}

static void iv_volume_and_snapshot_reject_malformed_contents(void **state)
{
    (void)state;
    uint8_t v[VBUF];
    struct volinfo vi;
    size_t n = sample_value(V_VOLUME, 0, v); /* "home" */
    v[21 + 1] = 0;                           /* a 00 inside the name */
    assert_int_equal(iv_volume_decode(&vi, v, n), CAIRN_EFORMAT);
    n = sample_value(V_VOLUME, 0, v);
    put_le16(v + 19, 0); /* empty name */
    assert_int_equal(iv_volume_decode(&vi, v, 21), CAIRN_EFORMAT);
    memset(v + 21, 'x', 256);
    put_le16(v + 19, 256); /* does not fit volinfo.name */
    assert_int_equal(iv_volume_decode(&vi, v, 21 + 256), CAIRN_EFORMAT);
    put_le16(v + 19, 255);
    assert_int_equal(iv_volume_decode(&vi, v, 21 + 255), 0);
    assert_int_equal(strlen(vi.name), 255);

    struct snapinfo s;
    vv_init(&s.vv);
    n = sample_value(V_SNAPSHOT, 1, v); /* vector {1:4, 3:9} at offset 21 */
    assert_int_equal(iv_snapshot_decode(&s, v, n), 0);
    put_le32(v + 21 + 2, 7); /* first origin 7 > second origin 3: unsorted */
    assert_int_equal(iv_snapshot_decode(&s, v, n), CAIRN_EFORMAT);
    n = sample_value(V_SNAPSHOT, 1, v);
    put_le64(v + 21 + 2 + 4, 0); /* zero seq */
    assert_int_equal(iv_snapshot_decode(&s, v, n), CAIRN_EFORMAT);
    n = sample_value(V_SNAPSHOT, 1, v);
    put_le16(v + 21, 3); /* count beyond the bytes */
    assert_int_equal(iv_snapshot_decode(&s, v, n), CAIRN_EFORMAT);
    vv_fini(&s.vv);
}

static void iv_decoders_accept_only_canonical_garbage(void **state)
{
    (void)state;
    uint64_t rng = tu_seed(__func__);
    uint8_t v[VBUF], out[VBUF + 64];
    unsigned accepted[V_COUNT] = {0};
    for (int it = 0; it < 20000; it++) {
        int w = it % V_COUNT;
        size_t n;
        if (tu_rand(&rng) % 2) {
            /* a valid value with a few random bytes changed (version kept) */
            n = sample_value(w, (int)(tu_rand(&rng) % 3), v);
            int k = 1 + (int)(tu_rand(&rng) % 3);
            for (int j = 0; j < k && n > 1; j++)
                v[1 + tu_rand(&rng) % (n - 1)] = (uint8_t)tu_rand(&rng);
            if (tu_rand(&rng) % 8 == 0)
                n = (size_t)(tu_rand(&rng) % (n + 2)); /* and sometimes a wrong length */
        } else {
            n = (size_t)(tu_rand(&rng) % 96);
            for (size_t i = 0; i < n; i++)
                v[i] = (uint8_t)tu_rand(&rng);
            if (n && tu_rand(&rng) % 2)
                v[0] = INDEX_VERSION;
        }
        size_t outn = 0;
        int rv = reencode(w, v, n, out, &outn);
        if (rv == -1)
            fail_msg("%s: accepted %zu bytes that do not re-encode the same", vnames[w], n);
        if (rv != 0 && rv != CAIRN_EFORMAT)
            fail_msg("%s: unexpected error %d", vnames[w], rv);
        accepted[w] += rv == 0;
    }
    for (int w = 0; w < V_COUNT; w++)
        if (!accepted[w])
            fail_msg("%s: the mutations never produced an accepted value", vnames[w]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mk_versioned_keys_sort_newest_first),
        cmocka_unit_test(mk_seek_to_stamp_finds_latest_at_or_before_it),
        cmocka_unit_test(mk_name_versions_sort_before_longer_names_with_that_prefix),
        cmocka_unit_test(mk_keys_have_the_documented_layout),
        cmocka_unit_test(mk_record_keys_sort_by_numeric_seq),
        cmocka_unit_test(mk_stamp_roundtrips_for_every_versioned_key),
        cmocka_unit_test(mk_name_roundtrips_and_rejects_malformed_keys),
        cmocka_unit_test(mk_live_roundtrips_sorts_as_dirents_and_rejects_malformed_keys),
        cmocka_unit_test(mk_prefix_end_is_the_least_key_above_the_prefix),
        cmocka_unit_test(comp_overlay_and_clip_match_the_byte_model),
        cmocka_unit_test(comp_overlay_splits_a_piece_around_a_smaller_one),
        cmocka_unit_test(iv_values_roundtrip_through_encode_and_decode),
        cmocka_unit_test(iv_values_decode_to_the_encoded_fields),
        cmocka_unit_test(iv_decoders_reject_wrong_versions),
        cmocka_unit_test(iv_decoders_reject_wrong_lengths),
        cmocka_unit_test(iv_inode_and_xattr_reject_inner_length_mismatches),
        cmocka_unit_test(iv_comp_decode_rejects_malformed_pieces),
        cmocka_unit_test(iv_volume_and_snapshot_reject_malformed_contents),
        cmocka_unit_test(iv_decoders_accept_only_canonical_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
