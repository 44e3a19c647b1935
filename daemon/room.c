/*
 * room.c — owns the budget of free space the node's volumes append from
 * (room.h).
 *
 * Invariants: (1) an append that would leave less than the reserve free
 * fails with -ENOSPC before it starts; (2) the free space is read again once
 * half of what was left after the reserve has been taken, by any volume, so
 * reads are rare while the disk is empty and frequent as it fills; the other
 * half covers what other programs write meanwhile.
 */
#include "room.h"

#include <errno.h>
#include <sys/statvfs.h>

#define RESERVE_MIN (8ull << 20)
#define RESERVE_MAX (1ull << 30)

void room_init(struct room *r)
{
    pthread_mutex_init(&r->lock, NULL);
    r->left = 0;
}

void room_fini(struct room *r)
{
    pthread_mutex_destroy(&r->lock);
}

int room_take(struct room *r, int fd, uint64_t total, uint64_t *avail, uint64_t *reserve)
{
    int rv = 0;
    pthread_mutex_lock(&r->lock);
    if (r->left > total) {
        r->left -= total;
        goto out;
    }
    struct statvfs st;
    if (fstatvfs(fd, &st) != 0)
        goto out; /* unknown: the write itself will tell */
    *avail = (uint64_t)st.f_bavail * st.f_frsize;
    *reserve = (uint64_t)st.f_blocks * st.f_frsize / 50;
    if (*reserve < RESERVE_MIN)
        *reserve = RESERVE_MIN;
    if (*reserve > RESERVE_MAX)
        *reserve = RESERVE_MAX;
    if (*avail < *reserve + total) {
        r->left = 0;
        rv = -ENOSPC; /* (1) */
        goto out;
    }
    r->left = (*avail - *reserve - total) / 2; /* (2) */
out:
    pthread_mutex_unlock(&r->lock);
    return rv;
}
