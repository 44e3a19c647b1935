/*
 * meta.c — owns the RocksDB handle, its options and column families.
 *
 * Invariants: (1) the column family list is fixed and opened in enum order,
 * missing families are created; (2) memory is bounded independently of the
 * data size: one shared block cache and a global memtable budget
 * (META_CACHE_BYTES, META_MEMTABLE_BYTES); (3) a batch is applied atomically
 * or not at all; (4) between meta_view_begin and meta_view_end, every get
 * and every new iterator of the calling thread on that handle reads one
 * RocksDB snapshot: the index as it was at meta_view_begin; (5) deletions
 * do not linger in table files: an iterator steps over each one it meets (a
 * listing of a directory whose names were removed would walk them all), so
 * a table file dense with them is compacted away soon after its flush, not
 * when its level happens to fill. Threads: any (RocksDB is thread-safe); the
 * handle is created and destroyed by the engine's owner thread; a view
 * belongs to its thread.
 */
#include "meta.h"

#include "alloc.h"
#include "log.h"

#include <errno.h>
#include <rocksdb/c.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define META_CACHE_BYTES (64u << 20)
#define META_MEMTABLE_BYTES (64u << 20)
#define META_DEL_WINDOW 1024
#define META_DEL_TRIGGER 256

static const char *const cf_names[CF_COUNT] = {
    "default", "inodes",  "dirents",   "extents", "xattrs", "records",
    "chunks",  "volumes", "snapshots", "peers",   "live",
};

struct meta {
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_cache_t *cache;
    rocksdb_block_based_table_options_t *table;
    rocksdb_column_family_handle_t *cf[CF_COUNT];
    rocksdb_readoptions_t *ropts;
    rocksdb_writeoptions_t *wopts, *wopts_sync;
    _Atomic int write_failed; /* (4) */
};

struct meta_batch {
    rocksdb_writebatch_t *wb;
};

struct meta_iter {
    rocksdb_iterator_t *it;
    rocksdb_readoptions_t *ropts;
    char *upper;
};

/* (4) the calling thread's view, if one is open (depth > 0) */
static _Thread_local struct {
    struct meta *m;
    const rocksdb_snapshot_t *snap;
    rocksdb_readoptions_t *ropts;
    int depth;
} view;

void meta_view_begin(struct meta *m)
{
    if (view.depth++ > 0)
        return; /* nested: the outer view serves */
    view.m = m;
    view.snap = rocksdb_create_snapshot(m->db);
    view.ropts = rocksdb_readoptions_create();
    rocksdb_readoptions_set_snapshot(view.ropts, view.snap);
}

void meta_view_end(void)
{
    if (--view.depth > 0)
        return;
    rocksdb_readoptions_destroy(view.ropts);
    rocksdb_release_snapshot(view.m->db, view.snap);
    view.m = NULL;
    view.snap = NULL;
    view.ropts = NULL;
}

static int fail(const char *what, char *err)
{
    log_err("meta", "%s: %s", what, err ? err : "unknown error");
    free(err);
    return -EIO;
}

void meta_close(struct meta *m)
{
    if (!m)
        return;
    if (m->db && atomic_load(&m->write_failed)) {
        /* (4): closing flushes the WAL writer, which aborts after a failed
         * append. Leave it to process exit; the next open recovers the WAL,
         * and the engine replays whatever the index lacks from the chunks. */
        log_warn("meta", "index not closed after a failed write; the next start recovers it");
        free(m);
        return;
    }
    for (int i = 0; i < CF_COUNT; i++)
        if (m->cf[i])
            rocksdb_column_family_handle_destroy(m->cf[i]);
    if (m->db)
        rocksdb_close(m->db);
    if (m->ropts)
        rocksdb_readoptions_destroy(m->ropts);
    if (m->wopts)
        rocksdb_writeoptions_destroy(m->wopts);
    if (m->wopts_sync)
        rocksdb_writeoptions_destroy(m->wopts_sync);
    if (m->table)
        rocksdb_block_based_options_destroy(m->table);
    if (m->cache)
        rocksdb_cache_destroy(m->cache);
    if (m->opts)
        rocksdb_options_destroy(m->opts);
    free(m);
}

int meta_open(struct meta **out, const char *path)
{
    struct meta *m = xcalloc(1, sizeof *m);
    char *err = NULL;
    m->opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(m->opts, 1);
    rocksdb_options_set_create_missing_column_families(m->opts, 1);
    rocksdb_options_increase_parallelism(m->opts, 2);
    rocksdb_options_set_db_write_buffer_size(m->opts, META_MEMTABLE_BYTES);
    rocksdb_options_set_write_buffer_size(m->opts, 16u << 20);
    rocksdb_options_set_max_open_files(m->opts, 512);
    rocksdb_options_set_keep_log_file_num(m->opts, 3);
    rocksdb_options_set_compression(m->opts, rocksdb_lz4_compression);
    /* (5) only the live family deletes (apply.c): a table file is marked for
     * compaction when META_DEL_WINDOW entries in a row hold META_DEL_TRIGGER
     * deletions */
    rocksdb_options_add_compact_on_deletion_collector_factory(m->opts, META_DEL_WINDOW,
                                                              META_DEL_TRIGGER);
    m->cache = rocksdb_cache_create_lru(META_CACHE_BYTES);
    m->table = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(m->table, m->cache);
    rocksdb_block_based_options_set_cache_index_and_filter_blocks(m->table, 1);
    rocksdb_block_based_options_set_filter_policy(m->table, rocksdb_filterpolicy_create_bloom(10));
    rocksdb_options_set_block_based_table_factory(m->opts, m->table);

    const rocksdb_options_t *cf_opts[CF_COUNT];
    for (int i = 0; i < CF_COUNT; i++)
        cf_opts[i] = m->opts;
    m->db = rocksdb_open_column_families(m->opts, path, CF_COUNT, cf_names, cf_opts, m->cf, &err);
    if (err) {
        memset(m->cf, 0, sizeof m->cf);
        m->db = NULL;
        int damaged = strncmp(err, "Corruption:", 11) == 0;
        int rv = fail("open index", err);
        meta_close(m);
        return damaged ? -EUCLEAN : rv;
    }
    m->ropts = rocksdb_readoptions_create();
    m->wopts = rocksdb_writeoptions_create();
    m->wopts_sync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(m->wopts_sync, 1);
    *out = m;
    return 0;
}

int meta_destroy(const char *path)
{
    rocksdb_options_t *o = rocksdb_options_create();
    char *err = NULL;
    rocksdb_destroy_db(o, path, &err);
    rocksdb_options_destroy(o);
    return err ? fail("destroy index", err) : 0;
}

int meta_get(struct meta *m, enum meta_cf cf, const void *key, size_t klen, char **val,
             size_t *vlen)
{
    char *err = NULL;
    rocksdb_readoptions_t *ro = view.depth && view.m == m ? view.ropts : m->ropts; /* (4) */
    char *v = rocksdb_get_cf(m->db, ro, m->cf[cf], key, klen, vlen, &err);
    if (err)
        return fail("get", err);
    if (!v)
        return -ENOENT;
    *val = v;
    return 0;
}

struct meta_batch *meta_batch_new(void)
{
    struct meta_batch *b = xmalloc(sizeof *b);
    b->wb = rocksdb_writebatch_create();
    return b;
}

void meta_batch_free(struct meta_batch *b)
{
    if (!b)
        return;
    rocksdb_writebatch_destroy(b->wb);
    free(b);
}

void meta_batch_clear(struct meta_batch *b)
{
    rocksdb_writebatch_clear(b->wb);
}

int meta_batch_count(const struct meta_batch *b)
{
    return rocksdb_writebatch_count(b->wb);
}

void meta_batch_put(struct meta *m, struct meta_batch *b, enum meta_cf cf, const void *key,
                    size_t klen, const void *val, size_t vlen)
{
    rocksdb_writebatch_put_cf(b->wb, m->cf[cf], key, klen, val, vlen);
}

void meta_batch_delete(struct meta *m, struct meta_batch *b, enum meta_cf cf, const void *key,
                       size_t klen)
{
    rocksdb_writebatch_delete_cf(b->wb, m->cf[cf], key, klen);
}

int meta_batch_commit(struct meta *m, struct meta_batch *b, int sync)
{
    if (atomic_load(&m->write_failed))
        return -EIO;
    char *err = NULL;
    rocksdb_write(m->db, sync ? m->wopts_sync : m->wopts, b->wb, &err);
    if (err)
        atomic_store(&m->write_failed, 1);
    return err ? fail("write batch", err) : 0;
}

int meta_sync(struct meta *m)
{
    if (atomic_load(&m->write_failed))
        return -EIO; /* (4) */
    char *err = NULL;
    rocksdb_flush_wal(m->db, 1, &err);
    return err ? fail("sync wal", err) : 0;
}

int meta_flush(struct meta *m)
{
    char *err = NULL;
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(fo, 1);
    for (int i = 0; i < CF_COUNT && !err; i++)
        rocksdb_flush_cf(m->db, fo, m->cf[i], &err);
    rocksdb_flushoptions_destroy(fo);
    return err ? fail("flush", err) : 0;
}

struct meta_iter *meta_iter_new(struct meta *m, enum meta_cf cf, const void *upper, size_t ulen)
{
    struct meta_iter *it = xcalloc(1, sizeof *it);
    it->ropts = rocksdb_readoptions_create();
    if (view.depth && view.m == m) /* (4) */
        rocksdb_readoptions_set_snapshot(it->ropts, view.snap);
    if (upper) {
        it->upper = xmalloc(ulen ? ulen : 1);
        memcpy(it->upper, upper, ulen);
        rocksdb_readoptions_set_iterate_upper_bound(it->ropts, it->upper, ulen);
    }
    it->it = rocksdb_create_iterator_cf(m->db, it->ropts, m->cf[cf]);
    return it;
}

void meta_iter_free(struct meta_iter *it)
{
    if (!it)
        return;
    rocksdb_iter_destroy(it->it);
    rocksdb_readoptions_destroy(it->ropts);
    free(it->upper);
    free(it);
}

void meta_iter_seek(struct meta_iter *it, const void *key, size_t klen)
{
    rocksdb_iter_seek(it->it, key, klen);
}

void meta_iter_seek_past(struct meta_iter *it, const void *key, size_t klen)
{
    rocksdb_iter_seek(it->it, key, klen);
    if (!rocksdb_iter_valid(it->it))
        return;
    size_t n;
    const char *k = rocksdb_iter_key(it->it, &n);
    if (n == klen && memcmp(k, key, klen) == 0)
        rocksdb_iter_next(it->it);
}

void meta_iter_seek_first(struct meta_iter *it)
{
    rocksdb_iter_seek_to_first(it->it);
}

void meta_iter_seek_for_prev(struct meta_iter *it, const void *key, size_t klen)
{
    rocksdb_iter_seek_for_prev(it->it, key, klen);
}

int meta_iter_valid(struct meta_iter *it)
{
    return rocksdb_iter_valid(it->it);
}

void meta_iter_next(struct meta_iter *it)
{
    rocksdb_iter_next(it->it);
}

void meta_iter_prev(struct meta_iter *it)
{
    rocksdb_iter_prev(it->it);
}

const uint8_t *meta_iter_key(struct meta_iter *it, size_t *klen)
{
    return (const uint8_t *)rocksdb_iter_key(it->it, klen);
}

const uint8_t *meta_iter_value(struct meta_iter *it, size_t *vlen)
{
    return (const uint8_t *)rocksdb_iter_value(it->it, vlen);
}

int meta_iter_status(struct meta_iter *it)
{
    char *err = NULL;
    rocksdb_iter_get_error(it->it, &err);
    return err ? fail("iterate", err) : 0;
}

uint64_t meta_disk_bytes(struct meta *m)
{
    uint64_t total = 0;
    for (int i = 0; i < CF_COUNT; i++) {
        char *v = rocksdb_property_value_cf(m->db, m->cf[i], "rocksdb.total-sst-files-size");
        if (v) {
            total += strtoull(v, NULL, 10);
            free(v);
        }
    }
    return total;
}
