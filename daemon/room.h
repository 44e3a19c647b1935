/*
 * room.h — the free space of the file system that holds the data directory,
 * as the volumes spend it (module interface for volume.c and engine.c).
 *
 * A reserve of that space (2% of the file system, 8 MiB to 1 GiB) is kept
 * for the index: RocksDB must never be the one to find the disk full. Every
 * volume of the node appends to that one file system, so they take from one
 * budget. Thread-safe.
 */
#ifndef CAIRN_ROOM_H
#define CAIRN_ROOM_H

#include <pthread.h>
#include <stdint.h>

struct room {
    pthread_mutex_t lock;
    uint64_t left; /* under lock: bytes to append before free space is read again */
};

void room_init(struct room *r);
void room_fini(struct room *r);
/* Takes TOTAL bytes for an append to FD (a file on that file system): 0, or
 * -ENOSPC when it would leave less than the reserve free, with *AVAIL and
 * *RESERVE the bytes that were free and kept. */
int room_take(struct room *r, int fd, uint64_t total, uint64_t *avail, uint64_t *reserve);

#endif
