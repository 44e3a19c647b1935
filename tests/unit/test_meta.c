/*
 * test_meta.c — unit tests for daemon/meta.c (the RocksDB index), on a real
 * database under tu_tmpdir.
 *
 * Covers meta.c's invariants: (1) every column family exists after open and
 * they are separate key spaces; (3) a batch is applied atomically: nothing
 * of it is visible before meta_batch_commit, all of it after, across several
 * column families, puts and deletes together.
 *  - open/close/reopen keeps committed data (with and without sync, and after
 *    meta_flush); a second open of an open index fails (-EIO, RocksDB LOCK);
 *  - meta_get: values with NUL bytes and empty values, -ENOENT when absent
 *    or deleted;
 *  - batches: count, clear, reuse after commit;
 *  - iterators: seek, seek_first, seek_for_prev, next, prev, the exclusive
 *    upper bound (copied at creation: the caller's buffer may change), keys
 *    past the bound never appear, status 0;
 *  - meta_destroy removes the index: a reopen finds nothing;
 *  - (5) a flushed table file of deletions is compacted away without more
 *    writes (the index's table files shrink below the names' own size).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "meta.h"
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
    char *dir;
    char *path; /* dir/index */
    struct meta *m;
    struct meta_iter *it; /* freed by teardown if a check failed first */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->dir = tu_tmpdir("test_meta");
    if (asprintf(&f->path, "%s/index", f->dir) < 0)
        return -1;
    if (meta_open(&f->m, f->path) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    meta_iter_free(f->it); /* RocksDB asserts on close with a live iterator */
    meta_close(f->m);
    tu_rmrf(f->dir);
    free(f->dir);
    free(f->path);
    free(f);
    return 0;
}

static struct meta_iter *iter_new(struct fx *f, enum meta_cf cf, const void *upper, size_t ulen)
{
    meta_iter_free(f->it);
    f->it = meta_iter_new(f->m, cf, upper, ulen);
    return f->it;
}

static void iter_done(struct fx *f)
{
    meta_iter_free(f->it);
    f->it = NULL;
}

static void reopen(struct fx *f)
{
    meta_close(f->m);
    f->m = NULL;
    assert_int_equal(meta_open(&f->m, f->path), 0);
}

static void put1(struct meta *m, enum meta_cf cf, const char *k, const char *v, int sync)
{
    struct meta_batch *b = meta_batch_new();
    meta_batch_put(m, b, cf, k, strlen(k), v, strlen(v));
    assert_int_equal(meta_batch_commit(m, b, sync), 0);
    meta_batch_free(b);
}

static void check_value(struct meta *m, enum meta_cf cf, const char *k, const char *want)
{
    char *v = NULL;
    size_t vlen = 0;
    int rv = meta_get(m, cf, k, strlen(k), &v, &vlen);
    if (rv != 0)
        fail_msg("get cf %d \"%s\": rv %d, want \"%s\"", cf, k, rv, want);
    assert_int_equal(vlen, strlen(want));
    assert_memory_equal(v, want, vlen);
    free(v);
}

static void check_absent(struct meta *m, enum meta_cf cf, const char *k)
{
    char *v = NULL;
    size_t vlen = 0;
    int rv = meta_get(m, cf, k, strlen(k), &v, &vlen);
    if (rv != -ENOENT)
        fail_msg("get cf %d \"%s\": rv %d (%.*s), want -ENOENT", cf, k, rv, rv == 0 ? (int)vlen : 0,
                 rv == 0 ? v : "");
    free(v);
}

/* ---- open, get, persistence ---- */

static void meta_get_of_a_missing_key_is_enoent(void **state)
{
    struct fx *f = *state;
    for (int cf = 0; cf < CF_COUNT; cf++)
        check_absent(f->m, (enum meta_cf)cf, "nothing");
}

static void meta_column_families_are_separate_key_spaces(void **state)
{
    struct fx *f = *state;
    for (int cf = 0; cf < CF_COUNT; cf++) {
        char v[16];
        snprintf(v, sizeof v, "value-%d", cf);
        put1(f->m, (enum meta_cf)cf, "same-key", v, 0);
    }
    for (int cf = 0; cf < CF_COUNT; cf++) {
        char v[16];
        snprintf(v, sizeof v, "value-%d", cf);
        check_value(f->m, (enum meta_cf)cf, "same-key", v);
    }
}

static void meta_values_keep_nul_bytes_and_may_be_empty(void **state)
{
    struct fx *f = *state;
    static const uint8_t key[] = {0, 1, 0, 0xff};
    static const uint8_t val[] = {0, 0, 7, 0, 0xfe};
    struct meta_batch *b = meta_batch_new();
    meta_batch_put(f->m, b, CF_INODES, key, sizeof key, val, sizeof val);
    meta_batch_put(f->m, b, CF_INODES, "empty", 5, "", 0);
    assert_int_equal(meta_batch_commit(f->m, b, 1), 0);
    meta_batch_free(b);

    char *v = NULL;
    size_t vlen = 99;
    assert_int_equal(meta_get(f->m, CF_INODES, key, sizeof key, &v, &vlen), 0);
    assert_int_equal(vlen, sizeof val);
    assert_memory_equal(v, val, sizeof val);
    free(v);
    assert_int_equal(meta_get(f->m, CF_INODES, key, sizeof key - 1, &v, &vlen), -ENOENT);
    v = NULL;
    vlen = 99;
    assert_int_equal(meta_get(f->m, CF_INODES, "empty", 5, &v, &vlen), 0);
    assert_int_equal(vlen, 0);
    free(v);
}

static void meta_reopen_keeps_committed_data(void **state)
{
    struct fx *f = *state;
    put1(f->m, CF_INODES, "synced", "1", 1);
    put1(f->m, CF_DIRENTS, "unsynced", "2", 0);
    put1(f->m, CF_CHUNKS, "wal-synced", "3", 0);
    assert_int_equal(meta_sync(f->m), 0);
    reopen(f);
    check_value(f->m, CF_INODES, "synced", "1");
    check_value(f->m, CF_DIRENTS, "unsynced", "2");
    check_value(f->m, CF_CHUNKS, "wal-synced", "3");

    /* and from table files after a flush */
    put1(f->m, CF_SNAPSHOTS, "flushed", "4", 0);
    assert_int_equal(meta_flush(f->m), 0);
    reopen(f);
    check_value(f->m, CF_SNAPSHOTS, "flushed", "4");
    check_value(f->m, CF_INODES, "synced", "1");
    check_absent(f->m, CF_INODES, "flushed");
}

static void meta_second_open_of_an_open_index_fails(void **state)
{
    struct fx *f = *state;
    struct meta *m2 = NULL;
    assert_int_equal(meta_open(&m2, f->path), -EIO);
    assert_null(m2);
    /* the first handle is unharmed */
    put1(f->m, CF_INODES, "k", "v", 0);
    check_value(f->m, CF_INODES, "k", "v");
}

static void meta_open_of_a_file_fails_with_eio(void **state)
{
    struct fx *f = *state;
    char *file = NULL;
    assert_true(asprintf(&file, "%s/plain", f->dir) > 0);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    struct meta *m2 = NULL;
    assert_int_equal(meta_open(&m2, file), -EIO);
    free(file);
}

/* ---- batches ---- */

static void meta_batch_is_invisible_until_committed_then_all_visible(void **state)
{
    struct fx *f = *state;
    put1(f->m, CF_EXTENTS, "old", "gone soon", 0);

    struct meta_batch *b = meta_batch_new();
    assert_int_equal(meta_batch_count(b), 0);
    meta_batch_put(f->m, b, CF_INODES, "i1", 2, "inode", 5);
    meta_batch_put(f->m, b, CF_DIRENTS, "d1", 2, "dirent", 6);
    meta_batch_put(f->m, b, CF_RECORDS, "r1", 2, "record", 6);
    meta_batch_put(f->m, b, CF_VOLUMES, "v1", 2, "volume", 6);
    meta_batch_delete(f->m, b, CF_EXTENTS, "old", 3);
    assert_int_equal(meta_batch_count(b), 5);

    /* (3) nothing yet */
    check_absent(f->m, CF_INODES, "i1");
    check_absent(f->m, CF_DIRENTS, "d1");
    check_absent(f->m, CF_RECORDS, "r1");
    check_absent(f->m, CF_VOLUMES, "v1");
    check_value(f->m, CF_EXTENTS, "old", "gone soon");

    assert_int_equal(meta_batch_commit(f->m, b, 1), 0);
    check_value(f->m, CF_INODES, "i1", "inode");
    check_value(f->m, CF_DIRENTS, "d1", "dirent");
    check_value(f->m, CF_RECORDS, "r1", "record");
    check_value(f->m, CF_VOLUMES, "v1", "volume");
    check_absent(f->m, CF_EXTENTS, "old");
    meta_batch_free(b);

    reopen(f);
    check_value(f->m, CF_INODES, "i1", "inode");
    check_value(f->m, CF_VOLUMES, "v1", "volume");
    check_absent(f->m, CF_EXTENTS, "old");
}

static void meta_batch_later_op_on_a_key_wins(void **state)
{
    struct fx *f = *state;
    struct meta_batch *b = meta_batch_new();
    meta_batch_put(f->m, b, CF_INODES, "k", 1, "first", 5);
    meta_batch_put(f->m, b, CF_INODES, "k", 1, "second", 6);
    meta_batch_put(f->m, b, CF_INODES, "d", 1, "doomed", 6);
    meta_batch_delete(f->m, b, CF_INODES, "d", 1);
    assert_int_equal(meta_batch_commit(f->m, b, 0), 0);
    meta_batch_free(b);
    check_value(f->m, CF_INODES, "k", "second");
    check_absent(f->m, CF_INODES, "d");
}

static void meta_batch_clear_drops_pending_ops_and_batches_are_reusable(void **state)
{
    struct fx *f = *state;
    struct meta_batch *b = meta_batch_new();
    meta_batch_put(f->m, b, CF_INODES, "dropped", 7, "x", 1);
    meta_batch_clear(b);
    assert_int_equal(meta_batch_count(b), 0);
    assert_int_equal(meta_batch_commit(f->m, b, 0), 0); /* empty commit */
    check_absent(f->m, CF_INODES, "dropped");

    meta_batch_put(f->m, b, CF_INODES, "a", 1, "1", 1);
    assert_int_equal(meta_batch_commit(f->m, b, 0), 0);
    meta_batch_clear(b);
    meta_batch_put(f->m, b, CF_INODES, "b", 1, "2", 1);
    assert_int_equal(meta_batch_count(b), 1);
    assert_int_equal(meta_batch_commit(f->m, b, 0), 0);
    meta_batch_free(b);
    meta_batch_free(NULL);
    check_value(f->m, CF_INODES, "a", "1");
    check_value(f->m, CF_INODES, "b", "2");
}

static void meta_delete_removes_a_key(void **state)
{
    struct fx *f = *state;
    put1(f->m, CF_XATTRS, "x", "v", 0);
    put1(f->m, CF_XATTRS, "y", "w", 0);
    struct meta_batch *b = meta_batch_new();
    meta_batch_delete(f->m, b, CF_XATTRS, "x", 1);
    meta_batch_delete(f->m, b, CF_XATTRS, "never-there", 11);
    assert_int_equal(meta_batch_commit(f->m, b, 0), 0);
    meta_batch_free(b);
    check_absent(f->m, CF_XATTRS, "x");
    check_value(f->m, CF_XATTRS, "y", "w");
    assert_int_equal(meta_flush(f->m), 0);
    reopen(f);
    check_absent(f->m, CF_XATTRS, "x");
    check_value(f->m, CF_XATTRS, "y", "w");
}

/* ---- iterators ---- */

/* Keys "k00" .. "k18" step 2 (k00 k02 .. k18) in CF_EXTENTS, and neighbours
 * "j99" and "l00" in the same family, "k05" in another. */
static void fill_keys(struct fx *f)
{
    struct meta_batch *b = meta_batch_new();
    for (int i = 0; i < 20; i += 2) {
        char k[8], v[8];
        snprintf(k, sizeof k, "k%02d", i);
        snprintf(v, sizeof v, "v%02d", i);
        meta_batch_put(f->m, b, CF_EXTENTS, k, 3, v, 3);
    }
    meta_batch_put(f->m, b, CF_EXTENTS, "j99", 3, "before", 6);
    meta_batch_put(f->m, b, CF_EXTENTS, "l00", 3, "after", 5);
    meta_batch_put(f->m, b, CF_INODES, "k05", 3, "other cf", 8);
    assert_int_equal(meta_batch_commit(f->m, b, 0), 0);
    meta_batch_free(b);
}

static void check_at(struct meta_iter *it, const char *key)
{
    if (!key) {
        if (meta_iter_valid(it)) {
            size_t kl;
            const uint8_t *k = meta_iter_key(it, &kl);
            fail_msg("iterator at \"%.*s\", want invalid", (int)kl, (const char *)k);
        }
        return;
    }
    if (!meta_iter_valid(it))
        fail_msg("iterator invalid, want \"%s\"", key);
    size_t kl, vl;
    const uint8_t *k = meta_iter_key(it, &kl);
    if (kl != strlen(key) || memcmp(k, key, kl) != 0)
        fail_msg("iterator at \"%.*s\", want \"%s\"", (int)kl, (const char *)k, key);
    const uint8_t *v = meta_iter_value(it, &vl);
    if (key[0] == 'k') {
        assert_int_equal(vl, 3);
        assert_int_equal(v[0], 'v');
        assert_memory_equal(v + 1, key + 1, 2);
    }
}

static void meta_iter_seek_next_and_prev_walk_in_key_order(void **state)
{
    struct fx *f = *state;
    fill_keys(f);
    struct meta_iter *it = iter_new(f, CF_EXTENTS, NULL, 0);
    meta_iter_seek_first(it);
    check_at(it, "j99");
    meta_iter_seek(it, "k05", 3); /* between keys: the next one */
    check_at(it, "k06");
    meta_iter_next(it);
    check_at(it, "k08");
    meta_iter_prev(it);
    check_at(it, "k06");
    meta_iter_prev(it);
    check_at(it, "k04");
    meta_iter_seek(it, "k10", 3); /* exact */
    check_at(it, "k10");
    meta_iter_seek(it, "k", 1); /* a prefix sorts before its extensions */
    check_at(it, "k00");
    meta_iter_seek(it, "m", 1);
    check_at(it, NULL);
    assert_int_equal(meta_iter_status(it), 0);

    /* a full walk sees 12 keys in order; nothing of CF_INODES */
    int n = 0;
    char prev[8] = "";
    for (meta_iter_seek_first(it); meta_iter_valid(it); meta_iter_next(it), n++) {
        size_t kl;
        const uint8_t *k = meta_iter_key(it, &kl);
        assert_int_equal(kl, 3);
        assert_true(memcmp(prev, k, 3) < 0);
        memcpy(prev, k, 3);
    }
    assert_int_equal(n, 12);
    iter_done(f);
    meta_iter_free(NULL);
}

static void meta_iter_seek_for_prev_finds_the_last_key_at_or_before(void **state)
{
    struct fx *f = *state;
    fill_keys(f);
    struct meta_iter *it = iter_new(f, CF_EXTENTS, NULL, 0);
    meta_iter_seek_for_prev(it, "k07", 3);
    check_at(it, "k06");
    meta_iter_seek_for_prev(it, "k08", 3); /* exact */
    check_at(it, "k08");
    meta_iter_prev(it);
    check_at(it, "k06");
    meta_iter_next(it);
    meta_iter_next(it);
    check_at(it, "k10");
    meta_iter_seek_for_prev(it, "k00", 3);
    check_at(it, "k00");
    meta_iter_prev(it);
    check_at(it, "j99");
    meta_iter_prev(it);
    check_at(it, NULL);
    meta_iter_seek_for_prev(it, "a", 1);
    check_at(it, NULL);
    meta_iter_seek_for_prev(it, "zzz", 3);
    check_at(it, "l00");
    assert_int_equal(meta_iter_status(it), 0);
    iter_done(f);
}

static void meta_iter_stops_at_the_upper_bound(void **state)
{
    struct fx *f = *state;
    fill_keys(f);
    char upper[4] = "k10"; /* exclusive */
    struct meta_iter *it = iter_new(f, CF_EXTENTS, upper, 3);
    memcpy(upper, "zzz", 3); /* the bound was copied: this changes nothing */

    meta_iter_seek(it, "k05", 3);
    check_at(it, "k06");
    meta_iter_next(it);
    check_at(it, "k08");
    meta_iter_next(it);
    check_at(it, NULL); /* k10 is the bound itself */

    meta_iter_seek(it, "k10", 3);
    check_at(it, NULL);
    meta_iter_seek(it, "k09", 3);
    check_at(it, NULL);

    /* backwards from inside the range */
    meta_iter_seek_for_prev(it, "k09", 3);
    check_at(it, "k08");
    meta_iter_prev(it);
    check_at(it, "k06");

    /* a walk from the start sees j99 k00 .. k08 and nothing past */
    int n = 0;
    for (meta_iter_seek_first(it); meta_iter_valid(it); meta_iter_next(it)) {
        size_t kl;
        const uint8_t *k = meta_iter_key(it, &kl);
        assert_true(memcmp(k, "k10", 3) < 0);
        n++;
    }
    assert_int_equal(n, 6);
    assert_int_equal(meta_iter_status(it), 0);
    iter_done(f);

    /* a bound shorter than the keys: "k" excludes every k.. key */
    it = iter_new(f, CF_EXTENTS, "k", 1);
    meta_iter_seek_first(it);
    check_at(it, "j99");
    meta_iter_next(it);
    check_at(it, NULL);
    iter_done(f);
}

static void meta_iter_sees_the_index_as_of_its_creation(void **state)
{
    struct fx *f = *state;
    fill_keys(f);
    struct meta_iter *it = iter_new(f, CF_EXTENTS, NULL, 0);
    put1(f->m, CF_EXTENTS, "k05", "v05", 0); /* after the iterator was made */
    meta_iter_seek(it, "k04", 3);
    check_at(it, "k04");
    meta_iter_next(it);
    check_at(it, "k06");
    iter_done(f);
    it = iter_new(f, CF_EXTENTS, NULL, 0);
    meta_iter_seek(it, "k04", 3);
    meta_iter_next(it);
    check_at(it, "k05");
    iter_done(f);
}

/* ---- destroy ---- */

static void meta_destroy_removes_the_index(void **state)
{
    struct fx *f = *state;
    fill_keys(f);
    put1(f->m, CF_INODES, "i", "v", 1);
    assert_int_equal(meta_flush(f->m), 0);
    assert_true(meta_disk_bytes(f->m) > 0);
    meta_close(f->m);
    f->m = NULL;

    assert_int_equal(meta_destroy(f->path), 0);
    char *current = NULL;
    assert_true(asprintf(&current, "%s/CURRENT", f->path) > 0);
    assert_int_equal(access(current, F_OK), -1);
    free(current);

    assert_int_equal(meta_open(&f->m, f->path), 0);
    check_absent(f->m, CF_INODES, "i");
    check_absent(f->m, CF_EXTENTS, "k00");
    struct meta_iter *it = iter_new(f, CF_EXTENTS, NULL, 0);
    meta_iter_seek_first(it);
    check_at(it, NULL);
    iter_done(f);
}

/* (5) A table file of deletions is compacted away on its own: two files
 * (the names, then their removal) are far from the level's size trigger, so
 * without (5) both would stay until more data came. */
#define DEL_KEYS 20000
#define DEL_WAIT_MS 20000

static void put_or_delete_all(struct meta *m, int del)
{
    struct meta_batch *b = meta_batch_new();
    char k[32], v[32];
    for (int i = 0; i < DEL_KEYS; i++) {
        int kl = snprintf(k, sizeof k, "dir/name-%06d", i);
        if (del) {
            meta_batch_delete(m, b, CF_LIVE, k, (size_t)kl);
        } else {
            int vl = snprintf(v, sizeof v, "child-%d", i * 7919);
            meta_batch_put(m, b, CF_LIVE, k, (size_t)kl, v, (size_t)vl);
        }
    }
    assert_int_equal(meta_batch_commit(m, b, 0), 0);
    meta_batch_free(b);
    assert_int_equal(meta_flush(m), 0);
}

static void meta_a_table_file_of_deletions_is_compacted_away(void **state)
{
    struct fx *f = *state;
    put_or_delete_all(f->m, 0);
    uint64_t names = meta_disk_bytes(f->m);
    assert_true(names > 0);
    put_or_delete_all(f->m, 1);
    uint64_t both = meta_disk_bytes(f->m);
    int waited = 0;
    while (meta_disk_bytes(f->m) >= names && waited < DEL_WAIT_MS) { /* bounded */
        usleep(50 * 1000);
        waited += 50;
    }
    uint64_t after = meta_disk_bytes(f->m);
    if (after >= names)
        fail_msg("index table files: %llu bytes of names, %llu with their deletions, still %llu"
                 " after %d ms: the deletions were not compacted",
                 (unsigned long long)names, (unsigned long long)both, (unsigned long long)after,
                 waited);
    check_absent(f->m, CF_LIVE, "dir/name-000000");
    check_absent(f->m, CF_LIVE, "dir/name-019999");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(meta_get_of_a_missing_key_is_enoent),
        T(meta_column_families_are_separate_key_spaces),
        T(meta_values_keep_nul_bytes_and_may_be_empty),
        T(meta_reopen_keeps_committed_data),
        T(meta_second_open_of_an_open_index_fails),
        T(meta_open_of_a_file_fails_with_eio),
        T(meta_batch_is_invisible_until_committed_then_all_visible),
        T(meta_batch_later_op_on_a_key_wins),
        T(meta_batch_clear_drops_pending_ops_and_batches_are_reusable),
        T(meta_delete_removes_a_key),
        T(meta_iter_seek_next_and_prev_walk_in_key_order),
        T(meta_iter_seek_for_prev_finds_the_last_key_at_or_before),
        T(meta_iter_stops_at_the_upper_bound),
        T(meta_iter_sees_the_index_as_of_its_creation),
        T(meta_destroy_removes_the_index),
        T(meta_a_table_file_of_deletions_is_compacted_away),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
