/*
 * metakey.c — owns the byte form of index keys and values (metakey.h).
 *
 * Invariants: (1) versions of one object are adjacent and sorted newest
 * first; (2) a name inside a versioned key is followed by a 00 byte and
 * names never contain 00, so "a" sorts with all its versions before
 * "a\x01"; a live key (mk_live) ends with its name, which sorts the same; (3) every
 * decoder checks lengths and the version byte before reading; (4) a comp's
 * pieces are sorted by boff and never overlap. Pure: no I/O, no shared state.
 */
#include "metakey.h"

#include "alloc.h"
#include "bytes.h"
#include "cairn_err.h"
#include "format.h"
#include "record.h"

#include <stdlib.h>
#include <string.h>

static size_t put_stamp(uint8_t *k, struct stamp s)
{
    put_be64(k, ~s.hlc);
    put_be32(k + 8, ~s.origin);
    return STAMP_LEN;
}

size_t mk_inode(uint8_t *k, uint32_t vol, uint64_t ino, struct stamp s)
{
    put_be32(k, vol);
    put_be64(k + 4, ino);
    return 12 + put_stamp(k + 12, s);
}

/* vol id name, the unversioned form (a live key) that a versioned named key
 * extends with 00 and the stamp (2). */
static size_t name_key(uint8_t *k, uint32_t vol, uint64_t id, const char *name, size_t nlen)
{
    put_be32(k, vol);
    put_be64(k + 4, id);
    memcpy(k + 12, name, nlen);
    return 12 + nlen;
}

static size_t named(uint8_t *k, uint32_t vol, uint64_t id, const char *name, size_t nlen,
                    struct stamp s)
{
    size_t n = name_key(k, vol, id, name, nlen);
    k[n] = 0;
    return n + 1 + put_stamp(k + n + 1, s);
}

size_t mk_dirent(uint8_t *k, uint32_t vol, uint64_t parent, const char *name, size_t nlen,
                 struct stamp s)
{
    return named(k, vol, parent, name, nlen, s);
}

size_t mk_live(uint8_t *k, uint32_t vol, uint64_t parent, const char *name, size_t nlen)
{
    return name_key(k, vol, parent, name, nlen);
}

int mk_live_name(const uint8_t *k, size_t klen, const char **name, size_t *nlen)
{
    if (klen <= 12 || klen > 12 + 255 || memchr(k + 12, 0, klen - 12))
        return CAIRN_EFORMAT;
    *name = (const char *)k + 12;
    *nlen = klen - 12;
    return 0;
}

size_t mk_xattr(uint8_t *k, uint32_t vol, uint64_t ino, const char *name, size_t nlen,
                struct stamp s)
{
    return named(k, vol, ino, name, nlen, s);
}

size_t mk_extent(uint8_t *k, uint32_t vol, uint64_t ino, uint64_t block, struct stamp s)
{
    put_be32(k, vol);
    put_be64(k + 4, ino);
    put_be64(k + 12, block);
    return 20 + put_stamp(k + 20, s);
}

size_t mk_record(uint8_t *k, uint32_t vol, uint32_t origin, uint64_t seq)
{
    put_be32(k, vol);
    put_be32(k + 4, origin);
    put_be64(k + 8, seq);
    return 16;
}

size_t mk_chunk(uint8_t *k, uint32_t no, char kind)
{
    put_be32(k, no);
    k[4] = (uint8_t)kind;
    return 5;
}

size_t mk_volume_name(uint8_t *k, const char *name, size_t nlen)
{
    k[0] = 'n';
    memcpy(k + 1, name, nlen);
    return 1 + nlen;
}

size_t mk_volume(uint8_t *k, uint32_t vol)
{
    k[0] = 'v';
    put_be32(k + 1, vol);
    return 5;
}

size_t mk_snapshot(uint8_t *k, uint32_t vol, const char *name, size_t nlen)
{
    put_be32(k, vol);
    memcpy(k + 4, name, nlen);
    return 4 + nlen;
}

size_t mk_prefix_end(uint8_t *out, const uint8_t *prefix, size_t n)
{
    memcpy(out, prefix, n);
    while (n > 0) {
        if (out[n - 1] != 0xff) {
            out[n - 1]++;
            return n;
        }
        n--;
    }
    return 0; /* all 0xff: no upper bound */
}

int mk_stamp(const uint8_t *k, size_t klen, struct stamp *s)
{
    if (klen < STAMP_LEN + 4)
        return CAIRN_EFORMAT;
    s->hlc = ~get_be64(k + klen - STAMP_LEN);
    s->origin = ~get_be32(k + klen - 4);
    return 0;
}

int mk_name(const uint8_t *k, size_t klen, const char **name, size_t *nlen)
{
    if (klen < 12 + 1 + 1 + STAMP_LEN || k[klen - STAMP_LEN - 1] != 0)
        return CAIRN_EFORMAT;
    *name = (const char *)k + 12;
    *nlen = klen - 12 - 1 - STAMP_LEN;
    if (*nlen > 255 || memchr(*name, 0, *nlen)) /* no name is longer: callers copy into KEY_MAX */
        return CAIRN_EFORMAT;
    return 0;
}

static int ver_ok(const uint8_t *v, size_t vlen, size_t min)
{
    return vlen >= min && v[0] >= 1 && v[0] <= INDEX_VERSION;
}

size_t iv_inode_len(uint16_t tlen)
{
    return 1 + 8 + ATTR_LEN + 2 + tlen;
}

void iv_inode_encode(uint8_t *v, uint64_t seq, const struct attr *a, const char *t, uint16_t tlen)
{
    v[0] = INDEX_VERSION;
    put_le64(v + 1, seq);
    attr_encode(a, v + 9);
    put_le16(v + 9 + ATTR_LEN, tlen);
    if (tlen)
        memcpy(v + 11 + ATTR_LEN, t, tlen);
}

int iv_inode_decode(struct iv_inode *o, const uint8_t *v, size_t vlen)
{
    if (!ver_ok(v, vlen, iv_inode_len(0)))
        return CAIRN_EFORMAT;
    o->seq = get_le64(v + 1);
    attr_decode(&o->a, v + 9);
    o->tlen = get_le16(v + 9 + ATTR_LEN);
    if (vlen != iv_inode_len(o->tlen))
        return CAIRN_EFORMAT;
    o->target = (const char *)v + 11 + ATTR_LEN;
    return 0;
}

void iv_dirent_encode(uint8_t *v, uint64_t seq, uint64_t child, uint8_t dtype)
{
    v[0] = INDEX_VERSION;
    put_le64(v + 1, seq);
    put_le64(v + 9, child);
    v[17] = dtype;
}

int iv_dirent_decode(const uint8_t *v, size_t vlen, uint64_t *seq, uint64_t *child, uint8_t *dtype)
{
    if (!ver_ok(v, vlen, IV_DIRENT_LEN) || vlen != IV_DIRENT_LEN)
        return CAIRN_EFORMAT;
    *seq = get_le64(v + 1);
    *child = get_le64(v + 9);
    *dtype = v[17];
    return 0;
}

void comp_init(struct comp *c)
{
    memset(c, 0, sizeof *c);
}

void comp_fini(struct comp *c)
{
    free(c->p);
    memset(c, 0, sizeof *c);
}

static void comp_reserve(struct comp *c, uint32_t n)
{
    if (n <= c->cap)
        return;
    uint32_t cap = c->cap ? c->cap * 2 : 8;
    while (cap < n)
        cap *= 2;
    c->p = xrealloc(c->p, cap * sizeof *c->p);
    c->cap = cap;
}

void comp_copy(struct comp *dst, const struct comp *src)
{
    comp_reserve(dst, src->n);
    if (src->n)
        memcpy(dst->p, src->p, src->n * sizeof *src->p);
    dst->n = src->n;
    dst->seq = src->seq;
}

void comp_overlay(struct comp *c, const struct piece *np)
{
    uint64_t a = np->boff, b = (uint64_t)np->boff + np->len;
    struct comp out;
    comp_init(&out);
    comp_reserve(&out, c->n + 2);
    /* the surviving fragments of the old pieces stay sorted (4) */
    for (uint32_t i = 0; i < c->n; i++) {
        struct piece p = c->p[i];
        uint64_t s = p.boff, e = (uint64_t)p.boff + p.len;
        if (e <= a || s >= b) {
            out.p[out.n++] = p;
            continue;
        }
        if (s < a) {
            struct piece l = p;
            l.len = (uint32_t)(a - s);
            out.p[out.n++] = l;
        }
        if (e > b) {
            struct piece r = p;
            r.boff = (uint32_t)b;
            r.len = (uint32_t)(e - b);
            r.data_off = p.data_off + (uint32_t)(b - s);
            out.p[out.n++] = r;
        }
    }
    uint32_t at = 0;
    while (at < out.n && out.p[at].boff < a)
        at++;
    memmove(&out.p[at + 1], &out.p[at], (out.n - at) * sizeof *out.p);
    out.p[at] = *np;
    out.n++;
    out.seq = c->seq;
    free(c->p);
    *c = out;
}

void comp_clip(struct comp *c, uint64_t limit)
{
    uint32_t j = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        struct piece p = c->p[i];
        if (p.boff >= limit)
            continue;
        if ((uint64_t)p.boff + p.len > limit)
            p.len = (uint32_t)(limit - p.boff);
        c->p[j++] = p;
    }
    c->n = j;
}

size_t iv_comp_len(const struct comp *c)
{
    return 1 + 8 + 2 + (size_t)c->n * PIECE_LEN;
}

void iv_comp_encode(uint8_t *v, const struct comp *c)
{
    struct wr w;
    wr_init(&w, v, iv_comp_len(c));
    wr_u8(&w, INDEX_VERSION);
    wr_u64(&w, c->seq);
    wr_u16(&w, (uint16_t)c->n);
    for (uint32_t i = 0; i < c->n; i++) {
        const struct piece *p = &c->p[i];
        wr_u32(&w, p->boff);
        wr_u32(&w, p->len);
        wr_u32(&w, p->chunk_no);
        wr_u64(&w, p->rec_off);
        wr_u32(&w, p->rec_len);
        wr_u32(&w, p->data_off);
    }
}

int iv_comp_decode(struct comp *c, const uint8_t *v, size_t vlen)
{
    if (!ver_ok(v, vlen, 11))
        return CAIRN_EFORMAT;
    uint32_t n = get_le16(v + 9);
    if (n > COMP_HARD_MAX || vlen != 11 + (size_t)n * PIECE_LEN)
        return CAIRN_EFORMAT;
    c->seq = get_le64(v + 1);
    comp_reserve(c, n);
    c->n = 0;
    struct rd r;
    rd_init(&r, v + 11, vlen - 11);
    uint64_t prev_end = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct piece *p = &c->p[i];
        p->boff = rd_u32(&r);
        p->len = rd_u32(&r);
        p->chunk_no = rd_u32(&r);
        p->rec_off = rd_u64(&r);
        p->rec_len = rd_u32(&r);
        p->data_off = rd_u32(&r);
        if (p->len == 0 || p->boff < prev_end || (uint64_t)p->boff + p->len > BLOCK_SIZE ||
            (uint64_t)p->data_off + p->len > p->rec_len || p->rec_len > REC_MAX_LEN) {
            c->n = 0;
            return CAIRN_EFORMAT;
        }
        prev_end = (uint64_t)p->boff + p->len;
    }
    c->n = n;
    return 0;
}

void iv_trunc_encode(uint8_t *v, uint64_t seq, uint64_t size)
{
    v[0] = INDEX_VERSION;
    put_le64(v + 1, seq);
    put_le64(v + 9, size);
}

int iv_trunc_decode(const uint8_t *v, size_t vlen, uint64_t *seq, uint64_t *size)
{
    if (!ver_ok(v, vlen, IV_TRUNC_LEN) || vlen != IV_TRUNC_LEN)
        return CAIRN_EFORMAT;
    *seq = get_le64(v + 1);
    *size = get_le64(v + 9);
    return 0;
}

size_t iv_xattr_len(uint32_t len)
{
    return 1 + 8 + 4 + (len == XATTR_REMOVED ? 0 : len);
}

void iv_xattr_encode(uint8_t *v, uint64_t seq, const void *val, uint32_t len)
{
    v[0] = INDEX_VERSION;
    put_le64(v + 1, seq);
    put_le32(v + 9, len);
    if (len != XATTR_REMOVED && len)
        memcpy(v + 13, val, len);
}

int iv_xattr_decode(const uint8_t *v, size_t vlen, uint64_t *seq, const uint8_t **val,
                    uint32_t *len)
{
    if (!ver_ok(v, vlen, 13))
        return CAIRN_EFORMAT;
    *seq = get_le64(v + 1);
    *len = get_le32(v + 9);
    if (vlen != iv_xattr_len(*len))
        return CAIRN_EFORMAT;
    *val = v + 13;
    return 0;
}

void iv_recloc_encode(uint8_t *v, const struct recloc *l)
{
    v[0] = INDEX_VERSION;
    put_le32(v + 1, l->chunk_no);
    put_le64(v + 5, l->off);
    put_le32(v + 13, l->len);
    put_le64(v + 17, l->hlc);
}

int iv_recloc_decode(struct recloc *l, const uint8_t *v, size_t vlen)
{
    if (!ver_ok(v, vlen, IV_RECLOC_LEN) || vlen != IV_RECLOC_LEN)
        return CAIRN_EFORMAT;
    l->chunk_no = get_le32(v + 1);
    l->off = get_le64(v + 5);
    l->len = get_le32(v + 13);
    l->hlc = get_le64(v + 17);
    return 0;
}

void iv_assign_encode(uint8_t *v, const struct assigninfo *a)
{
    v[0] = INDEX_VERSION;
    memcpy(v + 1, a->id, 16);
    put_le32(v + 17, a->vol_no);
    put_le64(v + 21, a->ord);
}

int iv_assign_decode(struct assigninfo *a, const uint8_t *v, size_t vlen)
{
    if (!ver_ok(v, vlen, IV_ASSIGN_LEN) || vlen != IV_ASSIGN_LEN)
        return CAIRN_EFORMAT;
    memcpy(a->id, v + 1, 16);
    a->vol_no = get_le32(v + 17);
    a->ord = get_le64(v + 21);
    return 0;
}

void iv_applied_encode(uint8_t *v, uint64_t applied, uint64_t last_rec)
{
    v[0] = INDEX_VERSION;
    put_le64(v + 1, applied);
    put_le64(v + 9, last_rec);
}

int iv_applied_decode(const uint8_t *v, size_t vlen, uint64_t *applied, uint64_t *last_rec)
{
    if (!ver_ok(v, vlen, IV_APPLIED_LEN) || vlen != IV_APPLIED_LEN)
        return CAIRN_EFORMAT;
    *applied = get_le64(v + 1);
    *last_rec = get_le64(v + 9);
    return 0;
}

size_t iv_volume_len(const struct volinfo *v)
{
    return 1 + 16 + 1 + 1 + 2 + strlen(v->name);
}

void iv_volume_encode(uint8_t *out, const struct volinfo *v)
{
    size_t n = strlen(v->name);
    out[0] = INDEX_VERSION;
    memcpy(out + 1, v->id, 16);
    out[17] = v->durability;
    out[18] = v->replicas;
    put_le16(out + 19, (uint16_t)n);
    memcpy(out + 21, v->name, n);
}

int iv_volume_decode(struct volinfo *v, const uint8_t *in, size_t len)
{
    if (!ver_ok(in, len, 21))
        return CAIRN_EFORMAT;
    size_t n = get_le16(in + 19);
    if (len != 21 + n || n == 0 || n >= sizeof v->name || memchr(in + 21, 0, n))
        return CAIRN_EFORMAT;
    memcpy(v->id, in + 1, 16);
    v->durability = in[17];
    v->replicas = in[18];
    memcpy(v->name, in + 21, n);
    v->name[n] = '\0';
    return 0;
}

size_t iv_snapshot_len(const struct snapinfo *s)
{
    return 1 + 4 + 8 + 8 + vv_encoded_len(&s->vv);
}

void iv_snapshot_encode(uint8_t *v, const struct snapinfo *s)
{
    v[0] = INDEX_VERSION;
    put_le32(v + 1, s->dot.origin);
    put_le64(v + 5, s->dot.seq);
    put_le64(v + 13, s->hlc);
    vv_encode(&s->vv, v + 21);
}

int iv_snapshot_decode(struct snapinfo *s, const uint8_t *v, size_t vlen)
{
    if (!ver_ok(v, vlen, 21 + 2))
        return CAIRN_EFORMAT;
    s->dot.origin = get_le32(v + 1);
    s->dot.seq = get_le64(v + 5);
    s->hlc = get_le64(v + 13);
    size_t used;
    int rv = vv_decode(&s->vv, v + 21, vlen - 21, &used);
    if (rv == 0 && used != vlen - 21)
        rv = CAIRN_EFORMAT;
    return rv;
}
