/*
 * test_node.c — unit tests for daemon/node.c (node identity and data
 * directory lock), on real directories under tu_tmpdir.
 *
 * Covers node.c's invariants: (1) the id never changes once written: a
 * reopen returns it, and a malformed node.id is refused with CAIRN_EFORMAT
 * and left byte-for-byte as it was (never replaced by a fresh id); (2) while
 * a struct node is open nobody else holds the directory: a second node_open
 * (a second fd in this same process: flock locks belong to the open file
 * description) gets -EBUSY, and node_close or a failed open releases it.
 * Also: first open creates the directory tree and a node.id holding an id in
 * 1..NODE_ID_MAX, ids of different directories differ, no temporary file is
 * left behind, a failed write of node.id (CAIRN_FAULT) leaves no id behind,
 * and node_mkdirs (nested, idempotent, refusing a file in the way, an empty
 * path).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cairn_err.h"
#include "fault.h"
#include "node.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
    char *tmp;  /* the scratch directory */
    char *data; /* tmp/data: the data directory, not created yet */
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->tmp = tu_tmpdir("test_node");
    if (asprintf(&f->data, "%s/data", f->tmp) < 0)
        return -1;
#ifdef CAIRN_FAULT
    fault_reset();
#endif
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
#ifdef CAIRN_FAULT
    fault_reset();
#endif
    tu_rmrf(f->tmp);
    free(f->tmp);
    free(f->data);
    free(f);
    return 0;
}

static char *path2(const char *a, const char *b)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s", a, b) < 0)
        abort();
    return p;
}

/* The whole file at PATH (NUL-terminated), or NULL if it cannot be read. */
static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    char *buf = malloc(4097);
    size_t n = fread(buf, 1, 4096, fp);
    fclose(fp);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static void spew(const char *path, const char *text, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- identity ---- */

static void node_first_open_creates_an_id_file(void **state)
{
    struct fx *f = *state;
    char *deep = path2(f->data, "a/b/c");
    struct node n;
    assert_int_equal(node_open(&n, deep), 0);
    assert_true(n.id >= 1 && n.id <= NODE_ID_MAX);
    assert_string_equal(n.dir, deep);
    assert_true(n.lock_fd >= 0);
    assert_true(is_dir(deep));

    char *idpath = path2(deep, "node.id");
    char *text = slurp(idpath, NULL);
    assert_non_null(text);
    char want[64];
    snprintf(want, sizeof want, "\nid = %u\n", n.id);
    assert_non_null(strstr(text, "[node]\n"));
    assert_non_null(strstr(text, "\nformat = 1\n"));
    assert_non_null(strstr(text, want));

    /* only LOCK and node.id: no temporary file left behind */
    DIR *d = opendir(deep);
    assert_non_null(d);
    int entries = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        entries++;
        if (strcmp(de->d_name, "LOCK") && strcmp(de->d_name, "node.id"))
            fail_msg("unexpected file %s in the data directory", de->d_name);
    }
    closedir(d);
    assert_int_equal(entries, 2);

    node_close(&n);
    assert_int_equal(n.lock_fd, -1);
    assert_null(n.dir);
    node_close(&n); /* twice is harmless */
    free(text);
    free(idpath);
    free(deep);
}

static void node_reopen_returns_the_same_id(void **state)
{
    struct fx *f = *state;
    struct node n;
    assert_int_equal(node_open(&n, f->data), 0);
    uint32_t id = n.id;
    node_close(&n);

    char *idpath = path2(f->data, "node.id");
    size_t len0 = 0, len1 = 0;
    char *before = slurp(idpath, &len0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(node_open(&n, f->data), 0);
        assert_int_equal(n.id, id);
        node_close(&n);
    }
    char *after = slurp(idpath, &len1);
    assert_int_equal(len0, len1);
    assert_memory_equal(before, after, len0);
    free(before);
    free(after);
    free(idpath);
}

/* A node.id that exists but cannot be opened (here a symlink loop: ELOOP;
 * in life EACCES, EMFILE, EIO) is an error, never "no id yet": a new id
 * written over it would change the node's identity. */
static void node_id_file_that_cannot_be_opened_is_an_error_and_kept(void **state)
{
    struct fx *f = *state;
    char *idpath = path2(f->data, "node.id");
    assert_int_equal(node_mkdirs(f->data), 0);
    assert_int_equal(symlink("node.id", idpath), 0);
    struct node n;
    assert_int_equal(node_open(&n, f->data), -ELOOP);
    struct stat st;
    assert_int_equal(lstat(idpath, &st), 0);
    assert_true(S_ISLNK(st.st_mode)); /* not replaced by a new id file */
    free(idpath);
}

static void node_accepts_a_hand_written_id_file(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *text;
        uint32_t id;
    } t[] = {
        {"[node]\nformat = 1\nid = 1\n", 1},
        {"[node]\nformat = 1\nid = 16777215\n", NODE_ID_MAX},
        {"# comment\n[node]\nid=42\nformat=1\nextra = ignored\n[other]\nid = 7\n", 42},
    };
    char *idpath = path2(f->data, "node.id");
    assert_int_equal(node_mkdirs(f->data), 0);
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        spew(idpath, t[i].text, strlen(t[i].text));
        struct node n;
        assert_int_equal(node_open(&n, f->data), 0);
        assert_int_equal(n.id, t[i].id);
        node_close(&n);
    }
    free(idpath);
}

static void node_different_directories_get_different_ids(void **state)
{
    struct fx *f = *state;
    uint32_t ids[8];
    for (int i = 0; i < 8; i++) {
        char sub[16];
        snprintf(sub, sizeof sub, "d%d", i);
        char *dir = path2(f->tmp, sub);
        struct node n;
        assert_int_equal(node_open(&n, dir), 0);
        ids[i] = n.id;
        node_close(&n);
        free(dir);
    }
    /* random 24-bit ids: a collision among 8 has probability ~2e-6 */
    for (int i = 0; i < 8; i++)
        for (int j = i + 1; j < 8; j++)
            assert_int_not_equal(ids[i], ids[j]);
}

static void node_malformed_id_file_is_eformat_and_kept(void **state)
{
    struct fx *f = *state;
    static const char *bad[] = {
        "",                                      /* empty */
        "hello world\n",                         /* garbage */
        "\x01\x02\xff\xfe binary\n",             /* garbage */
        "[node]\nformat = 2\nid = 5\n",          /* a newer format */
        "[node]\nformat = 0\nid = 5\n",          /* bad format number */
        "[node]\nformat = one\nid = 5\n",        /* bad format number */
        "[node]\nformat = 1x\nid = 5\n",         /* bad format number */
        "[node]\nid = 5\n",                      /* no format */
        "[node]\nformat = 1\n",                  /* no id */
        "[node]\nformat = 1\nid = 0\n",          /* id 0 */
        "[node]\nformat = 1\nid = -1\n",         /* negative */
        "[node]\nformat = 1\nid = 16777216\n",   /* NODE_ID_MAX + 1 */
        "[node]\nformat = 1\nid = 4294967297\n", /* 2^32 + 1: not cut to 1 */
        "[node]\nformat = 1\nid = 99999999999999999999999\n",
        "[node]\nformat = 1\nid = 5x\n",                 /* trailing garbage */
        "[node]\nformat = 1\nid = 0x10\n",               /* not decimal */
        "[node]\nformat = 1\nid =\n",                    /* empty */
        "[other]\nformat = 1\nid = 5\n",                 /* wrong section */
        "format = 1\nid = 5\n",                          /* no section */
        "[node]\nformat = 1\nid = 5\nthis is not ini\n", /* syntax error */
    };
    char *idpath = path2(f->data, "node.id");
    assert_int_equal(node_mkdirs(f->data), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = strlen(bad[i]);
        spew(idpath, bad[i], len);
        struct node n;
        int rv = node_open(&n, f->data);
        if (rv != CAIRN_EFORMAT)
            fail_msg("node.id \"%s\": rv %d (id %u), want CAIRN_EFORMAT", bad[i], rv, n.id);
        assert_int_equal(n.lock_fd, -1);
        assert_null(n.dir);
        size_t got_len = 0;
        char *got = slurp(idpath, &got_len);
        assert_non_null(got);
        if (got_len != len || memcmp(got, bad[i], len) != 0)
            fail_msg("node.id \"%s\" was rewritten to \"%s\"", bad[i], got);
        free(got);
    }
    /* the failed opens released the lock: a good file opens */
    spew(idpath, "[node]\nformat = 1\nid = 77\n", 26);
    struct node n;
    assert_int_equal(node_open(&n, f->data), 0);
    assert_int_equal(n.id, 77);
    node_close(&n);
    free(idpath);
}

static void node_id_file_that_is_a_directory_is_refused(void **state)
{
    struct fx *f = *state;
    char *idpath = path2(f->data, "node.id");
    assert_int_equal(node_mkdirs(idpath), 0);
    struct node n;
    int rv = node_open(&n, f->data);
    assert_true(rv < 0);
    assert_true(is_dir(idpath)); /* not replaced */
    free(idpath);
}

/* ---- the lock ---- */

static void node_second_open_of_a_held_directory_is_ebusy(void **state)
{
    struct fx *f = *state;
    struct node a, b;
    assert_int_equal(node_open(&a, f->data), 0);
    assert_int_equal(node_open(&b, f->data), -EBUSY);
    assert_int_equal(b.lock_fd, -1);
    assert_null(b.dir);
    assert_int_equal(node_open(&b, f->data), -EBUSY); /* still held */
    node_close(&a);
    assert_int_equal(node_open(&b, f->data), 0);
    assert_int_equal(b.id, a.id);
    node_close(&b);
}

static void node_lock_is_held_against_other_open_file_descriptions(void **state)
{
    struct fx *f = *state;
    struct node a;
    assert_int_equal(node_open(&a, f->data), 0);
    char *lock = path2(f->data, "LOCK");
    int fd = open(lock, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), -1);
    assert_int_equal(errno, EWOULDBLOCK);
    node_close(&a);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    /* and the other way round: an outside holder makes node_open -EBUSY */
    assert_int_equal(node_open(&a, f->data), -EBUSY);
    close(fd);
    assert_int_equal(node_open(&a, f->data), 0);
    node_close(&a);
    free(lock);
}

#ifdef CAIRN_FAULT
static void node_failed_id_write_leaves_no_id_behind(void **state)
{
    struct fx *f = *state;
    static const char *points[] = {"pwrite", "fsync"};
    char *idpath = path2(f->data, "node.id");
    char *tmppath = path2(f->data, "node.id.tmp");
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
        fault_reset();
        fault_arm(points[i], 1, -EIO, 0);
        struct node n;
        int rv = node_open(&n, f->data);
        if (rv != -EIO)
            fail_msg("fault %s: rv %d, want -EIO", points[i], rv);
        assert_true(fault_hits(points[i]) >= 1);
        assert_int_equal(access(idpath, F_OK), -1);
        assert_int_equal(access(tmppath, F_OK), -1);
        assert_int_equal(n.lock_fd, -1);
        fault_reset();
        /* the lock was released and the next open creates the id */
        assert_int_equal(node_open(&n, f->data), 0);
        assert_true(n.id >= 1 && n.id <= NODE_ID_MAX);
        node_close(&n);
        assert_int_equal(unlink(idpath), 0);
    }
    free(idpath);
    free(tmppath);
}
#endif

static void node_open_below_a_file_fails_cleanly(void **state)
{
    struct fx *f = *state;
    char *file = path2(f->tmp, "plain");
    spew(file, "x", 1);
    char *below = path2(file, "data");
    struct node n;
    assert_int_equal(node_open(&n, below), -ENOTDIR);
    assert_int_equal(n.lock_fd, -1);
    assert_null(n.dir);
    free(below);
    free(file);
}

/* ---- node_mkdirs ---- */

static void node_mkdirs_creates_nested_directories(void **state)
{
    struct fx *f = *state;
    char *deep = path2(f->tmp, "x/y/z/w");
    assert_int_equal(node_mkdirs(deep), 0);
    assert_true(is_dir(deep));
    struct stat st;
    assert_int_equal(stat(deep, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    char *mid = path2(f->tmp, "x/y");
    assert_int_equal(stat(mid, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    assert_int_equal(node_mkdirs(deep), 0); /* idempotent */
    char *slash = path2(f->tmp, "x/y/q/");
    assert_int_equal(node_mkdirs(slash), 0);
    assert_true(is_dir(slash));
    char *dbl = path2(f->tmp, "p//q");
    assert_int_equal(node_mkdirs(dbl), 0);
    assert_true(is_dir(dbl));
    free(dbl);
    free(slash);
    free(mid);
    free(deep);
}

static void node_mkdirs_fails_where_a_file_is_in_the_way(void **state)
{
    struct fx *f = *state;
    char *file = path2(f->tmp, "plain");
    spew(file, "x", 1);
    char *below = path2(file, "sub/dir");
    assert_int_equal(node_mkdirs(below), -ENOTDIR);
    /* mkdir -p on an existing file fails too: the path is not a directory */
    int rv = node_mkdirs(file);
    if (rv == 0)
        fail_msg("node_mkdirs(%s) on a regular file returned 0", file);
    free(below);
    free(file);
}

static void node_mkdirs_of_an_empty_path_fails_without_reading_past_it(void **state)
{
    (void)state;
    /* run under ASan this also checks that no byte after the "" is read */
    assert_int_equal(node_mkdirs(""), -ENOENT);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(node_first_open_creates_an_id_file),
        T(node_reopen_returns_the_same_id),
        T(node_accepts_a_hand_written_id_file),
        T(node_different_directories_get_different_ids),
        T(node_malformed_id_file_is_eformat_and_kept),
        T(node_id_file_that_is_a_directory_is_refused),
        T(node_id_file_that_cannot_be_opened_is_an_error_and_kept),
        T(node_second_open_of_a_held_directory_is_ebusy),
        T(node_lock_is_held_against_other_open_file_descriptions),
#ifdef CAIRN_FAULT
        T(node_failed_id_write_leaves_no_id_behind),
#endif
        T(node_open_below_a_file_fails_cleanly),
        T(node_mkdirs_creates_nested_directories),
        T(node_mkdirs_fails_where_a_file_is_in_the_way),
        /* last: under ASan an out-of-bounds read aborts the process */
        T(node_mkdirs_of_an_empty_path_fails_without_reading_past_it),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
