/*
 * fuzz_record.c — fuzz target for daemon/record.c: record_peek,
 * record_verify and record_decode on untrusted bytes (chunk files are read
 * back from disk, and later arrive from peers).
 *
 * Random bytes almost never pass a checksum, so the first input byte picks a
 * mode (mode % 3):
 *   0: the input as it is, as one record and as a chunk tail (a scan: peek,
 *      decode, step by the length, as chunk recovery does);
 *   1: the rest of the input becomes a record whose header fields are made
 *      consistent (magic, version 1..3, kind, lengths, header checksum and
 *      checksum recomputed as format.h defines them), so the context and
 *      effect decoders see arbitrary bytes; some mode bits also make the dot
 *      and context plausible, or the effect headers (known types, body
 *      lengths that fit);
 *   2: the rest of the input drives a generator that builds a record with
 *      record_add (valid effect types, names, data inside one block, mostly)
 *      and record_encode; the encoding is decoded as it is, then with a few
 *      bytes changed and both checksums recomputed.
 * In every mode a torn copy (a prefix) of a record that decodes must not.
 * Properties checked (abort() when violated):
 *   (1) decode succeeds only on bytes that peek and verify accept, and a
 *       failed decode leaves the record empty;
 *   (2) a decoded record re-encodes (record_encode) to a record that decodes
 *       to the same fields; for a version-3 input the bytes are identical;
 *   (3) record_data_offset points at each EFF_DATA effect's bytes;
 *   (4) a record with bytes changed and its checksums left alone is refused.
 */
#include "fuzz.h"

#include "bytes.h"
#include "cairn_err.h"
#include "format.h"
#include "record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <zlib.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_record: %s:%d: property failed: %s\n", __FILE__, __LINE__,       \
                    #cond);                                                                        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* format.h's checksums, written out again here (not calling record.c's) so
 * the fixed-up records do not depend on the code under test. */
static uint32_t sum(unsigned version, const uint8_t *buf, size_t len)
{
    if (version >= 3)
        return (uint32_t)XXH3_64bits_withSeed(buf + 16, len - 16, XXH3_64bits(buf, 12));
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, buf, 12);
    return (uint32_t)crc32_z(c, buf + 16, len - 16);
}

static int same_effect(const struct effect *a, const struct effect *b)
{
    if (a->type != b->type || a->ino != b->ino || a->str_len != b->str_len ||
        a->parent != b->parent || a->child != b->child || a->dtype != b->dtype ||
        a->off != b->off || a->size != b->size || a->len != b->len || a->vol_no != b->vol_no ||
        memcmp(a->id, b->id, 16) != 0 || a->durability != b->durability ||
        a->replicas != b->replicas || memcmp(&a->attr, &b->attr, sizeof a->attr) != 0)
        return 0;
    if (a->str_len && memcmp(a->str, b->str, a->str_len) != 0)
        return 0;
    if ((a->type == EFF_DATA || (a->type == EFF_XATTR && a->len != XATTR_REMOVED)) && a->len &&
        memcmp(a->data, b->data, a->len) != 0)
        return 0;
    return 1;
}

static int same_record(const struct record *a, const struct record *b)
{
    if (a->kind != b->kind || a->flags != b->flags || a->dot.origin != b->dot.origin ||
        a->dot.seq != b->dot.seq || a->hlc != b->hlc || a->ctx.n != b->ctx.n ||
        a->n_eff != b->n_eff)
        return 0;
    for (uint32_t i = 0; i < a->ctx.n; i++)
        if (a->ctx.e[i].origin != b->ctx.e[i].origin || a->ctx.e[i].seq != b->ctx.e[i].seq)
            return 0;
    for (uint32_t i = 0; i < a->n_eff; i++)
        if (!same_effect(&a->eff[i], &b->eff[i]))
            return 0;
    return 1;
}

/* Decodes LEN bytes at BUF and checks (1)-(3). */
static void check_record(const uint8_t *buf, size_t len)
{
    struct record r;
    record_init(&r);
    int rv = record_decode(&r, buf, len);
    uint32_t total = 0;
    int peek = record_peek(buf, len, &total);
    if (rv != 0) {
        CHECK(rv < 0);
        CHECK(r.n_eff == 0 && r.ctx.n == 0); /* (1) reset on failure */
        record_fini(&r);
        return;
    }
    CHECK(peek == 0 && total <= len); /* (1) */
    CHECK(record_verify(buf, total) == 0);

    for (uint32_t i = 0; i < r.n_eff; i++) /* (3) */
        if (r.eff[i].type == EFF_DATA) {
            size_t off = record_data_offset(&r, i);
            CHECK(off + r.eff[i].len <= total);
            CHECK(buf + off == r.eff[i].data);
        }

    size_t n = record_encoded_len(&r); /* (2) */
    uint8_t *out = malloc(n);
    CHECK(out != NULL);
    record_encode(&r, out);
    if (buf[4] == REC_VERSION) {
        CHECK(n == total);
        CHECK(memcmp(out, buf, n) == 0);
    }
    struct record r2;
    record_init(&r2);
    CHECK(record_decode(&r2, out, n) == 0);
    CHECK(same_record(&r, &r2));
    free(out);

    /* a torn copy: every prefix that still holds the header fails */
    for (size_t cut = REC_HDR_LEN; cut < total; cut += 1 + total / 8) {
        CHECK(record_decode(&r2, buf, cut) == CAIRN_ETORN);
        CHECK(r2.n_eff == 0 && r2.ctx.n == 0);
    }
    record_fini(&r2);
    record_fini(&r);
}

/* Back-to-back records, as in a chunk after its header. */
static void scan(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off + REC_HDR_LEN <= size) {
        uint32_t total;
        if (record_peek(data + off, size - off, &total) != 0 || total > size - off) {
            off++; /* resynchronise byte by byte, as a damaged chunk would */
            continue;
        }
        CHECK(total >= REC_HDR_LEN);
        check_record(data + off, total);
        off += total;
    }
}

static void fixed_up(uint8_t mode, const uint8_t *data, size_t size)
{
    if (size < REC_HDR_LEN || size > REC_MAX_LEN)
        return;
    uint8_t *buf = malloc(size);
    CHECK(buf != NULL);
    memcpy(buf, data, size);
    unsigned version = 1 + ((mode >> 1) & 3) % 3;
    put_le32(buf, REC_MAGIC);
    buf[4] = (uint8_t)version;
    buf[5] = (mode & 8) ? REC_KIND_CATALOG : REC_KIND_VOLUME;
    put_le32(buf + 8, (uint32_t)size);
    size_t room = (size - REC_HDR_LEN) / REC_CTX_ENTRY_LEN;
    size_t nctx = get_le16(buf + 20) % (room + 1);
    if (nctx > REC_MAX_CTX)
        nctx = REC_MAX_CTX;
    put_le16(buf + 20, (uint16_t)nctx);
    put_le16(buf + 22, 0);
    put_le32(buf + 40, (uint32_t)(size - REC_HDR_LEN - nctx * REC_CTX_ENTRY_LEN));
    if (mode & 16) { /* a plausible dot and context: sorted origins, seqs > 0 */
        if (get_le32(buf + 16) == 0)
            put_le32(buf + 16, 1);
        if (get_le64(buf + 24) == 0)
            put_le64(buf + 24, 1);
        uint32_t origin = 0;
        for (size_t i = 0; i < nctx; i++) {
            uint8_t *e = buf + REC_HDR_LEN + i * REC_CTX_ENTRY_LEN;
            origin += 1 + e[0] % 16;
            put_le32(e, origin);
            if (get_le64(e + 4) == 0)
                put_le64(e + 4, 1);
        }
    }
    if (mode & 32) { /* plausible effect headers: known types, lengths that fit */
        static const uint8_t vt[] = {EFF_INODE, EFF_DIRENT, EFF_DATA,
                                     EFF_TRUNC, EFF_XATTR,  EFF_SNAPSHOT};
        static const uint8_t ct[] = {EFF_VOLUME, EFF_ASSIGN};
        uint8_t *p = buf + REC_HDR_LEN + nctx * REC_CTX_ENTRY_LEN, *end = buf + size;
        while ((size_t)(end - p) >= EFF_HDR_LEN) {
            size_t left = (size_t)(end - p) - EFF_HDR_LEN;
            p[0] = buf[5] == REC_KIND_CATALOG ? ct[p[0] % 2] : vt[p[0] % 6];
            size_t blen = get_le32(p + 1) % ((left < 128 ? left : 128) + 1);
            if (left - blen < EFF_HDR_LEN) /* the last effect takes the rest */
                blen = left;
            put_le32(p + 1, (uint32_t)blen);
            p += EFF_HDR_LEN + blen;
        }
    }
    put_le32(buf + 44, version >= 2 ? sum(version, buf, 44) : 0);
    put_le32(buf + 12, sum(version, buf, size));
    uint32_t total;
    CHECK(record_peek(buf, size, &total) == 0 && total == size);
    CHECK(record_verify(buf, size) == 0);
    check_record(buf, size);
    free(buf);
}

/* ---- mode 2: records built from the input ---- */

struct src {
    const uint8_t *p;
    size_t n;
};

static uint64_t take(struct src *s, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++, s->p += s->n ? 1 : 0, s->n -= s->n ? 1 : 0)
        v |= (uint64_t)(s->n ? s->p[0] : 0) << (8 * i);
    return v;
}

/* A string pointing into the input: short names mostly, sometimes long. */
static const char *take_str(struct src *s, uint16_t *len)
{
    size_t want = take(s, 1);
    want = want < 240 ? want % 24 : take(s, 2) % 300;
    if (want > s->n)
        want = s->n;
    const char *str = (const char *)s->p;
    s->p += want;
    s->n -= want;
    *len = (uint16_t)want;
    return str;
}

static uint64_t take_ino(struct src *s)
{
    uint64_t v = take(s, 1);
    return v < 250 ? v % 16 + 1 : take(s, 8); /* small and nonzero, or anything */
}

static void build(struct record *r, struct src *s)
{
    static const uint8_t vol_types[] = {EFF_INODE, EFF_DIRENT, EFF_DATA,
                                        EFF_TRUNC, EFF_XATTR,  EFF_SNAPSHOT};
    static const uint8_t cat_types[] = {EFF_VOLUME, EFF_ASSIGN};
    r->kind = take(s, 1) & 1 ? REC_KIND_CATALOG : REC_KIND_VOLUME;
    r->flags = take(s, 1) < 250 ? 0 : (uint16_t)take(s, 2);
    r->dot.origin = (uint32_t)(take(s, 1) % 8 + (take(s, 1) < 250 ? 1 : 0));
    r->dot.seq = take(s, 2) + (take(s, 1) < 250 ? 1 : 0);
    r->hlc = take(s, 8);
    for (unsigned i = 0, n = take(s, 1) % 5; i < n; i++)
        vv_raise(&r->ctx, (uint32_t)take(s, 1) + 1, take(s, 2) + 1);
    for (unsigned i = 0, n = take(s, 1) % 6; i < n && s->n; i++) {
        uint8_t type =
            r->kind == REC_KIND_CATALOG ? cat_types[take(s, 1) % 2] : vol_types[take(s, 1) % 6];
        struct effect *e = record_add(r, type);
        switch (type) {
        case EFF_INODE:
            e->ino = take_ino(s);
            e->attr.mode = (uint32_t)take(s, 4);
            e->attr.size = take(s, 8);
            e->attr.mtime = (int64_t)take(s, 8);
            e->attr.flags = take(s, 1) < 250 ? 0 : (uint32_t)take(s, 4);
            e->str = take_str(s, &e->str_len);
            break;
        case EFF_DIRENT:
            e->parent = take_ino(s);
            e->child = take(s, 1) % 4 ? take_ino(s) : 0;
            e->dtype = (uint8_t)take(s, 1);
            e->str = take_str(s, &e->str_len);
            break;
        case EFF_DATA: {
            e->ino = take_ino(s);
            size_t len = take(s, 2) % 4096;
            e->off = take(s, 1) < 240
                         ? (take(s, 2) << BLOCK_SHIFT) + take(s, 2) % (BLOCK_SIZE - len)
                         : take(s, 8);
            if (len > s->n) /* after the last take: the data is what is left */
                len = s->n;
            e->len = (uint32_t)len;
            e->data = s->p;
            s->p += len;
            s->n -= len;
            break;
        }
        case EFF_TRUNC:
            e->ino = take_ino(s);
            e->size = take(s, 8);
            break;
        case EFF_XATTR: {
            e->ino = take_ino(s);
            e->str = take_str(s, &e->str_len);
            size_t len = take(s, 1) < 240 ? take(s, 1) : XATTR_REMOVED;
            if (len != XATTR_REMOVED && len > s->n)
                len = s->n;
            e->len = (uint32_t)len;
            if (len != XATTR_REMOVED) {
                e->data = s->p;
                s->p += len;
                s->n -= len;
            }
            break;
        }
        case EFF_SNAPSHOT:
            e->str = take_str(s, &e->str_len);
            break;
        case EFF_VOLUME:
            e->vol_no = (uint32_t)take(s, 1);
            memcpy(e->id, "0123456789abcdef", 16);
            e->durability = (uint8_t)take(s, 1);
            e->replicas = (uint8_t)take(s, 1);
            e->str = take_str(s, &e->str_len);
            break;
        case EFF_ASSIGN:
            for (int k = 0; k < 16; k++)
                e->id[k] = (uint8_t)take(s, 1);
            e->vol_no = (uint32_t)take(s, 4);
            break;
        }
    }
}

static void generated(const uint8_t *data, size_t size)
{
    struct src s = {data, size};
    struct record r;
    record_init(&r);
    build(&r, &s);
    size_t n = record_encoded_len(&r);
    if (n > REC_MAX_LEN) {
        record_fini(&r);
        return;
    }
    uint8_t *buf = malloc(n);
    CHECK(buf != NULL);
    record_encode(&r, buf);
    uint32_t total;
    CHECK(record_peek(buf, n, &total) == 0 && total == n);
    CHECK(record_verify(buf, n) == 0);

    struct record d;
    record_init(&d);
    if (record_decode(&d, buf, n) == 0)
        CHECK(same_record(&r, &d)); /* what was encoded comes back */
    check_record(buf, n);

    /* a few bytes changed: refused as they are (4) ... */
    uint8_t *orig = malloc(n);
    CHECK(orig != NULL);
    memcpy(orig, buf, n);
    for (unsigned k = 0, flips = 1 + take(&s, 1) % 4; k < flips; k++)
        buf[take(&s, 4) % n] ^= (uint8_t)(take(&s, 1) | 1);
    if (memcmp(orig, buf, n) != 0) {
        CHECK(record_decode(&d, buf, n) != 0);
        CHECK(d.n_eff == 0);
    }
    free(orig);
    /* ... and parsed once the checksums are recomputed */
    put_le32(buf + 44, sum(buf[4], buf, 44));
    put_le32(buf + 12, sum(buf[4], buf, n));
    check_record(buf, n);
    free(buf);
    record_fini(&d);
    record_fini(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    switch (data[0] % 3) {
    case 0:
        check_record(data + 1, size - 1);
        scan(data + 1, size - 1);
        break;
    case 1:
        fixed_up(data[0] / 3, data + 1, size - 1);
        break;
    case 2:
        generated(data + 1, size - 1);
        break;
    }
    return 0;
}
