/*
 * vclock.c — owns version-vector algebra (see vclock.h).
 *
 * Invariants: (1) entries are sorted by origin, strictly increasing; (2) no
 * entry has seq 0 (absent and 0 mean the same); (3) merge is commutative,
 * associative and idempotent, and compare is consistent with dominates.
 * Pure: no I/O; callers own locking.
 */
#include "vclock.h"

#include "alloc.h"
#include "bytes.h"
#include "cairn_err.h"

#include <stdlib.h>
#include <string.h>

void vv_init(struct vv *v)
{
    memset(v, 0, sizeof *v);
}

void vv_fini(struct vv *v)
{
    free(v->e);
    memset(v, 0, sizeof *v);
}

void vv_clear(struct vv *v)
{
    v->n = 0;
}

static void reserve(struct vv *v, uint32_t n)
{
    if (n <= v->cap)
        return;
    uint32_t cap = v->cap ? v->cap * 2 : 4;
    while (cap < n)
        cap *= 2;
    v->e = xrealloc(v->e, cap * sizeof *v->e);
    v->cap = cap;
}

void vv_copy(struct vv *dst, const struct vv *src)
{
    if (dst == src)
        return;
    reserve(dst, src->n);
    if (src->n)
        memcpy(dst->e, src->e, src->n * sizeof *src->e);
    dst->n = src->n;
}

/* Index of the first entry with origin >= ORIGIN. */
static uint32_t find(const struct vv *v, uint32_t origin)
{
    uint32_t lo = 0, hi = v->n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (v->e[mid].origin < origin)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

uint64_t vv_get(const struct vv *v, uint32_t origin)
{
    uint32_t i = find(v, origin);
    return i < v->n && v->e[i].origin == origin ? v->e[i].seq : 0;
}

void vv_raise(struct vv *v, uint32_t origin, uint64_t seq)
{
    if (seq == 0)
        return;
    uint32_t i = find(v, origin);
    if (i < v->n && v->e[i].origin == origin) {
        if (v->e[i].seq < seq)
            v->e[i].seq = seq;
        return;
    }
    reserve(v, v->n + 1);
    memmove(&v->e[i + 1], &v->e[i], (v->n - i) * sizeof *v->e);
    v->e[i].origin = origin;
    v->e[i].seq = seq;
    v->n++;
}

void vv_merge(struct vv *dst, const struct vv *src)
{
    for (uint32_t i = 0; i < src->n; i++)
        vv_raise(dst, src->e[i].origin, src->e[i].seq);
}

int vv_contains(const struct vv *v, struct dot d)
{
    return d.seq != 0 && vv_get(v, d.origin) >= d.seq;
}

enum vv_order vv_compare(const struct vv *a, const struct vv *b)
{
    int a_more = 0, b_more = 0;
    uint32_t i = 0, j = 0;
    while (i < a->n || j < b->n) {
        if (j >= b->n || (i < a->n && a->e[i].origin < b->e[j].origin)) {
            a_more = 1;
            i++;
        } else if (i >= a->n || b->e[j].origin < a->e[i].origin) {
            b_more = 1;
            j++;
        } else {
            if (a->e[i].seq > b->e[j].seq)
                a_more = 1;
            else if (a->e[i].seq < b->e[j].seq)
                b_more = 1;
            i++;
            j++;
        }
    }
    if (a_more && b_more)
        return VV_CONCURRENT;
    if (a_more)
        return VV_AFTER;
    if (b_more)
        return VV_BEFORE;
    return VV_EQUAL;
}

int vv_dominates(const struct vv *a, const struct vv *b)
{
    enum vv_order o = vv_compare(a, b);
    return o == VV_EQUAL || o == VV_AFTER;
}

size_t vv_encoded_len(const struct vv *v)
{
    return 2 + (size_t)v->n * 12;
}

void vv_encode(const struct vv *v, uint8_t *out)
{
    put_le16(out, (uint16_t)v->n);
    out += 2;
    for (uint32_t i = 0; i < v->n; i++, out += 12) {
        put_le32(out, v->e[i].origin);
        put_le64(out + 4, v->e[i].seq);
    }
}

int vv_decode(struct vv *v, const uint8_t *buf, size_t len, size_t *used)
{
    if (len < 2)
        return CAIRN_EFORMAT;
    uint32_t n = get_le16(buf);
    if (len < 2 + (size_t)n * 12)
        return CAIRN_EFORMAT;
    vv_clear(v);
    reserve(v, n);
    const uint8_t *p = buf + 2;
    for (uint32_t i = 0; i < n; i++, p += 12) {
        uint32_t origin = get_le32(p);
        uint64_t seq = get_le64(p + 4);
        if (seq == 0 || (i > 0 && origin <= v->e[i - 1].origin)) {
            vv_clear(v);
            return CAIRN_EFORMAT;
        }
        v->e[i].origin = origin;
        v->e[i].seq = seq;
        v->n = i + 1;
    }
    if (used)
        *used = 2 + (size_t)n * 12;
    return 0;
}
