/*
 * node.h — the identity of this node and the ownership of its data directory.
 *
 * node_open creates DATA_DIR if needed, takes an exclusive lock on
 * DATA_DIR/LOCK (a second process gets -EBUSY) and reads DATA_DIR/node.id,
 * creating it with a fresh random id on first use. Called by one thread.
 */
#ifndef CAIRN_NODE_H
#define CAIRN_NODE_H

#include <stdint.h>

/* Node ids are 24 bits (1 .. NODE_ID_MAX): inode numbers are
 * node id << 40 | a per-node counter, unique cluster-wide without talking. */
#define NODE_ID_MAX 0xffffffu
#define INO_NODE_SHIFT 40
#define INO_COUNTER_MAX ((1ull << INO_NODE_SHIFT) - 1)

struct node {
    uint32_t id;
    int lock_fd;
    char *dir;
};

int node_open(struct node *n, const char *data_dir);
void node_close(struct node *n);
/* mkdir -p PATH (mode 0700 for the parts it creates). */
int node_mkdirs(const char *path);

#endif
