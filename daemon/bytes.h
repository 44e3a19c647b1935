/*
 * bytes.h — fixed-width integer load/store with a stated byte order.
 *
 * On-disk formats (format.h) are little-endian; index keys (metakey.c) are
 * big-endian so that byte order equals numeric order. Pure inline helpers.
 */
#ifndef CAIRN_BYTES_H
#define CAIRN_BYTES_H

#include <stdint.h>
#include <string.h>

static inline void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t get_le32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static inline uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static inline void put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}
static inline void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}
static inline uint32_t get_be32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = (v << 8) | p[i];
    return v;
}
static inline uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* A bounded little-endian reader over untrusted bytes: every get checks the
 * remaining length and latches an error instead of reading past the end. */
struct rd {
    const uint8_t *p;
    size_t left;
    int bad;
};

static inline void rd_init(struct rd *r, const void *p, size_t n)
{
    r->p = p;
    r->left = n;
    r->bad = 0;
}
static inline const uint8_t *rd_take(struct rd *r, size_t n)
{
    if (r->bad || r->left < n) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *q = r->p;
    r->p += n;
    r->left -= n;
    return q;
}
static inline uint8_t rd_u8(struct rd *r)
{
    const uint8_t *q = rd_take(r, 1);
    return q ? q[0] : 0;
}
static inline uint16_t rd_u16(struct rd *r)
{
    const uint8_t *q = rd_take(r, 2);
    return q ? get_le16(q) : 0;
}
static inline uint32_t rd_u32(struct rd *r)
{
    const uint8_t *q = rd_take(r, 4);
    return q ? get_le32(q) : 0;
}
static inline uint64_t rd_u64(struct rd *r)
{
    const uint8_t *q = rd_take(r, 8);
    return q ? get_le64(q) : 0;
}

/* A little-endian writer into a caller-sized buffer (sized by the encoder
 * beforehand, so running out is a programmer error caught by assert). */
struct wr {
    uint8_t *p;
    size_t left;
};

static inline void wr_init(struct wr *w, void *p, size_t n)
{
    w->p = p;
    w->left = n;
}
static inline uint8_t *wr_take(struct wr *w, size_t n)
{
    if (w->left < n)
        __builtin_trap();
    uint8_t *q = w->p;
    w->p += n;
    w->left -= n;
    return q;
}
static inline void wr_u8(struct wr *w, uint8_t v)
{
    *wr_take(w, 1) = v;
}
static inline void wr_u16(struct wr *w, uint16_t v)
{
    put_le16(wr_take(w, 2), v);
}
static inline void wr_u32(struct wr *w, uint32_t v)
{
    put_le32(wr_take(w, 4), v);
}
static inline void wr_u64(struct wr *w, uint64_t v)
{
    put_le64(wr_take(w, 8), v);
}
static inline void wr_bytes(struct wr *w, const void *src, size_t n)
{
    if (n)
        memcpy(wr_take(w, n), src, n);
}

#endif
