/*
 * attr.h — the attributes of one inode as the engine stores them.
 * Times are nanoseconds since the epoch. Encoded by record.c (attr_encode).
 */
#ifndef CAIRN_ATTR_H
#define CAIRN_ATTR_H

#include <stdint.h>

struct attr {
    uint32_t mode; /* S_IFMT type bits + permission bits */
    uint32_t uid, gid;
    uint32_t nlink;
    uint64_t size;   /* bytes; for directories the number of live entries */
    uint64_t rdev;   /* device number for block/char nodes */
    uint64_t parent; /* directories: the containing directory (root: itself) */
    int64_t atime, mtime, ctime, btime;
    uint32_t flags;
};

#define ROOT_INO 1u

#endif
