/*
 * test_record.c — unit tests for daemon/record.c (record bytes, format.h).
 *
 * Covers record.c's invariants: (1) record_decode accepts exactly what
 * record_encode produces and nothing else; (2) the checksum covers every byte
 * but its own field; (3) decoded strings and data point into the buffer.
 * Records are REC_VERSION 2: bytes 44..47 hold a header CRC (format.h), and
 * version-1 records (bytes 44..47 zero) must still decode. Helpers that patch
 * header bytes reseal() both CRCs the way record_encode does, so each test
 * fails on the rule it names rather than on a stale checksum.
 *  - encode/decode roundtrip of every effect type (INODE with and without a
 *    symlink target, DIRENT incl. tombstones, DATA, TRUNC, XATTR incl.
 *    XATTR_REMOVED, SNAPSHOT) and of catalog records (VOLUME, ASSIGN), with
 *    and without a context vector; record_data_offset; record_verify;
 *  - damage: every single byte of every sample, current and version 1,
 *    flipped (several masks) must fail with CAIRN_ECHECKSUM or CAIRN_EFORMAT
 *    (in a current record: header bytes fail record_peek, others the full
 *    CRC); a wrong header CRC fails record_peek even under a recomputed full
 *    CRC; every truncation gives CAIRN_ETORN (header intact) or CAIRN_EFORMAT
 *    (header cut);
 *  - versions: version-1 records decode to the same record; a version-1
 *    header with nonzero bytes 44..47 or 22..23 is rejected;
 *  - garbage: seeded random buffers never decode; seeded mutations of valid
 *    records with a recomputed checksum either fail with CAIRN_EFORMAT or
 *    re-encode to the very same bytes (invariant 1);
 *  - hand-built records (raw_record) for each rule the decoder enforces:
 *    DATA inside one 64 KiB block, dirent names, zero dots, context order,
 *    effect/kind pairing, unknown types, body lengths, reserved bytes, and
 *    names the index cannot hold (metakey.h: KEY_MAX, no 00 inside names).
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
#include "record.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <zlib.h>

/* ---- helpers ------------------------------------------------------------ */

static uint8_t pattern[BLOCK_SIZE + 16];

static void fill_pattern(void)
{
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (uint8_t)(i * 131 + (i >> 8) * 7 + 1);
}

/* Encodes R into a fresh buffer; *LEN receives its length. */
static uint8_t *encode(const struct record *r, size_t *len)
{
    *len = record_encoded_len(r);
    uint8_t *buf = malloc(*len);
    assert_non_null(buf);
    memset(buf, 0xcc, *len);
    record_encode(r, buf);
    return buf;
}

/* The checksum function of a record's version (format.h): over [0,12) then
 * [16,len). Version 3: XXH3-64 (low 32 bits) of [16,len) seeded with the
 * XXH3-64 of [0,12); versions 1 and 2: zlib CRC-32. */
static uint32_t sum_of(const uint8_t *buf, size_t len)
{
    if (buf[4] >= 3)
        return (uint32_t)XXH3_64bits_withSeed(buf + 16, len - 16, XXH3_64bits(buf, 12));
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, buf, 12);
    c = crc32(c, buf + 16, (uInt)(len - 16));
    return (uint32_t)c;
}

/* The header checksum (format.h, offset 44): [0,12) then [16,44). */
static uint32_t header_crc(const uint8_t *buf)
{
    return sum_of(buf, 44);
}

/* The full checksum (format.h, offset 12) of a LEN-byte record: [0,12) then
 * [16,len), so it covers the header checksum too. */
static uint32_t full_crc(const uint8_t *buf, size_t len)
{
    return sum_of(buf, len);
}

/* Recomputes the full CRC only, leaving bytes 44..47 as they are. */
static void reseal_full(uint8_t *buf, size_t len)
{
    put_le32(buf + 12, full_crc(buf, len));
}

/* Recomputes both checksums of a LEN-byte record after a test patched it, the
 * way record_encode writes them: the header CRC first (the full CRC covers
 * it), then the full CRC. A version-1 record has no header CRC (bytes 44..47
 * are whatever the test left there), so only its full CRC is recomputed. */
static void reseal(uint8_t *buf, size_t len)
{
    if (buf[4] != 1)
        put_le32(buf + 44, header_crc(buf));
    reseal_full(buf, len);
}

/* Rewrites a sealed LEN-byte record as a version-1 writer would have written
 * it: version byte 1, bytes 44..47 zero, full CRC recomputed. */
static void make_v1(uint8_t *buf, size_t len)
{
    buf[4] = 1;
    put_le32(buf + 44, 0);
    reseal_full(buf, len);
}

/* A record of version REC_VERSION built byte by byte and sealed (header CRC
 * and full CRC, as record_encode seals), so the tests can state what the
 * encoder never produces. CTX holds NCTX raw {origin, seq} pairs. */
static size_t raw_record(uint8_t *out, uint8_t kind, uint32_t origin, uint64_t seq,
                         const struct vv_entry *ctx, unsigned nctx, const uint8_t *payload,
                         size_t plen)
{
    size_t total = REC_HDR_LEN + (size_t)nctx * REC_CTX_ENTRY_LEN + plen;
    memset(out, 0, REC_HDR_LEN);
    put_le32(out, REC_MAGIC);
    out[4] = REC_VERSION;
    out[5] = kind;
    put_le32(out + 8, (uint32_t)total);
    put_le32(out + 16, origin);
    put_le16(out + 20, (uint16_t)nctx);
    put_le64(out + 24, seq);
    put_le64(out + 32, 0x0001234500000001ull);
    put_le32(out + 40, (uint32_t)plen);
    for (unsigned i = 0; i < nctx; i++) {
        put_le32(out + REC_HDR_LEN + 12 * i, ctx[i].origin);
        put_le64(out + REC_HDR_LEN + 12 * i + 4, ctx[i].seq);
    }
    if (plen)
        memcpy(out + REC_HDR_LEN + 12 * nctx, payload, plen);
    reseal(out, total);
    return total;
}

/* Appends one raw effect { u8 type, u32 blen, body } to P; returns bytes written. */
static size_t raw_effect(uint8_t *p, uint8_t type, const uint8_t *body, uint32_t blen)
{
    p[0] = type;
    put_le32(p + 1, blen);
    if (blen)
        memcpy(p + EFF_HDR_LEN, body, blen);
    return EFF_HDR_LEN + blen;
}

static void set_dot(struct record *r, uint8_t kind, uint32_t origin, uint64_t seq)
{
    r->kind = kind;
    r->dot.origin = origin;
    r->dot.seq = seq;
    r->hlc = ((uint64_t)1700000000123ull << 16) | 77;
}

static void sample_attr(struct attr *a, uint32_t mode)
{
    a->mode = mode;
    a->uid = 1000;
    a->gid = 0xfffffffeu;
    a->nlink = 3;
    a->size = 0x0102030405060708ull;
    a->rdev = 0x0803;
    a->parent = 1;
    a->atime = -1; /* before the epoch */
    a->mtime = 1700000000123456789ll;
    a->ctime = INT64_MAX;
    a->btime = INT64_MIN;
    a->flags = 0;
}

static void add_inode(struct record *r, uint64_t ino, const char *target)
{
    struct effect *e = record_add(r, EFF_INODE);
    e->ino = ino;
    sample_attr(&e->attr, target ? 0120777 : 0100644);
    if (target) {
        e->str = target;
        e->str_len = (uint16_t)strlen(target);
    }
}

static void add_dirent(struct record *r, uint64_t parent, uint64_t child, const char *name)
{
    struct effect *e = record_add(r, EFF_DIRENT);
    e->parent = parent;
    e->child = child;
    e->dtype = child ? 8 : 0;
    e->str = name;
    e->str_len = (uint16_t)strlen(name);
}

static void add_data(struct record *r, uint64_t ino, uint64_t off, uint32_t len, size_t from)
{
    struct effect *e = record_add(r, EFF_DATA);
    e->ino = ino;
    e->off = off;
    e->len = len;
    e->data = pattern + from;
}

static void add_trunc(struct record *r, uint64_t ino, uint64_t size)
{
    struct effect *e = record_add(r, EFF_TRUNC);
    e->ino = ino;
    e->size = size;
}

static void add_xattr(struct record *r, uint64_t ino, const char *name, const char *val)
{
    struct effect *e = record_add(r, EFF_XATTR);
    e->ino = ino;
    e->str = name;
    e->str_len = (uint16_t)strlen(name);
    if (val) {
        e->data = (const uint8_t *)val;
        e->len = (uint32_t)strlen(val);
    } else {
        e->len = XATTR_REMOVED;
    }
}

static void add_snapshot(struct record *r, const char *name)
{
    struct effect *e = record_add(r, EFF_SNAPSHOT);
    e->str = name;
    e->str_len = (uint16_t)strlen(name);
}

static void add_volume(struct record *r, uint32_t vol_no, const char *name)
{
    struct effect *e = record_add(r, EFF_VOLUME);
    e->vol_no = vol_no;
    for (int i = 0; i < 16; i++)
        e->id[i] = (uint8_t)(0xa0 + i);
    e->durability = 2;
    e->replicas = 3;
    e->str = name;
    e->str_len = (uint16_t)strlen(name);
}

static void add_assign(struct record *r, uint32_t vol_no)
{
    struct effect *e = record_add(r, EFF_ASSIGN);
    for (int i = 0; i < 16; i++)
        e->id[i] = (uint8_t)(0x10 * i + 1);
    e->vol_no = vol_no;
}

enum sample {
    S_INODE_SYMLINK,
    S_INODE_PLAIN,
    S_DIRENT,
    S_DATA,
    S_TRUNC,
    S_XATTR,
    S_SNAPSHOT,
    S_CATALOG,
    S_MIXED,
    S_EMPTY,
    S_COUNT
};

/* One sample record per case above (R initialised). */
static void build_sample(struct record *r, enum sample s)
{
    record_reset(r);
    set_dot(r, REC_KIND_VOLUME, 3, 7 + (uint64_t)s);
    switch (s) {
    case S_INODE_SYMLINK:
        add_inode(r, 42, "../some/where/else");
        break;
    case S_INODE_PLAIN:
        add_inode(r, 43, NULL);
        break;
    case S_DIRENT:
        add_dirent(r, 1, 42, "hello.txt");
        add_dirent(r, 1, 0, "gone"); /* tombstone */
        break;
    case S_DATA:
        add_data(r, 42, 3 * (uint64_t)BLOCK_SIZE + 100, 300, 5);
        break;
    case S_TRUNC:
        add_trunc(r, 42, 12345);
        add_trunc(r, 43, 0);
        break;
    case S_XATTR:
        add_xattr(r, 42, "user.mime", "text/plain");
        add_xattr(r, 42, "user.empty", "");
        add_xattr(r, 42, "user.gone", NULL);
        break;
    case S_SNAPSHOT:
        vv_raise(&r->ctx, 3, 6);
        vv_raise(&r->ctx, 9, 100);
        add_snapshot(r, "nightly-2024-01-01");
        break;
    case S_CATALOG:
        set_dot(r, REC_KIND_CATALOG, 5, 1);
        add_volume(r, 2, "home");
        add_assign(r, 2);
        break;
    case S_MIXED:
        vv_raise(&r->ctx, 1, 5);
        vv_raise(&r->ctx, 3, 2);
        vv_raise(&r->ctx, 70000, 9);
        vv_raise(&r->ctx, 0xffffffffu, 1);
        add_inode(r, 44, NULL);
        add_dirent(r, 1, 44, "f");
        add_data(r, 44, 0, 200, 0);
        add_data(r, 44, BLOCK_SIZE - 50, 50, 1000);
        add_xattr(r, 44, "user.a", "1");
        add_trunc(r, 44, 100);
        add_inode(r, 45, "t");
        break;
    case S_EMPTY:
        break;
    case S_COUNT:
        break;
    }
}

static void assert_attr_equal(const struct attr *w, const struct attr *g)
{
    assert_int_equal(g->mode, w->mode);
    assert_int_equal(g->uid, w->uid);
    assert_int_equal(g->gid, w->gid);
    assert_int_equal(g->nlink, w->nlink);
    assert_int_equal(g->size, w->size);
    assert_int_equal(g->rdev, w->rdev);
    assert_int_equal(g->parent, w->parent);
    assert_int_equal(g->atime, w->atime);
    assert_int_equal(g->mtime, w->mtime);
    assert_int_equal(g->ctime, w->ctime);
    assert_int_equal(g->btime, w->btime);
    assert_int_equal(g->flags, w->flags);
}

static void assert_effect_equal(const struct effect *w, const struct effect *g)
{
    assert_int_equal(g->type, w->type);
    switch (w->type) {
    case EFF_INODE:
        assert_int_equal(g->ino, w->ino);
        assert_attr_equal(&w->attr, &g->attr);
        assert_int_equal(g->str_len, w->str_len);
        assert_memory_equal(g->str, w->str, w->str_len);
        break;
    case EFF_DIRENT:
        assert_int_equal(g->parent, w->parent);
        assert_int_equal(g->child, w->child);
        assert_int_equal(g->dtype, w->dtype);
        assert_int_equal(g->str_len, w->str_len);
        assert_memory_equal(g->str, w->str, w->str_len);
        break;
    case EFF_DATA:
        assert_int_equal(g->ino, w->ino);
        assert_int_equal(g->off, w->off);
        assert_int_equal(g->len, w->len);
        assert_memory_equal(g->data, w->data, w->len);
        break;
    case EFF_TRUNC:
        assert_int_equal(g->ino, w->ino);
        assert_int_equal(g->size, w->size);
        break;
    case EFF_XATTR:
        assert_int_equal(g->ino, w->ino);
        assert_int_equal(g->str_len, w->str_len);
        assert_memory_equal(g->str, w->str, w->str_len);
        assert_int_equal(g->len, w->len);
        if (w->len != XATTR_REMOVED && w->len)
            assert_memory_equal(g->data, w->data, w->len);
        break;
    case EFF_SNAPSHOT:
        assert_int_equal(g->str_len, w->str_len);
        assert_memory_equal(g->str, w->str, w->str_len);
        break;
    case EFF_VOLUME:
        assert_int_equal(g->vol_no, w->vol_no);
        assert_memory_equal(g->id, w->id, 16);
        assert_int_equal(g->durability, w->durability);
        assert_int_equal(g->replicas, w->replicas);
        assert_int_equal(g->str_len, w->str_len);
        assert_memory_equal(g->str, w->str, w->str_len);
        break;
    case EFF_ASSIGN:
        assert_memory_equal(g->id, w->id, 16);
        assert_int_equal(g->vol_no, w->vol_no);
        break;
    default:
        fail_msg("unexpected effect type %u", w->type);
    }
}

static void assert_record_equal(const struct record *w, const struct record *g)
{
    assert_int_equal(g->kind, w->kind);
    assert_int_equal(g->flags, w->flags);
    assert_int_equal(g->dot.origin, w->dot.origin);
    assert_int_equal(g->dot.seq, w->dot.seq);
    assert_int_equal(g->hlc, w->hlc);
    assert_int_equal(g->ctx.n, w->ctx.n);
    for (uint32_t i = 0; i < w->ctx.n; i++) {
        assert_int_equal(g->ctx.e[i].origin, w->ctx.e[i].origin);
        assert_int_equal(g->ctx.e[i].seq, w->ctx.e[i].seq);
    }
    assert_int_equal(g->n_eff, w->n_eff);
    for (uint32_t i = 0; i < w->n_eff; i++)
        assert_effect_equal(&w->eff[i], &g->eff[i]);
}

/* Encodes sample S, decodes it, compares; returns the decoded record's
 * strings' and data's locations inside the buffer via assertions. */
static void roundtrip_sample(enum sample s)
{
    struct record r, d;
    record_init(&r);
    record_init(&d);
    build_sample(&r, s);
    size_t len;
    uint8_t *buf = encode(&r, &len);
    uint32_t total = 0;
    assert_int_equal(record_peek(buf, len, &total), 0);
    assert_int_equal(total, len);
    assert_int_equal(record_verify(buf, len), 0);
    assert_int_equal(record_decode(&d, buf, len), 0);
    assert_record_equal(&r, &d);
    /* (3): strings and data point into the buffer, nothing is copied */
    for (uint32_t i = 0; i < d.n_eff; i++) {
        const struct effect *e = &d.eff[i];
        if (e->str_len) {
            assert_true((const uint8_t *)e->str >= buf);
            assert_true((const uint8_t *)e->str + e->str_len <= buf + len);
        }
        if (e->data && e->len && e->len != XATTR_REMOVED) {
            assert_true(e->data >= buf);
            assert_true(e->data + e->len <= buf + len);
        }
    }
    /* re-encoding the decoded form gives the same bytes */
    size_t len2;
    uint8_t *again = encode(&d, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(again, buf, len);
    free(again);
    free(buf);
    record_fini(&d);
    record_fini(&r);
}

/* ---- roundtrips --------------------------------------------------------- */

static void record_roundtrip_inode_with_symlink_target(void **state)
{
    (void)state;
    roundtrip_sample(S_INODE_SYMLINK);
}

static void record_roundtrip_inode_without_target(void **state)
{
    (void)state;
    roundtrip_sample(S_INODE_PLAIN);
}

static void record_roundtrip_dirent_and_tombstone(void **state)
{
    (void)state;
    roundtrip_sample(S_DIRENT);
}

static void record_roundtrip_data(void **state)
{
    (void)state;
    roundtrip_sample(S_DATA);
}

/* A DATA effect whose bytes are in pieces (effect.src, as a write stream's
 * data arrives) encodes to the same bytes as from one buffer: pieces of 1
 * byte, empty ones, one that starts inside its piece, one that spans many. */
static void record_data_from_pieces_encodes_as_from_one_buffer(void **state)
{
    (void)state;
    static const size_t cuts[][6] = {{300, 0, 0, 0, 0, 0},
                                     {1, 1, 298, 0, 0, 0},
                                     {0, 150, 0, 150, 0, 0},
                                     {7, 13, 0, 1, 200, 79},
                                     {299, 1, 0, 0, 0, 0}};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        for (size_t skip = 0; skip < 3; skip++) {
            struct record one, pieced;
            record_init(&one);
            record_init(&pieced);
            add_data(&one, 42, 3 * (uint64_t)BLOCK_SIZE + 100, 300, 5);
            /* the pieces cover pattern[5 - skip, ...): the data starts SKIP in */
            struct iovec iov[7];
            size_t at = 5 - skip;
            iov[0] = (struct iovec){(void *)(pattern + at), skip};
            at += skip;
            for (size_t k = 0; k < 6; k++) {
                size_t n = cuts[c][k];
                iov[k + 1] = (struct iovec){(void *)(pattern + at), n};
                at += n;
            }
            struct effect *e = record_add(&pieced, EFF_DATA);
            e->ino = 42;
            e->off = 3 * (uint64_t)BLOCK_SIZE + 100;
            e->len = 300;
            e->src = (struct gather){iov, 0};
            e->src = gather_skip(e->src, skip);
            size_t l1, l2;
            uint8_t *a = encode(&one, &l1), *b = encode(&pieced, &l2);
            assert_int_equal(l1, l2);
            assert_memory_equal(a, b, l1);
            free(a);
            free(b);
            record_fini(&one);
            record_fini(&pieced);
        }
    }
}

static void record_roundtrip_trunc(void **state)
{
    (void)state;
    roundtrip_sample(S_TRUNC);
}

static void record_roundtrip_xattr_set_empty_and_removed(void **state)
{
    (void)state;
    roundtrip_sample(S_XATTR);
}

static void record_roundtrip_snapshot_with_context(void **state)
{
    (void)state;
    roundtrip_sample(S_SNAPSHOT);
}

static void record_roundtrip_catalog_volume_and_assign(void **state)
{
    (void)state;
    roundtrip_sample(S_CATALOG);
}

static void record_roundtrip_mixed_effects(void **state)
{
    (void)state;
    roundtrip_sample(S_MIXED);
}

static void record_roundtrip_no_effects(void **state)
{
    (void)state;
    roundtrip_sample(S_EMPTY);
}

static void record_encode_writes_the_documented_header(void **state)
{
    (void)state;
    struct record r;
    record_init(&r);
    build_sample(&r, S_SNAPSHOT);
    size_t len;
    uint8_t *buf = encode(&r, &len);
    assert_int_equal(get_le32(buf), REC_MAGIC);
    assert_memory_equal(buf, "CREC", 4);
    assert_int_equal(buf[4], REC_VERSION);
    assert_int_equal(buf[5], REC_KIND_VOLUME);
    assert_int_equal(get_le16(buf + 6), 0);
    assert_int_equal(get_le32(buf + 8), len);
    assert_int_equal(get_le32(buf + 16), 3);
    assert_int_equal(get_le16(buf + 20), 2);
    assert_int_equal(get_le16(buf + 22), 0);
    assert_int_equal(get_le64(buf + 24), r.dot.seq);
    assert_int_equal(get_le64(buf + 32), r.hlc);
    assert_int_equal(get_le32(buf + 40), len - REC_HDR_LEN - 2 * REC_CTX_ENTRY_LEN);
    /* the header checksum: XXH3 of [16,44) seeded with XXH3 of [0,12),
     * computed here without the helpers */
    uint64_t h = XXH3_64bits_withSeed(buf + 16, 28, XXH3_64bits(buf, 12));
    assert_int_equal(get_le32(buf + 44), (uint32_t)h);
    assert_int_equal(get_le32(buf + 48), 3); /* context sorted by origin */
    assert_int_equal(get_le64(buf + 52), 6);
    assert_int_equal(get_le32(buf + 60), 9);
    assert_int_equal(get_le64(buf + 64), 100);
    /* (2) the checksum over [0,12) then [16,total), header checksum included */
    uint64_t c = XXH3_64bits_withSeed(buf + 16, len - 16, XXH3_64bits(buf, 12));
    assert_int_equal(get_le32(buf + 12), (uint32_t)c);
    /* the test's reseal() writes the very same two fields */
    uint32_t want_hdr = get_le32(buf + 44), want = get_le32(buf + 12);
    memset(buf + 12, 0, 4);
    memset(buf + 44, 0, 4);
    reseal(buf, len);
    assert_int_equal(get_le32(buf + 44), want_hdr);
    assert_int_equal(get_le32(buf + 12), want);
    free(buf);
    record_fini(&r);
}

/* R and D initialised, R the S_MIXED sample, returned encoded (*LEN bytes,
 * malloc'ed). */
static uint8_t *encode_mixed(struct record *r, struct record *d, size_t *len)
{
    record_init(r);
    record_init(d);
    build_sample(r, S_MIXED);
    return encode(r, len);
}

static void record_data_offset_points_at_the_data_bytes(void **state)
{
    (void)state;
    struct record r, d;
    size_t len;
    uint8_t *buf = encode_mixed(&r, &d, &len);
    assert_int_equal(record_decode(&d, buf, len), 0);
    unsigned seen = 0;
    for (uint32_t i = 0; i < r.n_eff; i++) {
        if (r.eff[i].type != EFF_DATA)
            continue;
        seen++;
        size_t off = record_data_offset(&r, i);
        assert_true(off + r.eff[i].len <= len);
        assert_memory_equal(buf + off, r.eff[i].data, r.eff[i].len);
        /* the decoded effect points at the same place */
        assert_ptr_equal(d.eff[i].data, buf + off);
        assert_int_equal(record_data_offset(&d, i), off);
    }
    assert_int_equal(seen, 2);
    free(buf);
    record_fini(&d);
    record_fini(&r);
}

static void record_verify_accepts_intact_and_rejects_damaged_records(void **state)
{
    (void)state;
    struct record r;
    record_init(&r);
    for (enum sample s = 0; s < S_COUNT; s++) {
        build_sample(&r, s);
        size_t len;
        uint8_t *buf = encode(&r, &len);
        assert_int_equal(record_verify(buf, len), 0);
        /* a length other than the record's own */
        assert_int_equal(record_verify(buf, len - 1), CAIRN_EFORMAT);
        assert_int_equal(record_verify(buf, REC_HDR_LEN - 1), CAIRN_EFORMAT);
        /* a byte past the header (when there is one) or the checksum itself
         * changed */
        if (len > REC_HDR_LEN) {
            buf[len - 1] ^= 0x40;
            assert_int_equal(record_verify(buf, len), CAIRN_ECHECKSUM);
            buf[len - 1] ^= 0x40;
        }
        buf[13] ^= 0x01;
        assert_int_equal(record_verify(buf, len), CAIRN_ECHECKSUM);
        buf[13] ^= 0x01;
        /* a header field or the header CRC changed: the header check
         * (record_peek) fails first */
        buf[16] ^= 0x01;
        assert_int_equal(record_verify(buf, len), CAIRN_EFORMAT);
        buf[16] ^= 0x01;
        buf[47] ^= 0x40;
        assert_int_equal(record_verify(buf, len), CAIRN_EFORMAT);
        free(buf);
    }
    record_fini(&r);
}

/* record_salvage_data (recovery's last resort for a damaged record whose
 * header verified): a flipped data byte leaves every effect readable and
 * the data where record_data_offset says; a flipped effect length leaves the
 * header only; a record whose checksum verifies, the header only; a
 * version-1 record (no header checksum), a catalog record or a damaged
 * header: refused. */
static void record_salvage_data_keeps_what_can_be_located(void **state)
{
    (void)state;
    struct record r, d;
    size_t len;
    uint8_t *buf = encode_mixed(&r, &d, &len);
    uint32_t di = 0;
    while (r.eff[di].type != EFF_DATA)
        di++;
    size_t at = record_data_offset(&r, di);

    buf[at + 1] ^= 0x10; /* a data byte */
    assert_int_equal(record_decode(&d, buf, len), CAIRN_ECHECKSUM);
    assert_int_equal(record_salvage_data(&d, buf, len), 0);
    assert_int_equal(d.dot.origin, r.dot.origin);
    assert_int_equal(d.dot.seq, r.dot.seq);
    assert_int_equal(d.hlc, r.hlc);
    assert_int_equal(d.n_eff, r.n_eff);
    assert_int_equal(d.eff[di].ino, r.eff[di].ino);
    assert_int_equal(d.eff[di].off, r.eff[di].off);
    assert_ptr_equal(d.eff[di].data, buf + at);
    buf[at + 1] ^= 0x10;

    buf[at - 4] ^= 0x7f; /* the effect's u32 length: the structure breaks */
    assert_int_equal(record_salvage_data(&d, buf, len), 0);
    assert_int_equal(d.n_eff, 0);
    assert_int_equal(d.dot.seq, r.dot.seq);
    buf[at - 4] ^= 0x7f;

    /* a record whose checksum verifies is only ever handed over when it did
     * not decode: its header is all that is taken */
    assert_int_equal(record_salvage_data(&d, buf, len), 0);
    assert_int_equal(d.n_eff, 0);
    assert_int_equal(d.dot.seq, r.dot.seq);

    buf[16] ^= 0x01; /* the header: its checksum fails */
    assert_int_equal(record_salvage_data(&d, buf, len), CAIRN_EFORMAT);
    buf[16] ^= 0x01;
    make_v1(buf, len);
    buf[at + 1] ^= 0x10;
    assert_int_equal(record_salvage_data(&d, buf, len), CAIRN_EFORMAT);
    free(buf);

    build_sample(&r, S_CATALOG);
    buf = encode(&r, &len);
    buf[len - 1] ^= 0x10;
    assert_int_equal(record_salvage_data(&d, buf, len), CAIRN_EFORMAT);
    free(buf);
    record_fini(&d);
    record_fini(&r);
}

/* ---- damage ------------------------------------------------------------- */

/* Every sample, as written now (REC_VERSION) and as a version-1 writer wrote
 * it. In a current record the header CRC makes the outcome exact: a flipped
 * header byte (outside the full CRC field 12..15) fails record_peek with
 * CAIRN_EFORMAT, any other byte fails the full CRC with CAIRN_ECHECKSUM. A
 * version-1 header has no CRC of its own, so either error will do there. */
static void record_decode_fails_when_any_single_byte_is_flipped(void **state)
{
    (void)state;
    uint64_t rng = tu_seed(__func__);
    struct record r, d;
    record_init(&r);
    record_init(&d);
    for (int v1 = 0; v1 <= 1; v1++) {
        for (enum sample s = 0; s < S_COUNT; s++) {
            build_sample(&r, s);
            size_t len;
            uint8_t *buf = encode(&r, &len);
            if (v1)
                make_v1(buf, len);
            assert_int_equal(record_decode(&d, buf, len), 0); /* the control */
            uint8_t *copy = malloc(len);
            assert_non_null(copy);
            for (size_t pos = 0; pos < len; pos++) {
                uint8_t masks[4] = {0x01, 0x80, 0xff, (uint8_t)(1 + tu_rand(&rng) % 255)};
                int in_header = pos < REC_HDR_LEN && (pos < 12 || pos >= 16);
                for (int m = 0; m < 4; m++) {
                    memcpy(copy, buf, len);
                    copy[pos] ^= masks[m];
                    int rv = record_decode(&d, copy, len);
                    if (rv != CAIRN_ECHECKSUM && rv != CAIRN_EFORMAT)
                        fail_msg("v%d sample %d: byte %zu ^ 0x%02x decoded with %d", v1 ? 1 : 2,
                                 (int)s, pos, masks[m], rv);
                    assert_int_equal(d.n_eff, 0); /* reset on failure */
                    assert_true(record_verify(copy, len) != 0);
                    if (v1)
                        continue;
                    uint32_t total;
                    if (in_header) {
                        if (rv != CAIRN_EFORMAT || record_peek(copy, len, &total) != CAIRN_EFORMAT)
                            fail_msg("sample %d: header byte %zu ^ 0x%02x passed the header "
                                     "check (decode %d)",
                                     (int)s, pos, masks[m], rv);
                    } else if (rv != CAIRN_ECHECKSUM) {
                        fail_msg("sample %d: byte %zu ^ 0x%02x gave %d, not CAIRN_ECHECKSUM",
                                 (int)s, pos, masks[m], rv);
                    }
                }
            }
            free(copy);
            free(buf);
        }
    }
    record_fini(&d);
    record_fini(&r);
}

static void record_decode_of_a_truncated_buffer_is_torn_or_format(void **state)
{
    (void)state;
    struct record r, d;
    record_init(&r);
    record_init(&d);
    for (enum sample s = 0; s < S_COUNT; s++) {
        build_sample(&r, s);
        size_t len;
        uint8_t *buf = encode(&r, &len);
        for (size_t n = 0; n < len; n++) {
            /* a fresh allocation of exactly N bytes: ASan sees any overread */
            uint8_t *cut = malloc(n ? n : 1);
            assert_non_null(cut);
            memcpy(cut, buf, n);
            int rv = record_decode(&d, cut, n);
            assert_int_equal(rv, n < REC_HDR_LEN ? CAIRN_EFORMAT : CAIRN_ETORN);
            free(cut);
        }
        free(buf);
    }
    record_fini(&d);
    record_fini(&r);
}

static void record_decode_never_accepts_random_garbage(void **state)
{
    (void)state;
    uint64_t rng = tu_seed(__func__);
    struct record d;
    record_init(&d);
    for (int it = 0; it < 5000; it++) {
        size_t n = (size_t)(tu_rand(&rng) % 600);
        uint8_t *buf = malloc(n ? n : 1);
        assert_non_null(buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)tu_rand(&rng);
        if (n >= REC_HDR_LEN && it % 2) {
            /* a plausible header that passes record_peek (reserved bytes zero,
             * header CRC right), so the checksum and body paths are reached */
            put_le32(buf, REC_MAGIC);
            buf[4] = REC_VERSION;
            buf[5] = (uint8_t)(1 + (it / 2) % 2);
            uint16_t nctx = (uint16_t)(tu_rand(&rng) % 4);
            if (REC_HDR_LEN + 12u * nctx > n)
                nctx = 0;
            put_le16(buf + 20, nctx);
            put_le16(buf + 22, 0);
            put_le32(buf + 8, (uint32_t)n);
            put_le32(buf + 40, (uint32_t)(n - REC_HDR_LEN - 12u * nctx));
            put_le32(buf + 44, header_crc(buf));
            uint32_t total;
            assert_int_equal(record_peek(buf, n, &total), 0);
        }
        int rv = record_decode(&d, buf, n);
        if (rv != CAIRN_EFORMAT && rv != CAIRN_ECHECKSUM && rv != CAIRN_ETORN)
            fail_msg("garbage buffer %d (%zu bytes) decoded with %d", it, n, rv);
        free(buf);
    }
    record_fini(&d);
}

static void record_decode_of_resealed_mutations_is_canonical_or_rejected(void **state)
{
    (void)state;
    uint64_t rng = tu_seed(__func__);
    struct record r, d;
    record_init(&r);
    record_init(&d);
    unsigned accepted = 0, rejected = 0;
    for (int it = 0; it < 5000; it++) {
        build_sample(&r, (enum sample)(it % S_COUNT));
        size_t len;
        uint8_t *buf = encode(&r, &len);
        if (len == REC_HDR_LEN) {
            free(buf);
            continue;
        }
        /* mutate 1-4 bytes past the fixed header, then fix the checksum, so
         * the decoder's structural checks (not the CRC) must catch them */
        int k = 1 + (int)(tu_rand(&rng) % 4);
        for (int j = 0; j < k; j++) {
            size_t pos = REC_HDR_LEN + (size_t)(tu_rand(&rng) % (len - REC_HDR_LEN));
            switch (tu_rand(&rng) % 3) {
            case 0:
                buf[pos] ^= (uint8_t)(1u << (tu_rand(&rng) % 8));
                break;
            case 1:
                buf[pos] = (uint8_t)tu_rand(&rng);
                break;
            default:
                buf[pos] = (uint8_t)(tu_rand(&rng) % 2 ? 0 : 0xff);
                break;
            }
        }
        reseal(buf, len);
        int rv = record_decode(&d, buf, len);
        if (rv == 0) {
            /* (1): whatever is accepted is exactly what the encoder makes */
            size_t len2;
            uint8_t *again = encode(&d, &len2);
            assert_int_equal(len2, len);
            assert_memory_equal(again, buf, len);
            free(again);
            accepted++;
        } else {
            assert_int_equal(rv, CAIRN_EFORMAT);
            rejected++;
        }
        free(buf);
    }
    assert_true(accepted > 0); /* both outcomes were exercised */
    assert_true(rejected > 0);
    record_fini(&d);
    record_fini(&r);
}

/* ---- rules the decoder enforces ----------------------------------------- */

/* Decodes a one-effect volume record built from raw bytes. */
static int decode_raw_effect(uint8_t kind, uint8_t type, const uint8_t *body, uint32_t blen)
{
    static uint8_t payload[70000], rec[70000 + 100];
    size_t plen = raw_effect(payload, type, body, blen);
    size_t n = raw_record(rec, kind, 1, 1, NULL, 0, payload, plen);
    struct record d;
    record_init(&d);
    int rv = record_decode(&d, rec, n);
    record_fini(&d);
    return rv;
}

/* Encodes a record holding just E's kind of effect and decodes it. */
static int decode_one(uint8_t kind, void (*add)(struct record *))
{
    struct record r, d;
    record_init(&r);
    record_init(&d);
    set_dot(&r, kind, 1, 1);
    add(&r);
    size_t len;
    uint8_t *buf = encode(&r, &len);
    int rv = record_decode(&d, buf, len);
    free(buf);
    record_fini(&d);
    record_fini(&r);
    return rv;
}

static uint64_t data_off;
static uint32_t data_len;
static void add_data_at(struct record *r)
{
    add_data(r, 7, data_off, data_len, 0);
}

static void record_decode_rejects_data_crossing_a_block_boundary(void **state)
{
    (void)state;
    struct {
        uint64_t off;
        uint32_t len;
        int ok;
    } cases[] = {
        {0, 1, 1},
        {0, BLOCK_SIZE, 1},                 /* exactly one whole block */
        {BLOCK_SIZE - 10, 10, 1},           /* ends on the boundary */
        {5 * (uint64_t)BLOCK_SIZE, 100, 1}, /* starts on a boundary */
        {BLOCK_SIZE - 10, 11, 0},           /* one byte into the next block */
        {BLOCK_SIZE - 1, 2, 0},             /* straddles */
        {0, BLOCK_SIZE + 1, 0},             /* longer than a block */
        {7 * (uint64_t)BLOCK_SIZE + 1, BLOCK_SIZE, 0},
        {100, 0, 0},            /* empty */
        {UINT64_MAX - 4, 1, 0}, /* offset overflow */
        {(UINT64_MAX >> 1) + 1, 1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        data_off = cases[i].off;
        data_len = cases[i].len;
        int rv = decode_one(REC_KIND_VOLUME, add_data_at);
        if (cases[i].ok)
            assert_int_equal(rv, 0);
        else if (rv != CAIRN_EFORMAT)
            fail_msg("DATA off %llu len %u: got %d", (unsigned long long)data_off, data_len, rv);
    }
}

static const char *dirent_name;
static uint16_t dirent_name_len;
static uint64_t dirent_parent = 1;
static void add_dirent_raw(struct record *r)
{
    struct effect *e = record_add(r, EFF_DIRENT);
    e->parent = dirent_parent;
    e->child = 9;
    e->dtype = 8;
    e->str = dirent_name;
    e->str_len = dirent_name_len;
}

static void record_decode_rejects_invalid_dirent_names(void **state)
{
    (void)state;
    char longname[300];
    memset(longname, 'x', sizeof longname);
    struct {
        const char *name;
        uint16_t len;
    } bad[] = {{"", 0},    {".", 1},    {"..", 2}, {"a/b", 3},      {"/", 1},
               {"ab/", 3}, {"a\0b", 3}, {"\0", 1}, {longname, 256}, {longname, 300}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dirent_name = bad[i].name;
        dirent_name_len = bad[i].len;
        if (decode_one(REC_KIND_VOLUME, add_dirent_raw) != CAIRN_EFORMAT)
            fail_msg("dirent name #%zu (%u bytes) was accepted", i, bad[i].len);
    }
    struct {
        const char *name;
        uint16_t len;
    } good[] = {{"...", 3},     {".a", 2}, {"a..", 3}, {"\x01", 1}, {"\xc3\xa9t\xc3\xa9", 5},
                {longname, 255}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        dirent_name = good[i].name;
        dirent_name_len = good[i].len;
        assert_int_equal(decode_one(REC_KIND_VOLUME, add_dirent_raw), 0);
    }
    /* parent 0 names no directory */
    dirent_name = "ok";
    dirent_name_len = 2;
    dirent_parent = 0;
    assert_int_equal(decode_one(REC_KIND_VOLUME, add_dirent_raw), CAIRN_EFORMAT);
    dirent_parent = 1;
}

static void name_valid_accepts_only_single_path_components(void **state)
{
    (void)state;
    char longname[256];
    memset(longname, 'n', sizeof longname);
    assert_false(name_valid("", 0));
    assert_false(name_valid(".", 1));
    assert_false(name_valid("..", 2));
    assert_false(name_valid("/", 1));
    assert_false(name_valid("a/b", 3));
    assert_false(name_valid("a\0b", 3));
    assert_false(name_valid(longname, 256));
    assert_true(name_valid(longname, 255));
    assert_true(name_valid("a", 1));
    assert_true(name_valid("...", 3));
    assert_true(name_valid(".hidden", 7));
    assert_true(name_valid("..x", 3));
    assert_true(name_valid("a b\tc", 5));
    /* only LEN bytes count: "a/" with length 1 is "a" */
    assert_true(name_valid("a/", 1));
    assert_true(name_valid("..", 1) == 0); /* "." */
}

static void record_decode_rejects_a_zero_dot(void **state)
{
    (void)state;
    uint8_t body[16] = {1}; /* TRUNC ino 1 size 0 */
    uint8_t payload[64], rec[256];
    size_t plen = raw_effect(payload, EFF_TRUNC, body, sizeof body);
    struct record d;
    record_init(&d);
    size_t n = raw_record(rec, REC_KIND_VOLUME, 0, 1, NULL, 0, payload, plen);
    assert_int_equal(record_decode(&d, rec, n), CAIRN_EFORMAT);
    n = raw_record(rec, REC_KIND_VOLUME, 1, 0, NULL, 0, payload, plen);
    assert_int_equal(record_decode(&d, rec, n), CAIRN_EFORMAT);
    n = raw_record(rec, REC_KIND_VOLUME, 1, 1, NULL, 0, payload, plen);
    assert_int_equal(record_decode(&d, rec, n), 0); /* the control */
    record_fini(&d);
}

static void record_decode_rejects_unsorted_duplicate_or_zero_context(void **state)
{
    (void)state;
    uint8_t rec[256];
    struct record d;
    record_init(&d);
    struct vv_entry unsorted[] = {{2, 1}, {1, 1}};
    struct vv_entry dup[] = {{2, 1}, {2, 3}};
    struct vv_entry zero[] = {{1, 1}, {2, 0}};
    struct vv_entry ok[] = {{1, 1}, {2, 3}};
    size_t n = raw_record(rec, REC_KIND_VOLUME, 1, 1, unsorted, 2, NULL, 0);
    assert_int_equal(record_decode(&d, rec, n), CAIRN_EFORMAT);
    n = raw_record(rec, REC_KIND_VOLUME, 1, 1, dup, 2, NULL, 0);
    assert_int_equal(record_decode(&d, rec, n), CAIRN_EFORMAT);
    n = raw_record(rec, REC_KIND_VOLUME, 1, 1, zero, 2, NULL, 0);
    assert_int_equal(record_decode(&d, rec, n), CAIRN_EFORMAT);
    n = raw_record(rec, REC_KIND_VOLUME, 1, 1, ok, 2, NULL, 0);
    assert_int_equal(record_decode(&d, rec, n), 0);
    assert_int_equal(d.ctx.n, 2);
    assert_int_equal(vv_get(&d.ctx, 2), 3);
    record_fini(&d);
}

static void record_decode_rejects_effects_of_the_wrong_kind(void **state)
{
    (void)state;
    uint8_t assign[20] = {0};
    put_le32(assign + 16, 2);
    uint8_t trunc[16] = {5};
    /* catalog effects only in catalog records, and the reverse */
    assert_int_equal(decode_raw_effect(REC_KIND_CATALOG, EFF_ASSIGN, assign, 20), 0);
    assert_int_equal(decode_raw_effect(REC_KIND_VOLUME, EFF_ASSIGN, assign, 20), CAIRN_EFORMAT);
    assert_int_equal(decode_raw_effect(REC_KIND_VOLUME, EFF_TRUNC, trunc, 16), 0);
    assert_int_equal(decode_raw_effect(REC_KIND_CATALOG, EFF_TRUNC, trunc, 16), CAIRN_EFORMAT);
    /* unknown kinds */
    uint8_t rec[128];
    struct record d;
    record_init(&d);
    for (unsigned kind = 0; kind < 256; kind++) {
        if (kind == REC_KIND_VOLUME || kind == REC_KIND_CATALOG)
            continue;
        size_t n = raw_record(rec, (uint8_t)kind, 1, 1, NULL, 0, NULL, 0);
        assert_int_equal(record_decode(&d, rec, n), CAIRN_EFORMAT);
    }
    record_fini(&d);
}

static void record_decode_rejects_unknown_effect_types(void **state)
{
    (void)state;
    uint8_t body[16] = {5};
    for (unsigned t = 0; t < 256; t++) {
        if ((t >= EFF_INODE && t <= EFF_SNAPSHOT) || t == EFF_VOLUME || t == EFF_ASSIGN)
            continue;
        assert_int_equal(decode_raw_effect(REC_KIND_VOLUME, (uint8_t)t, body, 16), CAIRN_EFORMAT);
        assert_int_equal(decode_raw_effect(REC_KIND_CATALOG, (uint8_t)t, body, 16), CAIRN_EFORMAT);
    }
}

static void record_decode_rejects_wrong_effect_body_lengths(void **state)
{
    (void)state;
    uint8_t body[64] = {5};
    /* TRUNC is exactly 16 bytes */
    assert_int_equal(decode_raw_effect(REC_KIND_VOLUME, EFF_TRUNC, body, 16), 0);
    assert_int_equal(decode_raw_effect(REC_KIND_VOLUME, EFF_TRUNC, body, 15), CAIRN_EFORMAT);
    assert_int_equal(decode_raw_effect(REC_KIND_VOLUME, EFF_TRUNC, body, 17), CAIRN_EFORMAT);
    /* a body length running past the payload */
    uint8_t payload[64], rec[256];
    size_t plen = raw_effect(payload, EFF_TRUNC, body, 16);
    put_le32(payload + 1, 17);
    struct record d;
    record_init(&d);
    size_t n = raw_record(rec, REC_KIND_VOLUME, 1, 1, NULL, 0, payload, plen);
    assert_int_equal(record_decode(&d, rec, n), CAIRN_EFORMAT);
    put_le32(payload + 1, 0xffffffffu);
    n = raw_record(rec, REC_KIND_VOLUME, 1, 1, NULL, 0, payload, plen);
    assert_int_equal(record_decode(&d, rec, n), CAIRN_EFORMAT);
    /* a partial effect header at the end of the payload */
    plen = raw_effect(payload, EFF_TRUNC, body, 16);
    for (size_t extra = 1; extra < EFF_HDR_LEN; extra++) {
        memset(payload + plen, EFF_TRUNC, extra);
        n = raw_record(rec, REC_KIND_VOLUME, 1, 1, NULL, 0, payload, plen + extra);
        assert_int_equal(record_decode(&d, rec, n), CAIRN_EFORMAT);
    }
    /* a string length running past the effect body (SNAPSHOT: u16 len + name) */
    uint8_t snap[4] = {3, 0, 'a', 'b'};
    assert_int_equal(decode_raw_effect(REC_KIND_VOLUME, EFF_SNAPSHOT, snap, 4), CAIRN_EFORMAT);
    snap[0] = 2;
    assert_int_equal(decode_raw_effect(REC_KIND_VOLUME, EFF_SNAPSHOT, snap, 4), 0);
    snap[0] = 1; /* leaves a byte unconsumed */
    assert_int_equal(decode_raw_effect(REC_KIND_VOLUME, EFF_SNAPSHOT, snap, 4), CAIRN_EFORMAT);
    record_fini(&d);
}

static void record_decode_rejects_newer_versions_and_bad_lengths(void **state)
{
    (void)state;
    uint8_t rec[256];
    struct record d;
    record_init(&d);
    size_t n = raw_record(rec, REC_KIND_VOLUME, 1, 1, NULL, 0, NULL, 0);
    assert_int_equal(record_decode(&d, rec, n), 0);
    /* a newer version with its header checksum right is a newer cairn's
     * record (format.h), with it wrong garbage */
    rec[4] = REC_VERSION + 1;
    reseal(rec, n);
    uint32_t total;
    assert_int_equal(record_peek(rec, n, &total), CAIRN_ENEWER);
    assert_int_equal(record_decode(&d, rec, n), CAIRN_ENEWER);
    rec[44] ^= 1;
    assert_int_equal(record_peek(rec, n, &total), CAIRN_EFORMAT);
    assert_int_equal(record_decode(&d, rec, n), CAIRN_EFORMAT);
    rec[4] = 0;
    reseal(rec, n);
    assert_int_equal(record_decode(&d, rec, n), CAIRN_EFORMAT);
    /* total disagreeing with header + context + payload */
    n = raw_record(rec, REC_KIND_VOLUME, 1, 1, NULL, 0, NULL, 0);
    put_le32(rec + 8, (uint32_t)n + 12);
    reseal(rec, n);
    assert_int_equal(record_decode(&d, rec, n), CAIRN_EFORMAT);
    /* longer than REC_MAX_LEN, consistently declared */
    n = raw_record(rec, REC_KIND_VOLUME, 1, 1, NULL, 0, NULL, 0);
    put_le32(rec + 8, REC_MAX_LEN + 1);
    put_le32(rec + 40, REC_MAX_LEN + 1 - REC_HDR_LEN);
    reseal(rec, n); /* the header CRC is right: only the length is wrong */
    assert_int_equal(record_peek(rec, n, &total), CAIRN_EFORMAT);
    assert_int_equal(record_decode(&d, rec, n), CAIRN_EFORMAT);
    record_fini(&d);
}

static void record_decode_rejects_zero_inode_numbers_and_empty_names(void **state)
{
    (void)state;
    uint8_t body[128] = {0};
    /* INODE with ino 0 */
    assert_int_equal(decode_raw_effect(REC_KIND_VOLUME, EFF_INODE, body, 8 + ATTR_LEN + 2),
                     CAIRN_EFORMAT);
    body[0] = 1;
    assert_int_equal(decode_raw_effect(REC_KIND_VOLUME, EFF_INODE, body, 8 + ATTR_LEN + 2), 0);
    /* XATTR with an empty name: u64 ino, u16 0, u32 len 0 */
    uint8_t x[14] = {1};
    assert_int_equal(decode_raw_effect(REC_KIND_VOLUME, EFF_XATTR, x, 14), CAIRN_EFORMAT);
    /* SNAPSHOT with an empty name */
    uint8_t s[2] = {0, 0};
    assert_int_equal(decode_raw_effect(REC_KIND_VOLUME, EFF_SNAPSHOT, s, 2), CAIRN_EFORMAT);
    /* VOLUME with number 0 or an empty name */
    uint8_t v[4 + 16 + 1 + 1 + 2 + 1] = {0};
    put_le16(v + 22, 1);
    v[24] = 'v';
    assert_int_equal(decode_raw_effect(REC_KIND_CATALOG, EFF_VOLUME, v, sizeof v), CAIRN_EFORMAT);
    put_le32(v, 1);
    assert_int_equal(decode_raw_effect(REC_KIND_CATALOG, EFF_VOLUME, v, sizeof v), 0);
    put_le16(v + 22, 0);
    assert_int_equal(decode_raw_effect(REC_KIND_CATALOG, EFF_VOLUME, v, sizeof v - 1),
                     CAIRN_EFORMAT);
}

/* Invariant (1): the encoder writes zero in the reserved header bytes 22-23
 * (format.h), and a version-1 encoder wrote zero in 44-47 too, so a record
 * with anything else there is not one an encoder produced and must not
 * decode, even with both checksums right. (In a current record 44-47 hold the
 * header CRC: record_peek_rejects_a_wrong_header_crc.) */
static void record_decode_rejects_nonzero_reserved_header_bytes(void **state)
{
    (void)state;
    uint8_t rec[256];
    struct record d;
    record_init(&d);
    uint32_t total;
    static const size_t reserved[] = {22, 23};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        size_t n = raw_record(rec, REC_KIND_VOLUME, 1, 1, NULL, 0, NULL, 0);
        rec[reserved[i]] = 0x5a;
        reseal(rec, n); /* header CRC and full CRC both match the bytes */
        assert_int_equal(get_le32(rec + 44), header_crc(rec));
        if (record_peek(rec, n, &total) != CAIRN_EFORMAT ||
            record_decode(&d, rec, n) != CAIRN_EFORMAT)
            fail_msg("reserved header byte %zu = 0x5a was accepted", reserved[i]);
    }
    static const size_t reserved_v1[] = {22, 23, 44, 45, 46, 47};
    for (size_t i = 0; i < sizeof reserved_v1 / sizeof reserved_v1[0]; i++) {
        size_t n = raw_record(rec, REC_KIND_VOLUME, 1, 1, NULL, 0, NULL, 0);
        make_v1(rec, n);
        assert_int_equal(record_decode(&d, rec, n), 0); /* the control */
        rec[reserved_v1[i]] = 0x5a;
        reseal(rec, n); /* version 1: the full CRC only */
        if (record_peek(rec, n, &total) != CAIRN_EFORMAT ||
            record_decode(&d, rec, n) != CAIRN_EFORMAT)
            fail_msg("version-1 reserved header byte %zu = 0x5a was accepted", reserved_v1[i]);
    }
    record_fini(&d);
}

/* format.h: a current header carries its own CRC, so a header whose CRC is
 * wrong is refused by record_peek, before anything trusts its length, even
 * when the full CRC was recomputed over the damaged bytes. */
static void record_peek_rejects_a_wrong_header_crc(void **state)
{
    (void)state;
    struct record r, d;
    record_init(&r);
    record_init(&d);
    uint32_t total;
    for (enum sample s = 0; s < S_COUNT; s++) {
        build_sample(&r, s);
        size_t len;
        uint8_t *buf = encode(&r, &len);
        assert_int_equal(record_peek(buf, len, &total), 0);
        uint8_t *copy = malloc(len);
        assert_non_null(copy);
        /* the header CRC itself changed, or zeroed as a version-1 writer left
         * it; the full CRC recomputed */
        for (size_t pos = 44; pos < 48; pos++) {
            static const uint8_t masks[] = {0x01, 0x80, 0xff};
            for (size_t m = 0; m < sizeof masks; m++) {
                memcpy(copy, buf, len);
                copy[pos] ^= masks[m];
                reseal_full(copy, len);
                assert_int_equal(record_peek(copy, len, &total), CAIRN_EFORMAT);
                assert_int_equal(record_verify(copy, len), CAIRN_EFORMAT);
                assert_int_equal(record_decode(&d, copy, len), CAIRN_EFORMAT);
            }
        }
        memcpy(copy, buf, len);
        put_le32(copy + 44, 0);
        reseal_full(copy, len);
        assert_int_equal(record_decode(&d, copy, len), CAIRN_EFORMAT);
        /* a header field changed to another valid value (kind 1 <-> 2,
         * origin, seq, HLC) with the full CRC recomputed but the header CRC
         * left stale */
        static const size_t fields[] = {5, 16, 24, 32, 39};
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
            memcpy(copy, buf, len);
            copy[fields[i]] ^= fields[i] == 5 ? 0x03 : 0x01;
            reseal_full(copy, len);
            assert_int_equal(record_peek(copy, len, &total), CAIRN_EFORMAT);
            assert_int_equal(record_decode(&d, copy, len), CAIRN_EFORMAT);
        }
        free(copy);
        free(buf);
    }
    record_fini(&d);
    record_fini(&r);
}

/* format.h: version 1 is read too. A record as a version-1 writer wrote it
 * (version byte 1, bytes 44..47 zero, no header CRC) decodes to the same
 * record, and re-encoding it writes the current version. */
static void record_decode_reads_version_1_records(void **state)
{
    (void)state;
    struct record r, d;
    record_init(&r);
    record_init(&d);
    for (enum sample s = 0; s < S_COUNT; s++) {
        build_sample(&r, s);
        size_t len;
        uint8_t *cur = encode(&r, &len);
        uint8_t *old = malloc(len);
        assert_non_null(old);
        memcpy(old, cur, len);
        make_v1(old, len);
        uint32_t total = 0;
        assert_int_equal(record_peek(old, len, &total), 0);
        assert_int_equal(total, len);
        assert_int_equal(record_verify(old, len), 0);
        assert_int_equal(record_decode(&d, old, len), 0);
        assert_record_equal(&r, &d);
        size_t len2;
        uint8_t *again = encode(&d, &len2);
        assert_int_equal(len2, len);
        assert_int_equal(again[4], REC_VERSION);
        assert_memory_equal(again, cur, len);
        free(again);
        free(old);
        free(cur);
    }
    /* a hand-built record with a context, rewritten as version 1 */
    uint8_t body[16] = {1}; /* TRUNC ino 1 size 0 */
    uint8_t payload[64], rec[256];
    size_t plen = raw_effect(payload, EFF_TRUNC, body, sizeof body);
    struct vv_entry ctx[] = {{1, 1}, {2, 3}};
    size_t n = raw_record(rec, REC_KIND_VOLUME, 4, 9, ctx, 2, payload, plen);
    make_v1(rec, n);
    assert_int_equal(record_decode(&d, rec, n), 0);
    assert_int_equal(d.dot.origin, 4);
    assert_int_equal(d.dot.seq, 9);
    assert_int_equal(vv_get(&d.ctx, 2), 3);
    assert_int_equal(d.n_eff, 1);
    assert_int_equal(d.eff[0].type, EFF_TRUNC);
    record_fini(&d);
    record_fini(&r);
}

/* A version-1 header has no CRC: its bytes 44..47 are zero, and anything else
 * there (a stray value, or a header CRC under a version-1 byte) is rejected. */
static void record_decode_rejects_version_1_records_with_nonzero_bytes_44_to_47(void **state)
{
    (void)state;
    struct record r, d;
    record_init(&r);
    record_init(&d);
    uint32_t total;
    for (enum sample s = 0; s < S_COUNT; s++) {
        build_sample(&r, s);
        size_t len;
        uint8_t *buf = encode(&r, &len);
        make_v1(buf, len);
        assert_int_equal(record_decode(&d, buf, len), 0); /* the control */
        for (size_t pos = 44; pos < 48; pos++) {
            buf[pos] = 0x01;
            reseal_full(buf, len);
            assert_int_equal(record_peek(buf, len, &total), CAIRN_EFORMAT);
            assert_int_equal(record_verify(buf, len), CAIRN_EFORMAT);
            assert_int_equal(record_decode(&d, buf, len), CAIRN_EFORMAT);
            buf[pos] = 0;
        }
        put_le32(buf + 44, header_crc(buf));
        reseal_full(buf, len);
        assert_int_equal(record_decode(&d, buf, len), CAIRN_EFORMAT);
        free(buf);
    }
    record_fini(&d);
    record_fini(&r);
}

/* metakey.c (2): names inside index keys are followed by a 00 byte and never
 * contain one; an xattr name holding 00 would make its key collide with the
 * keys of the shorter name (a seek for "user.a" lands on "user.a\0x"). */
static void record_decode_rejects_xattr_name_with_nul(void **state)
{
    (void)state;
    uint8_t body[8 + 2 + 8 + 4] = {1};
    put_le16(body + 8, 8);
    memcpy(body + 10, "user.a\0x", 8);
    put_le32(body + 18, 0);
    assert_int_equal(decode_raw_effect(REC_KIND_VOLUME, EFF_XATTR, body, sizeof body),
                     CAIRN_EFORMAT);
}

/* apply.c builds index keys in uint8_t key[KEY_MAX]: mk_xattr writes
 * 25 + name length bytes and mk_snapshot 4 + name length, so a decoded name
 * that does not fit must be rejected here, at the trust boundary. Local
 * writers never make such names (fsops.c check_xattr_name and history.c
 * allow 1..255 bytes), so 255 is the limit a peer's record must meet too. */
static void record_decode_rejects_xattr_name_longer_than_255(void **state)
{
    (void)state;
    static uint8_t body[8 + 2 + 4096 + 4];
    memset(body, 'x', sizeof body);
    put_le64(body, 1);
    uint16_t lens[] = {256, KEY_MAX, 4096};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint16_t nl = lens[i];
        put_le16(body + 8, nl);
        put_le32(body + 10 + nl, 0);
        uint32_t blen = 8 + 2 + nl + 4;
        if (decode_raw_effect(REC_KIND_VOLUME, EFF_XATTR, body, blen) != CAIRN_EFORMAT)
            fail_msg("xattr name of %u bytes was accepted (apply.c key[KEY_MAX] holds %d)", nl,
                     KEY_MAX);
    }
    put_le16(body + 8, 255);
    put_le32(body + 10 + 255, 0);
    assert_int_equal(decode_raw_effect(REC_KIND_VOLUME, EFF_XATTR, body, 8 + 2 + 255 + 4), 0);
}

static void record_decode_rejects_snapshot_name_that_cannot_be_a_key(void **state)
{
    (void)state;
    static uint8_t body[2 + 4096];
    memset(body, 's', sizeof body);
    uint16_t lens[] = {256, KEY_MAX - 3, 4096};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        put_le16(body, lens[i]);
        if (decode_raw_effect(REC_KIND_VOLUME, EFF_SNAPSHOT, body, 2u + lens[i]) != CAIRN_EFORMAT)
            fail_msg("snapshot name of %u bytes was accepted (apply.c key[KEY_MAX] holds %d)",
                     lens[i], KEY_MAX);
    }
    put_le16(body, 255);
    assert_int_equal(decode_raw_effect(REC_KIND_VOLUME, EFF_SNAPSHOT, body, 2 + 255), 0);
}

/* format.h: a snapshot name is a valid name (name_valid), like a dirent's:
 * no '/', NUL, "." or "..", which an xattr or volume name could hold. */
static void record_decode_rejects_snapshot_names_that_are_not_valid_names(void **state)
{
    (void)state;
    struct {
        const char *name;
        uint16_t len;
    } bad[] = {{".", 1}, {"..", 2}, {"a/b", 3}, {"/", 1}, {"a\0b", 3}, {"\0", 1}};
    uint8_t body[2 + 8];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        put_le16(body, bad[i].len);
        memcpy(body + 2, bad[i].name, bad[i].len);
        if (decode_raw_effect(REC_KIND_VOLUME, EFF_SNAPSHOT, body, 2u + bad[i].len) !=
            CAIRN_EFORMAT)
            fail_msg("snapshot name #%zu (%u bytes) was accepted", i, bad[i].len);
    }
    put_le16(body, 3);
    memcpy(body + 2, "...", 3);
    assert_int_equal(decode_raw_effect(REC_KIND_VOLUME, EFF_SNAPSHOT, body, 2 + 3), 0);
}

/* metakey.c iv_volume_decode rejects names of 256+ bytes or holding 00 (they
 * must fit struct volinfo.name[256]); the catalog record must not carry one. */
static void record_decode_rejects_volume_name_the_index_cannot_hold(void **state)
{
    (void)state;
    static uint8_t body[4 + 16 + 1 + 1 + 2 + 300];
    memset(body, 'v', sizeof body);
    put_le32(body, 1);
    put_le16(body + 22, 256);
    assert_int_equal(decode_raw_effect(REC_KIND_CATALOG, EFF_VOLUME, body, 24 + 256),
                     CAIRN_EFORMAT);
    put_le16(body + 22, 3);
    memcpy(body + 24, "a\0b", 3);
    assert_int_equal(decode_raw_effect(REC_KIND_CATALOG, EFF_VOLUME, body, 24 + 3), CAIRN_EFORMAT);
}

static void record_reset_keeps_allocations_and_clears_contents(void **state)
{
    (void)state;
    struct record r;
    record_init(&r);
    build_sample(&r, S_MIXED);
    struct effect *eff = r.eff;
    assert_true(r.n_eff > 0 && r.ctx.n > 0);
    record_reset(&r);
    assert_int_equal(r.n_eff, 0);
    assert_int_equal(r.ctx.n, 0);
    assert_int_equal(r.dot.origin, 0);
    assert_int_equal(r.dot.seq, 0);
    assert_int_equal(r.hlc, 0);
    assert_ptr_equal(r.eff, eff);
    struct effect *e = record_add(&r, EFF_TRUNC);
    assert_int_equal(e->type, EFF_TRUNC);
    assert_int_equal(e->ino, 0); /* record_add zeroes the effect */
    assert_int_equal(r.n_eff, 1);
    record_fini(&r);
}

static void attr_encode_decode_roundtrip(void **state)
{
    (void)state;
    struct attr a, b;
    sample_attr(&a, 040755);
    uint8_t buf[ATTR_LEN + 1];
    buf[ATTR_LEN] = 0xee;
    attr_encode(&a, buf);
    assert_int_equal(buf[ATTR_LEN], 0xee); /* exactly ATTR_LEN bytes */
    assert_int_equal(get_le32(buf), 040755);
    assert_int_equal(get_le64(buf + 16), a.size);
    memset(&b, 0x77, sizeof b);
    attr_decode(&b, buf);
    assert_attr_equal(&a, &b);
}

int main(void)
{
    fill_pattern();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(record_roundtrip_inode_with_symlink_target),
        cmocka_unit_test(record_roundtrip_inode_without_target),
        cmocka_unit_test(record_roundtrip_dirent_and_tombstone),
        cmocka_unit_test(record_roundtrip_data),
        cmocka_unit_test(record_data_from_pieces_encodes_as_from_one_buffer),
        cmocka_unit_test(record_roundtrip_trunc),
        cmocka_unit_test(record_roundtrip_xattr_set_empty_and_removed),
        cmocka_unit_test(record_roundtrip_snapshot_with_context),
        cmocka_unit_test(record_roundtrip_catalog_volume_and_assign),
        cmocka_unit_test(record_roundtrip_mixed_effects),
        cmocka_unit_test(record_roundtrip_no_effects),
        cmocka_unit_test(record_encode_writes_the_documented_header),
        cmocka_unit_test(record_data_offset_points_at_the_data_bytes),
        cmocka_unit_test(record_verify_accepts_intact_and_rejects_damaged_records),
        cmocka_unit_test(record_salvage_data_keeps_what_can_be_located),
        cmocka_unit_test(record_decode_fails_when_any_single_byte_is_flipped),
        cmocka_unit_test(record_decode_of_a_truncated_buffer_is_torn_or_format),
        cmocka_unit_test(record_decode_never_accepts_random_garbage),
        cmocka_unit_test(record_decode_of_resealed_mutations_is_canonical_or_rejected),
        cmocka_unit_test(record_decode_rejects_data_crossing_a_block_boundary),
        cmocka_unit_test(record_decode_rejects_invalid_dirent_names),
        cmocka_unit_test(name_valid_accepts_only_single_path_components),
        cmocka_unit_test(record_decode_rejects_a_zero_dot),
        cmocka_unit_test(record_decode_rejects_unsorted_duplicate_or_zero_context),
        cmocka_unit_test(record_decode_rejects_effects_of_the_wrong_kind),
        cmocka_unit_test(record_decode_rejects_unknown_effect_types),
        cmocka_unit_test(record_decode_rejects_wrong_effect_body_lengths),
        cmocka_unit_test(record_decode_rejects_newer_versions_and_bad_lengths),
        cmocka_unit_test(record_decode_rejects_zero_inode_numbers_and_empty_names),
        cmocka_unit_test(record_decode_rejects_nonzero_reserved_header_bytes),
        cmocka_unit_test(record_peek_rejects_a_wrong_header_crc),
        cmocka_unit_test(record_decode_reads_version_1_records),
        cmocka_unit_test(record_decode_rejects_version_1_records_with_nonzero_bytes_44_to_47),
        cmocka_unit_test(record_decode_rejects_xattr_name_with_nul),
        cmocka_unit_test(record_decode_rejects_xattr_name_longer_than_255),
        cmocka_unit_test(record_decode_rejects_snapshot_name_that_cannot_be_a_key),
        cmocka_unit_test(record_decode_rejects_snapshot_names_that_are_not_valid_names),
        cmocka_unit_test(record_decode_rejects_volume_name_the_index_cannot_hold),
        cmocka_unit_test(record_reset_keeps_allocations_and_clears_contents),
        cmocka_unit_test(attr_encode_decode_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
