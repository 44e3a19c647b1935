/*
 * record.c — owns the byte form of records and effects (format.h).
 *
 * Invariants: (1) record_decode accepts exactly what record_encode produces
 * for the versions this build knows, and nothing else: every length is
 * bounds-checked against the buffer, every effect body must be consumed
 * exactly, unknown effect types are rejected; (2) the checksum covers every
 * byte of the record except the checksum field itself, and from version 2 a
 * header CRC covers the header alone, so a verified header's length can be
 * trusted when the rest is damaged (version 1 records are still read); (3) decoding never
 * copies data: effects point into the caller's buffer.
 * Pure: no I/O, no shared state.
 */
#include "record.h"

#include "alloc.h"
#include "bytes.h"
#include "cairn_err.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <zlib.h>

void record_init(struct record *r)
{
    memset(r, 0, sizeof *r);
    vv_init(&r->ctx);
}

void record_fini(struct record *r)
{
    vv_fini(&r->ctx);
    free(r->eff);
    memset(r, 0, sizeof *r);
}

void record_reset(struct record *r)
{
    vv_clear(&r->ctx);
    r->n_eff = 0;
    r->kind = 0;
    r->flags = 0;
    r->dot.origin = 0;
    r->dot.seq = 0;
    r->hlc = 0;
}

struct effect *record_add(struct record *r, uint8_t type)
{
    if (r->n_eff == r->cap_eff) {
        r->cap_eff = r->cap_eff ? r->cap_eff * 2 : 4;
        r->eff = xrealloc(r->eff, r->cap_eff * sizeof *r->eff);
    }
    struct effect *e = &r->eff[r->n_eff++];
    memset(e, 0, sizeof *e);
    e->type = type;
    return e;
}

void attr_encode(const struct attr *a, uint8_t *out)
{
    struct wr w;
    wr_init(&w, out, ATTR_LEN);
    wr_u32(&w, a->mode);
    wr_u32(&w, a->uid);
    wr_u32(&w, a->gid);
    wr_u32(&w, a->nlink);
    wr_u64(&w, a->size);
    wr_u64(&w, a->rdev);
    wr_u64(&w, a->parent);
    wr_u64(&w, (uint64_t)a->atime);
    wr_u64(&w, (uint64_t)a->mtime);
    wr_u64(&w, (uint64_t)a->ctime);
    wr_u64(&w, (uint64_t)a->btime);
    wr_u32(&w, a->flags);
}

void attr_decode(struct attr *a, const uint8_t *in)
{
    struct rd r;
    rd_init(&r, in, ATTR_LEN);
    a->mode = rd_u32(&r);
    a->uid = rd_u32(&r);
    a->gid = rd_u32(&r);
    a->nlink = rd_u32(&r);
    a->size = rd_u64(&r);
    a->rdev = rd_u64(&r);
    a->parent = rd_u64(&r);
    a->atime = (int64_t)rd_u64(&r);
    a->mtime = (int64_t)rd_u64(&r);
    a->ctime = (int64_t)rd_u64(&r);
    a->btime = (int64_t)rd_u64(&r);
    a->flags = rd_u32(&r);
}

int name_valid(const char *name, size_t len)
{
    if (len == 0 || len > 255)
        return 0;
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return 0;
    return memchr(name, '/', len) == NULL && memchr(name, '\0', len) == NULL;
}

/* 1..255 bytes without NUL (xattr and volume names may hold '/' or dots). */
static int plain_name(const char *name, size_t len)
{
    return len > 0 && len <= 255 && memchr(name, '\0', len) == NULL;
}

static size_t effect_body_len(const struct effect *e)
{
    switch (e->type) {
    case EFF_INODE:
        return 8 + ATTR_LEN + 2 + e->str_len;
    case EFF_DIRENT:
        return 8 + 8 + 1 + 2 + e->str_len;
    case EFF_DATA:
        return 8 + 8 + 4 + e->len;
    case EFF_TRUNC:
        return 16;
    case EFF_XATTR:
        return 8 + 2 + e->str_len + 4 + (e->len == XATTR_REMOVED ? 0 : e->len);
    case EFF_SNAPSHOT:
        return 2 + e->str_len;
    case EFF_VOLUME:
        return 4 + 16 + 1 + 1 + 2 + e->str_len;
    case EFF_ASSIGN:
        return 16 + 4;
    default:
        abort(); /* programmer error: encoder given an unknown type */
    }
}

static size_t header_and_ctx_len(const struct record *r)
{
    return REC_HDR_LEN + (size_t)r->ctx.n * REC_CTX_ENTRY_LEN;
}

size_t record_encoded_len(const struct record *r)
{
    size_t n = header_and_ctx_len(r);
    for (uint32_t i = 0; i < r->n_eff; i++)
        n += EFF_HDR_LEN + effect_body_len(&r->eff[i]);
    return n;
}

size_t record_data_offset(const struct record *r, uint32_t idx)
{
    size_t n = header_and_ctx_len(r);
    for (uint32_t i = 0; i < idx; i++)
        n += EFF_HDR_LEN + effect_body_len(&r->eff[i]);
    return n + EFF_HDR_LEN + 8 + 8 + 4;
}

/* Checksums by format version (format.h): version 3 uses XXH3-64 (libxxhash,
 * ~11 GB/s here), truncated to 32 bits; versions 1 and 2 used zlib CRC-32
 * (~3 GB/s, a third of the write path's time). Both skip bytes [12,16). */
static uint32_t sum(unsigned version, const uint8_t *buf, size_t len)
{
    if (version >= 3)
        return (uint32_t)XXH3_64bits_withSeed(buf + 16, len - 16, XXH3_64bits(buf, 12));
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, buf, 12);
    return (uint32_t)crc32_z(c, buf + 16, len - 16);
}

static uint32_t header_checksum(const uint8_t *buf)
{
    return sum(buf[4], buf, 44);
}

static uint32_t checksum(const uint8_t *buf, size_t total)
{
    return sum(buf[4], buf, total);
}

static void encode_str(struct wr *w, const struct effect *e)
{
    wr_u16(w, e->str_len);
    wr_bytes(w, e->str, e->str_len);
}

void record_encode(const struct record *r, uint8_t *out)
{
    size_t total = record_encoded_len(r);
    size_t payload = total - header_and_ctx_len(r);
    struct wr w;
    wr_init(&w, out, total);
    wr_u32(&w, REC_MAGIC);
    wr_u8(&w, REC_VERSION);
    wr_u8(&w, r->kind);
    wr_u16(&w, r->flags);
    wr_u32(&w, (uint32_t)total);
    wr_u32(&w, 0); /* checksum, filled below */
    wr_u32(&w, r->dot.origin);
    wr_u16(&w, (uint16_t)r->ctx.n);
    wr_u16(&w, 0);
    wr_u64(&w, r->dot.seq);
    wr_u64(&w, r->hlc);
    wr_u32(&w, (uint32_t)payload);
    wr_u32(&w, 0); /* header checksum, filled below */
    for (uint32_t i = 0; i < r->ctx.n; i++) {
        wr_u32(&w, r->ctx.e[i].origin);
        wr_u64(&w, r->ctx.e[i].seq);
    }
    for (uint32_t i = 0; i < r->n_eff; i++) {
        const struct effect *e = &r->eff[i];
        wr_u8(&w, e->type);
        wr_u32(&w, (uint32_t)effect_body_len(e));
        switch (e->type) {
        case EFF_INODE:
            wr_u64(&w, e->ino);
            attr_encode(&e->attr, wr_take(&w, ATTR_LEN));
            encode_str(&w, e);
            break;
        case EFF_DIRENT:
            wr_u64(&w, e->parent);
            wr_u64(&w, e->child);
            wr_u8(&w, e->dtype);
            encode_str(&w, e);
            break;
        case EFF_DATA:
            wr_u64(&w, e->ino);
            wr_u64(&w, e->off);
            wr_u32(&w, e->len);
            if (e->src.iov)
                gather_copy(wr_take(&w, e->len), e->src, e->len);
            else
                wr_bytes(&w, e->data, e->len);
            break;
        case EFF_TRUNC:
            wr_u64(&w, e->ino);
            wr_u64(&w, e->size);
            break;
        case EFF_XATTR:
            wr_u64(&w, e->ino);
            encode_str(&w, e);
            wr_u32(&w, e->len);
            if (e->len != XATTR_REMOVED)
                wr_bytes(&w, e->data, e->len);
            break;
        case EFF_SNAPSHOT:
            encode_str(&w, e);
            break;
        case EFF_VOLUME:
            wr_u32(&w, e->vol_no);
            wr_bytes(&w, e->id, 16);
            wr_u8(&w, e->durability);
            wr_u8(&w, e->replicas);
            encode_str(&w, e);
            break;
        case EFF_ASSIGN:
            wr_bytes(&w, e->id, 16);
            wr_u32(&w, e->vol_no);
            break;
        }
    }
    put_le32(out + 44, header_checksum(out));
    put_le32(out + 12, checksum(out, total));
}

int record_peek(const uint8_t *hdr, size_t n, uint32_t *total)
{
    if (n < REC_HDR_LEN)
        return CAIRN_EFORMAT;
    if (get_le32(hdr) != REC_MAGIC || hdr[4] == 0)
        return CAIRN_EFORMAT;
    if (hdr[4] > REC_VERSION) /* format.h: the header checksum is fixed from version 3 on */
        return get_le32(hdr + 44) == header_checksum(hdr) ? CAIRN_ENEWER : CAIRN_EFORMAT;
    if (hdr[5] != REC_KIND_VOLUME && hdr[5] != REC_KIND_CATALOG)
        return CAIRN_EFORMAT;
    uint32_t t = get_le32(hdr + 8);
    uint32_t nctx = get_le16(hdr + 20);
    uint32_t payload = get_le32(hdr + 40);
    if (t > REC_MAX_LEN || nctx > REC_MAX_CTX || get_le16(hdr + 22) != 0 ||
        (uint64_t)REC_HDR_LEN + (uint64_t)nctx * REC_CTX_ENTRY_LEN + payload != t)
        return CAIRN_EFORMAT;
    if (hdr[4] >= 2 ? get_le32(hdr + 44) != header_checksum(hdr) : get_le32(hdr + 44) != 0)
        return CAIRN_EFORMAT;
    *total = t;
    return 0;
}

int record_verify(const uint8_t *buf, size_t len)
{
    uint32_t total;
    int rv;
    if ((rv = record_peek(buf, len, &total)) != 0)
        return rv;
    if (total != len)
        return CAIRN_EFORMAT;
    return get_le32(buf + 12) == checksum(buf, total) ? 0 : CAIRN_ECHECKSUM;
}

static const char *decode_str(struct rd *rd, uint16_t *len)
{
    *len = rd_u16(rd);
    return (const char *)rd_take(rd, *len);
}

static int decode_effect(struct record *r, uint8_t type, const uint8_t *body, uint32_t blen)
{
    struct rd rd;
    rd_init(&rd, body, blen);
    struct effect *e = record_add(r, type);
    const uint8_t *p;
    switch (type) {
    case EFF_INODE:
        e->ino = rd_u64(&rd);
        if ((p = rd_take(&rd, ATTR_LEN)) != NULL)
            attr_decode(&e->attr, p);
        e->str = decode_str(&rd, &e->str_len);
        if (e->ino == 0)
            return CAIRN_EFORMAT;
        break;
    case EFF_DIRENT:
        e->parent = rd_u64(&rd);
        e->child = rd_u64(&rd);
        e->dtype = rd_u8(&rd);
        e->str = decode_str(&rd, &e->str_len);
        if (!rd.bad && (e->parent == 0 || !name_valid(e->str, e->str_len)))
            return CAIRN_EFORMAT;
        break;
    case EFF_DATA:
        e->ino = rd_u64(&rd);
        e->off = rd_u64(&rd);
        e->len = rd_u32(&rd);
        e->data = rd_take(&rd, e->len);
        /* inside one block (format.h), non-empty, no offset overflow */
        if (!rd.bad && (e->ino == 0 || e->len == 0 || e->off > (UINT64_MAX >> 1) ||
                        (e->off >> BLOCK_SHIFT) != ((e->off + e->len - 1) >> BLOCK_SHIFT)))
            return CAIRN_EFORMAT;
        break;
    case EFF_TRUNC:
        e->ino = rd_u64(&rd);
        e->size = rd_u64(&rd);
        break;
    case EFF_XATTR:
        e->ino = rd_u64(&rd);
        e->str = decode_str(&rd, &e->str_len);
        e->len = rd_u32(&rd);
        if (e->len != XATTR_REMOVED)
            e->data = rd_take(&rd, e->len);
        if (!rd.bad && !plain_name(e->str, e->str_len))
            return CAIRN_EFORMAT;
        break;
    case EFF_SNAPSHOT:
        e->str = decode_str(&rd, &e->str_len);
        if (!rd.bad && !name_valid(e->str, e->str_len))
            return CAIRN_EFORMAT;
        break;
    case EFF_VOLUME:
        e->vol_no = rd_u32(&rd);
        if ((p = rd_take(&rd, 16)) != NULL)
            memcpy(e->id, p, 16);
        e->durability = rd_u8(&rd);
        e->replicas = rd_u8(&rd);
        e->str = decode_str(&rd, &e->str_len);
        if (!rd.bad && (e->vol_no == 0 || !plain_name(e->str, e->str_len)))
            return CAIRN_EFORMAT;
        break;
    case EFF_ASSIGN:
        if ((p = rd_take(&rd, 16)) != NULL)
            memcpy(e->id, p, 16);
        e->vol_no = rd_u32(&rd);
        break;
    default:
        return CAIRN_EFORMAT;
    }
    if (rd.bad || rd.left != 0)
        return CAIRN_EFORMAT;
    return 0;
}

/* The header fields of the record in BUF (record_peek accepted it). */
static int decode_header(struct record *r, const uint8_t *buf)
{
    r->kind = buf[5];
    r->flags = get_le16(buf + 6);
    r->dot.origin = get_le32(buf + 16);
    r->dot.seq = get_le64(buf + 24);
    r->hlc = get_le64(buf + 32);
    return r->dot.origin == 0 || r->dot.seq == 0 ? CAIRN_EFORMAT : 0;
}

/* VERIFY 0: the checksum is not asked (record_salvage_data). */
static int decode(struct record *r, const uint8_t *buf, size_t len, int verify)
{
    uint32_t total;
    int rv;
    if ((rv = record_peek(buf, len, &total)) != 0)
        return rv;
    if (total > len)
        return CAIRN_ETORN;
    if (verify && get_le32(buf + 12) != checksum(buf, total))
        return CAIRN_ECHECKSUM;
    if ((rv = decode_header(r, buf)) != 0)
        return rv;
    uint32_t nctx = get_le16(buf + 20);
    const uint8_t *p = buf + REC_HDR_LEN;
    for (uint32_t i = 0; i < nctx; i++, p += REC_CTX_ENTRY_LEN) {
        uint32_t origin = get_le32(p);
        uint64_t seq = get_le64(p + 4);
        if (seq == 0 || (i > 0 && origin <= r->ctx.e[r->ctx.n - 1].origin))
            return CAIRN_EFORMAT;
        vv_raise(&r->ctx, origin, seq);
    }
    const uint8_t *end = buf + total;
    while (p < end) {
        if ((size_t)(end - p) < EFF_HDR_LEN)
            return CAIRN_EFORMAT;
        uint8_t type = p[0];
        uint32_t blen = get_le32(p + 1);
        p += EFF_HDR_LEN;
        if (blen > (size_t)(end - p))
            return CAIRN_EFORMAT;
        if ((rv = decode_effect(r, type, p, blen)) != 0)
            return rv;
        if ((r->kind == REC_KIND_CATALOG) != (type == EFF_VOLUME || type == EFF_ASSIGN))
            return CAIRN_EFORMAT;
        p += blen;
    }
    return 0;
}

int record_decode(struct record *r, const uint8_t *buf, size_t len)
{
    record_reset(r);
    int rv = decode(r, buf, len, 1);
    if (rv != 0)
        record_reset(r);
    return rv;
}

int record_salvage_data(struct record *r, const uint8_t *buf, size_t len)
{
    record_reset(r);
    uint32_t total;
    int rv = record_peek(buf, len, &total);
    if (rv == 0 && (buf[4] < 2 || total > len || buf[5] != REC_KIND_VOLUME))
        rv = CAIRN_EFORMAT; /* (2) no header checksum before version 2 */
    if (rv != 0)
        return rv;
    /* a record whose checksum verifies failed to decode: nothing in it
     * makes sense but its verified header */
    if (get_le32(buf + 12) != checksum(buf, total) && decode(r, buf, len, 0) == 0)
        return 0;
    record_reset(r); /* the damage is in its structure: the header only */
    if ((rv = decode_header(r, buf)) != 0)
        record_reset(r);
    return rv;
}
