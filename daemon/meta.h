/*
 * meta.h — the index: RocksDB with one column family per kind of entry.
 * The only module that includes rocksdb/c.h.
 *
 * The index is derived from the chunk logs and can be thrown away and rebuilt
 * (engine_reindex). Threads: every call is thread-safe (RocksDB's own
 * guarantees); an iterator or batch is used by one thread at a time.
 * Errors: RocksDB failures are logged and returned as -EIO.
 */
#ifndef CAIRN_META_H
#define CAIRN_META_H

#include <stddef.h>
#include <stdint.h>

enum meta_cf {
    CF_DEFAULT,
    CF_INODES,    /* vol ino stamp -> attr */
    CF_DIRENTS,   /* vol parent name 0 stamp -> child */
    CF_EXTENTS,   /* vol ino block stamp -> pieces; block ~0 holds truncations */
    CF_XATTRS,    /* vol ino name 0 stamp -> value */
    CF_RECORDS,   /* vol origin seq -> chunk location */
    CF_CHUNKS,    /* chunk number -> chunk state */
    CF_VOLUMES,   /* volume catalog */
    CF_SNAPSHOTS, /* vol name -> version vector */
    CF_PEERS,     /* reserved for replication cursors */
    CF_LIVE,      /* vol parent name -> child: the names a directory has now */
    CF_COUNT
};

struct meta;
struct meta_batch;
struct meta_iter;

/* Opens (creating if missing) the index at PATH; -EUCLEAN when RocksDB
 * finds it damaged (its own files: CURRENT, MANIFEST, tables). */
int meta_open(struct meta **out, const char *path);
void meta_close(struct meta *m);
/* Deletes the index at PATH (must be closed). */
int meta_destroy(const char *path);

/* *VAL is malloc'ed (free it) and *VLEN its length; -ENOENT when absent. */
int meta_get(struct meta *m, enum meta_cf cf, const void *key, size_t klen, char **val,
             size_t *vlen);

struct meta_batch *meta_batch_new(void);
void meta_batch_free(struct meta_batch *b);
void meta_batch_clear(struct meta_batch *b);
int meta_batch_count(const struct meta_batch *b);
void meta_batch_put(struct meta *m, struct meta_batch *b, enum meta_cf cf, const void *key,
                    size_t klen, const void *val, size_t vlen);
void meta_batch_delete(struct meta *m, struct meta_batch *b, enum meta_cf cf, const void *key,
                       size_t klen);
/* Applies B atomically. SYNC waits for the WAL to reach the disk. */
int meta_batch_commit(struct meta *m, struct meta_batch *b, int sync);
/* Makes every committed batch durable (WAL fsync). */
int meta_sync(struct meta *m);
/* Flushes memtables to table files (used after a rebuild without WAL). */
int meta_flush(struct meta *m);

/* An iterator over CF; UPPER (may be NULL, copied) is an exclusive bound. */
/* A consistent view for the calling thread (nestable): until meta_view_end,
 * its gets and new iterators on M read the index as it is now, whatever
 * batches commit meanwhile. */
void meta_view_begin(struct meta *m);
void meta_view_end(void);
struct meta_iter *meta_iter_new(struct meta *m, enum meta_cf cf, const void *upper, size_t ulen);
void meta_iter_free(struct meta_iter *it);
void meta_iter_seek(struct meta_iter *it, const void *key, size_t klen);
/* Positions at the first key > KEY (a page that ended at KEY goes on). */
void meta_iter_seek_past(struct meta_iter *it, const void *key, size_t klen);
void meta_iter_seek_first(struct meta_iter *it);
/* Positions at the last key <= KEY. */
void meta_iter_seek_for_prev(struct meta_iter *it, const void *key, size_t klen);
int meta_iter_valid(struct meta_iter *it);
void meta_iter_next(struct meta_iter *it);
void meta_iter_prev(struct meta_iter *it);
const uint8_t *meta_iter_key(struct meta_iter *it, size_t *klen);
const uint8_t *meta_iter_value(struct meta_iter *it, size_t *vlen);
/* 0, or -EIO when the iterator stopped because of an error. */
int meta_iter_status(struct meta_iter *it);

/* Approximate bytes of the index on disk (SST + WAL). */
uint64_t meta_disk_bytes(struct meta *m);

#endif
