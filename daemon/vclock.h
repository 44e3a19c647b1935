/*
 * vclock.h — dots and version vectors (pure; no I/O, no locks).
 *
 * A dot (origin, seq) names one record. A version vector maps origin ->
 * highest contiguous seq seen; entries are kept sorted by origin, with no
 * zero seqs. A struct vv owns its entry array: vv_init/vv_fini.
 */
#ifndef CAIRN_VCLOCK_H
#define CAIRN_VCLOCK_H

#include <stddef.h>
#include <stdint.h>

struct dot {
    uint32_t origin;
    uint64_t seq;
};

struct vv_entry {
    uint32_t origin;
    uint64_t seq;
};

struct vv {
    uint32_t n, cap;
    struct vv_entry *e;
};

enum vv_order { VV_EQUAL, VV_BEFORE, VV_AFTER, VV_CONCURRENT };

void vv_init(struct vv *v);
void vv_fini(struct vv *v);
void vv_clear(struct vv *v);
/* Copies SRC into DST (DST must be initialised; its old entries are dropped). */
void vv_copy(struct vv *dst, const struct vv *src);
/* Highest seq of ORIGIN (0 when absent). */
uint64_t vv_get(const struct vv *v, uint32_t origin);
/* Sets ORIGIN to max(current, SEQ). */
void vv_raise(struct vv *v, uint32_t origin, uint64_t seq);
/* DST := pointwise max(DST, SRC). */
void vv_merge(struct vv *dst, const struct vv *src);
/* 1 when the dot is covered by V. */
int vv_contains(const struct vv *v, struct dot d);
/* Order of A relative to B. */
enum vv_order vv_compare(const struct vv *a, const struct vv *b);
/* 1 when A >= B pointwise (A has seen everything B has). */
int vv_dominates(const struct vv *a, const struct vv *b);

/* Encoding: u16 count, then count x { u32 origin, u64 seq } (LE), sorted. */
size_t vv_encoded_len(const struct vv *v);
/* Writes vv_encoded_len(v) bytes to OUT. */
void vv_encode(const struct vv *v, uint8_t *out);
/* Decodes into V (initialised). Rejects unsorted, duplicate or zero entries
 * with CAIRN_EFORMAT. *USED (may be NULL) receives the bytes consumed. */
int vv_decode(struct vv *v, const uint8_t *buf, size_t len, size_t *used);

#endif
