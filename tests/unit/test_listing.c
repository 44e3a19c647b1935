/*
 * test_listing.c — the live family (apply.c (5), metakey.h): a listing of a
 * directory now shows exactly the names it has, whatever names it had
 * before; a record older than a name's newest version, applied late (as a
 * replica's will be), leaves the name's live entry alone (apply.c (5)),
 * also inside one batch (apply.c (4)); and an index of the layout before the live family
 * (INDEX_LAYOUT 1) is rebuilt from the chunks at open instead of listing nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "apply.h"
#include "engine.h"
#include "format.h"
#include "fsops.h"
#include "hlc.h"
#include "log.h"
#include "meta.h"
#include "metakey.h"
#include "testutil.h"

#include <errno.h>
#include <rocksdb/c.h> /* drop_family: what no product code does */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CHURN 3000

struct names {
    char name[8][32];
    size_t n, total;
};

static int names_cb(void *ctx, const char *name, size_t nlen, uint64_t ino, uint32_t type,
                    const struct attr *a)
{
    (void)ino, (void)type, (void)a;
    struct names *l = ctx;
    if (l->n < 8 && nlen < sizeof l->name[0]) {
        memcpy(l->name[l->n], name, nlen);
        l->name[l->n++][nlen] = 0;
    }
    l->total++;
    return 0;
}

static struct names list(struct volume *v, const struct asof *at, const char *after)
{
    struct names l;
    memset(&l, 0, sizeof l);
    assert_int_equal(fs_readdir(v, at, ROOT_INO, after, after ? strlen(after) : 0, 0, names_cb, &l),
                     0);
    return l;
}

static struct volume *open_volume(const char *dir, struct engine **e, int create)
{
    struct engine_opts o = {.data_dir = dir};
    assert_int_equal(engine_open(e, &o), 0);
    if (create) {
        assert_int_equal(engine_volume_create(*e, "l", DURABILITY_LOCAL, 0), 0);
        uint8_t id[16];
        assert_int_equal(engine_chunk_create(*e, 64u << 20, id), 0);
        assert_int_equal(engine_chunk_assign(*e, id, "l"), 0);
    }
    struct volume *v;
    assert_int_equal(engine_volume(*e, "l", &v), 0);
    return v;
}

static void make(struct volume *v, const char *name)
{
    uint64_t ino;
    assert_int_equal(fs_mknod(v, ROOT_INO, name, S_IFREG | 0644, 0, 0, 0, NULL, &ino, NULL), 0);
}

/* Thousands of names come and go; the listing now shows the three that
 * stay, in order and page by page, and a past listing still shows the
 * names of its time. The same after a restart, after an open that replays
 * the churn into an index from before it, and after a rebuild. */
static void listing_now_shows_the_live_names_after_churn(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("listing-churn");
    struct engine *e;
    struct volume *v = open_volume(dir, &e, 1);
    make(v, "b-stays");
    engine_close(e); /* an index from before the churn, put back below */
    char *index = NULL, *cmd = NULL;
    assert_true(asprintf(&index, "%s/index", dir) > 0);
    assert_true(asprintf(&cmd, "cp -a %s %s.before", index, index) > 0);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    v = open_volume(dir, &e, 0);
    char name[32];
    struct asof then = ASOF_NOW;
    for (int i = 0; i < CHURN; i++) {
        snprintf(name, sizeof name, "churn-%d", i);
        make(v, name);
        if (i == CHURN / 2)
            then.hlc = hlc_now(engine_hlc(e));
        assert_int_equal(fs_unlink(v, ROOT_INO, name), 0);
    }
    make(v, "a-stays");
    make(v, "d-stays");
    struct attr a;
    assert_int_equal(fs_rename(v, ROOT_INO, "d-stays", ROOT_INO, "c-stays", 0), 0);
    for (int round = 0; round < 4; round++) {
        struct names l = list(v, &ASOF_NOW, NULL);
        assert_int_equal(l.total, 3);
        assert_string_equal(l.name[0], "a-stays");
        assert_string_equal(l.name[1], "b-stays");
        assert_string_equal(l.name[2], "c-stays");
        l = list(v, &ASOF_NOW, "a-stays");
        assert_int_equal(l.total, 2);
        assert_string_equal(l.name[0], "b-stays");
        l = list(v, &ASOF_NOW, "b");
        assert_int_equal(l.total, 2);
        assert_string_equal(l.name[0], "b-stays");
        l = list(v, &ASOF_NOW, "c-stays");
        assert_int_equal(l.total, 0);
        /* as of the middle of the churn: "b-stays" and the name just made */
        l = list(v, &then, NULL);
        assert_int_equal(l.total, 2);
        snprintf(name, sizeof name, "churn-%d", CHURN / 2);
        assert_string_equal(l.name[0], "b-stays");
        assert_string_equal(l.name[1], name);
        assert_int_equal(fs_getattr(v, &ASOF_NOW, ROOT_INO, &a), 0);
        assert_int_equal(a.size, 3); /* fsops.c (3) agrees */
        engine_close(e);
        if (round == 1) { /* the index from before the churn: the open replays it */
            tu_rmrf(index);
            assert_true(asprintf(&cmd, "%s.before", index) > 0);
            assert_int_equal(rename(cmd, index), 0);
            free(cmd);
        } else if (round == 2) { /* no index: the open rebuilds it from the chunks */
            tu_rmrf(index);
        }
        if (round < 3)
            v = open_volume(dir, &e, 0);
    }
    free(index);
    tu_rmrf(dir);
    free(dir);
}

/* Drops column family NAME of the RocksDB at PATH, as an index written
 * before that family existed lacks it. */
static void drop_family(const char *path, const char *name)
{
    rocksdb_options_t *o = rocksdb_options_create();
    char *err = NULL;
    size_t n = 0;
    char **names = rocksdb_list_column_families(o, path, &n, &err);
    assert_null(err);
    const rocksdb_options_t **opts = calloc(n, sizeof *opts);
    rocksdb_column_family_handle_t **h = calloc(n, sizeof *h);
    assert_true(opts && h);
    for (size_t i = 0; i < n; i++)
        opts[i] = o;
    rocksdb_t *db =
        rocksdb_open_column_families(o, path, (int)n, (const char *const *)names, opts, h, &err);
    assert_null(err);
    int dropped = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0) {
            rocksdb_drop_column_family(db, h[i], &err);
            assert_null(err);
            dropped = 1;
        }
        rocksdb_column_family_handle_destroy(h[i]);
    }
    assert_true(dropped);
    rocksdb_close(db);
    rocksdb_list_column_families_destroy(names, n);
    free(opts);
    free(h);
    rocksdb_options_destroy(o);
}

/* An index written before the live family existed (layout 1: its marker
 * says 1, and it has no live family) is rebuilt at open, so its
 * directories list their names. */
static void index_of_layout_1_is_rebuilt_at_open(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("listing-layout");
    struct engine *e;
    struct volume *v = open_volume(dir, &e, 1);
    make(v, "f1");
    make(v, "f2");
    engine_close(e);

    /* make it a layout-1 index: marker 1, and no live family at all */
    char *index = NULL;
    assert_true(asprintf(&index, "%s/index", dir) > 0);
    struct meta *m;
    assert_int_equal(meta_open(&m, index), 0);
    char *val;
    size_t vlen;
    assert_int_equal(
        meta_get(m, CF_DEFAULT, INDEX_MARKER_KEY, sizeof INDEX_MARKER_KEY - 1, &val, &vlen), 0);
    assert_int_equal(vlen, INDEX_MARKER_LEN);
    assert_int_equal((uint8_t)val[0], INDEX_LAYOUT);
    val[0] = 1;
    struct meta_batch *b = meta_batch_new();
    meta_batch_put(m, b, CF_DEFAULT, INDEX_MARKER_KEY, sizeof INDEX_MARKER_KEY - 1, val, vlen);
    free(val);
    assert_int_equal(meta_batch_commit(m, b, 1), 0);
    meta_batch_free(b);
    struct meta_iter *it = meta_iter_new(m, CF_LIVE, NULL, 0);
    int live = 0;
    for (meta_iter_seek(it, "", 0); meta_iter_valid(it); meta_iter_next(it))
        live++;
    meta_iter_free(it);
    assert_int_equal(live, 2);
    meta_close(m);
    drop_family(index, "live");

    v = open_volume(dir, &e, 0);
    assert_string_equal(engine_index_rebuilt(e), "layout");
    struct names l = list(v, &ASOF_NOW, NULL);
    assert_int_equal(l.total, 2);
    assert_string_equal(l.name[0], "f1");
    assert_string_equal(l.name[1], "f2");
    make(v, "f3"); /* and it goes on from there */
    assert_int_equal(list(v, &ASOF_NOW, NULL).total, 3);
    engine_close(e);
    assert_int_equal(meta_open(&m, index), 0);
    assert_int_equal(
        meta_get(m, CF_DEFAULT, INDEX_MARKER_KEY, sizeof INDEX_MARKER_KEY - 1, &val, &vlen), 0);
    assert_int_equal((uint8_t)val[0], INDEX_LAYOUT);
    free(val);
    meta_close(m);
    free(index);
    tu_rmrf(dir);
    free(dir);
}

/* ---- apply level: records from other origins, out of stamp order ---- */

static void dirent_record(struct record *r, uint32_t origin, uint64_t seq, uint64_t hlc,
                          const char *name, uint64_t child)
{
    record_init(r);
    r->kind = REC_KIND_VOLUME;
    r->dot.origin = origin;
    r->dot.seq = seq;
    r->hlc = hlc;
    struct effect *e = record_add(r, EFF_DIRENT);
    e->parent = ROOT_INO;
    e->str = name;
    e->str_len = (uint16_t)strlen(name);
    e->child = child;
    e->dtype = child ? S_IFREG >> 12 : 0;
}

/* The child the live entry of NAME holds, 0 when it has none. */
static uint64_t live_child(struct meta *m, const char *name)
{
    uint8_t key[KEY_MAX];
    size_t klen = mk_live(key, 1, ROOT_INO, name, strlen(name));
    char *val;
    size_t vlen;
    int rv = meta_get(m, CF_LIVE, key, klen, &val, &vlen);
    if (rv == -ENOENT)
        return 0;
    assert_int_equal(rv, 0);
    uint64_t seq, child;
    uint8_t dtype;
    assert_int_equal(iv_dirent_decode((const uint8_t *)val, vlen, &seq, &child, &dtype), 0);
    free(val);
    return child;
}

static void apply_one(struct apply_ctx *a, struct meta *m, struct meta_batch *b,
                      const struct record *r, uint64_t off)
{
    assert_int_equal(apply_record(a, r, 1, off, 64), 0);
    assert_int_equal(meta_batch_commit(m, b, 0), 0);
    meta_batch_clear(b);
    apply_batch_done(a);
}

/* FLOOR_KNOWN 1 applies as a rebuild does (the index starts empty, and a
 * record newer than all before it skips the look), 0 as a recovery of an
 * index that was behind. */
static void apply_out_of_order(int floor_known)
{
    char *dir = tu_tmpdir("listing-apply");
    struct meta *m;
    assert_int_equal(meta_open(&m, dir), 0);
    struct meta_batch *b = meta_batch_new();
    struct apply_ctx a;
    apply_init(&a, m, b, 1);
    a.floor_known = floor_known;
    struct record made, gone_earlier, gone_later;
    dirent_record(&made, 2, 1, 2000, "x", 5);
    dirent_record(&gone_earlier, 3, 1, 1000, "x", 0); /* a removal from before the create */
    dirent_record(&gone_later, 3, 2, 3000, "x", 0);

    apply_one(&a, m, b, &made, 100);
    assert_int_equal(live_child(m, "x"), 5);
    apply_one(&a, m, b, &gone_earlier, 200);
    assert_int_equal(live_child(m, "x"), 5); /* older than the create: no effect */
    apply_one(&a, m, b, &gone_later, 300);
    assert_int_equal(live_child(m, "x"), 0);

    /* in one batch, as replay applies them: a record of a name waits for the
     * commit of a newer batch-mate's (its look reads the committed index) */
    struct record again, stale, other, newest;
    dirent_record(&again, 2, 2, 4000, "y", 7);
    dirent_record(&stale, 3, 3, 3500, "y", 0);
    dirent_record(&other, 3, 4, 3600, "z", 8);  /* another name does not wait */
    dirent_record(&newest, 2, 3, 4500, "z", 9); /* nor a newer record of a name */
    const struct record *order[] = {&again, &stale, &other, &newest};
    const int waits[] = {0, 1, 0, 0};
    for (int i = 0; i < 4; i++) {
        int w = apply_conflicts(&a, order[i]);
        assert_int_equal(w, waits[i]);
        if (w) {
            assert_int_equal(meta_batch_commit(m, b, 0), 0);
            meta_batch_clear(b);
            apply_batch_done(&a);
        }
        assert_int_equal(apply_record(&a, order[i], 1, 400 + 100 * (uint64_t)i, 64), 0);
    }
    assert_int_equal(meta_batch_commit(m, b, 0), 0);
    meta_batch_clear(b);
    apply_batch_done(&a);
    assert_int_equal(live_child(m, "y"), 7); /* the stale removal saw the create */
    assert_int_equal(live_child(m, "z"), 9);

    record_fini(&made);
    record_fini(&gone_earlier);
    record_fini(&gone_later);
    record_fini(&again);
    record_fini(&stale);
    record_fini(&other);
    record_fini(&newest);
    apply_fini(&a);
    meta_batch_free(b);
    meta_close(m);
    tu_rmrf(dir);
    free(dir);
}

static void older_record_applied_late_leaves_the_live_name(void **state)
{
    (void)state;
    apply_out_of_order(0);
    apply_out_of_order(1);
}

int main(void)
{
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(listing_now_shows_the_live_names_after_churn),
        cmocka_unit_test(index_of_layout_1_is_rebuilt_at_open),
        cmocka_unit_test(older_record_applied_late_leaves_the_live_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
