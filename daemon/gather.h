/*
 * gather.h — bytes spread over several pieces of memory (struct iovec), read
 * through a cursor: the pieces IOV[0..], and OFF bytes into IOV[0].
 * Pure inline helpers; the caller keeps the pieces alive and long enough.
 */
#ifndef CAIRN_GATHER_H
#define CAIRN_GATHER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

struct gather {
    const struct iovec *iov;
    size_t off;
};

/* Copies N bytes at G to DST. */
static inline void gather_copy(uint8_t *dst, struct gather g, size_t n)
{
    while (n > 0) {
        size_t l = g.iov->iov_len - g.off;
        if (l > n)
            l = n;
        memcpy(dst, (const uint8_t *)g.iov->iov_base + g.off, l);
        dst += l;
        n -= l;
        g.iov++;
        g.off = 0;
    }
}

/* G moved N bytes on. */
static inline struct gather gather_skip(struct gather g, size_t n)
{
    while (n > 0 && n >= g.iov->iov_len - g.off) {
        n -= g.iov->iov_len - g.off;
        g.iov++;
        g.off = 0;
    }
    g.off += n;
    return g;
}

#endif
