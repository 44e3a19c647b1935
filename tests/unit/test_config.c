/*
 * test_config.c — unit tests for daemon/config.c (cairnd's INI configuration).
 *
 * Covers config.c's invariants: (1) an unknown section or key is an error
 * naming it; (2) after a successful load every field is valid for use.
 *  - defaults with a NULL path, and with an empty file;
 *  - every key of every section parsed; "none" and "" switch addresses off;
 *    a repeated key is refused (it may be a continued value); an empty name
 *    does not leave the name NULL;
 *  - [chunks] size with K/M/G/T, KiB/MiB.., KB.. suffixes and the 4M minimum;
 *    [rpc] threads and pollers 1..256, spin_us 0..100000, sessions yes|no;
 *    [log] level names;
 *  - errors read "FILE:LINE: [section] key: why" for unknown keys, unknown
 *    sections and bad values, name the FIRST bad line when several are bad
 *    (also when the first is a syntax error), a missing file gives
 *    -ENOENT with a message naming it, and one that cannot be read (a
 *    directory) its error, not the defaults;
 *  - inline comments: ';' or '#' after a space or tab;
 *  - listen: an IPv4 literal, an IPv6 one in brackets, or a host name;
 *  - a value longer than inih's line buffer, or continued on an indented
 *    line, is never silently cut to a piece of itself;
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config.h"
#include "testutil.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fx {
    char *dir;
    char *path;
    struct config c;
    char err[512];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->dir = tu_tmpdir("test_config");
    if (asprintf(&f->path, "%s/cairnd.conf", f->dir) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    config_free(&f->c);
    tu_rmrf(f->dir);
    free(f->dir);
    free(f->path);
    free(f);
    return 0;
}

/* Writes TEXT to the fixture's file and loads it into f->c (freeing the
 * previous load). */
static int load(struct fx *f, const char *text)
{
    config_free(&f->c);
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    memset(f->err, 'x', sizeof f->err - 1);
    f->err[sizeof f->err - 1] = '\0';
    return config_load(&f->c, f->path, f->err, sizeof f->err);
}

/* Asserts that loading TEXT fails with -EINVAL and the message
 * "PATH:LINE: WHAT". */
static void expect_error(struct fx *f, const char *text, int line, const char *what)
{
    int rv = load(f, text);
    char want[600];
    snprintf(want, sizeof want, "%s:%d: %s", f->path, line, what);
    if (rv != -EINVAL || strcmp(f->err, want) != 0)
        fail_msg("config:\n%s\nrv %d, message \"%s\"\nwant -EINVAL, \"%s\"", text, rv, f->err,
                 want);
}

/* Each of the N values BAD, put in "[SECTION]\nKEY = %s\n", is refused on
 * line 2 with "[SECTION] KEY: WHY". */
static void expect_bad_values(struct fx *f, const char *section, const char *key,
                              const char *const *bad, size_t n, const char *why)
{
    for (size_t i = 0; i < n; i++) {
        char text[128], what[200];
        snprintf(text, sizeof text, "[%s]\n%s = %s\n", section, key, bad[i]);
        snprintf(what, sizeof what, "[%s] %s: %s", section, key, why);
        expect_error(f, text, 2, what);
    }
}

static void expect_defaults(const struct config *c)
{
    char host[256];
    assert_int_equal(gethostname(host, sizeof host), 0);
    host[sizeof host - 1] = '\0';
    assert_string_equal(c->name, host);
    assert_string_equal(c->data_dir, "/var/lib/cairn");
    assert_string_equal(c->listen, "127.0.0.1:7420");
    assert_string_equal(c->socket, "/run/cairn/cairnd.sock");
    assert_string_equal(c->metrics_listen, "127.0.0.1:9420");
    assert_null(c->seeds);
    assert_null(c->key_file);
    assert_int_equal(c->chunk_size, 8ull << 30);
    assert_int_equal(c->rpc_threads, 2);
    assert_int_equal(c->rpc_pollers, 1);
    assert_int_equal(c->rpc_spin_us, 200);
    assert_int_equal(c->rpc_no_sessions, 0);
    assert_int_equal(c->log_level, LOG_INFO);
}

/* ---- defaults and keys ---- */

static void config_null_path_gives_the_defaults(void **state)
{
    struct fx *f = *state;
    strcpy(f->err, "stale");
    assert_int_equal(config_load(&f->c, NULL, f->err, sizeof f->err), 0);
    assert_string_equal(f->err, "");
    expect_defaults(&f->c);
}

static void config_empty_file_and_comments_give_the_defaults(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, ""), 0);
    assert_string_equal(f->err, "");
    expect_defaults(&f->c);
    assert_int_equal(load(f, "; a comment\n# another\n\n[node]\n; nothing set\n[log]\n"), 0);
    expect_defaults(&f->c);
}

static void config_parses_every_key(void **state)
{
    struct fx *f = *state;
    int rv = load(f, "[node]\n"
                     "name = alpha\n"
                     "data_dir = /srv/cairn/data\n"
                     "listen = 0.0.0.0:7000\n"
                     "socket = /tmp/alpha.sock\n"
                     "metrics_listen = 127.0.0.2:9100\n"
                     "[cluster]\n"
                     "seeds = 10.0.0.1:7420,10.0.0.2:7420\n"
                     "key_file = /etc/cairn/cluster.key\n"
                     "[chunks]\n"
                     "size = 64M\n"
                     "[rpc]\n"
                     "threads = 16\n"
                     "[log]\n"
                     "level = debug\n");
    assert_int_equal(rv, 0);
    assert_string_equal(f->err, "");
    assert_string_equal(f->c.name, "alpha");
    assert_string_equal(f->c.data_dir, "/srv/cairn/data");
    assert_string_equal(f->c.listen, "0.0.0.0:7000");
    assert_string_equal(f->c.socket, "/tmp/alpha.sock");
    assert_string_equal(f->c.metrics_listen, "127.0.0.2:9100");
    assert_string_equal(f->c.seeds, "10.0.0.1:7420,10.0.0.2:7420");
    assert_string_equal(f->c.key_file, "/etc/cairn/cluster.key");
    assert_int_equal(f->c.chunk_size, 64ull << 20);
    assert_int_equal(f->c.rpc_threads, 16);
    assert_int_equal(f->c.log_level, LOG_DEBUG);
}

static void config_strips_whitespace_and_inline_comments(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, "[node]\n   name   =   beta   ; the second node\n"
                             "[rpc]\nthreads=2\n"),
                     0);
    assert_string_equal(f->c.name, "beta");
    assert_int_equal(f->c.rpc_threads, 2);
    /* '#' after a space or tab starts a comment too, on any line; a '#'
     * inside a word is part of the value */
    assert_int_equal(load(f, "[node] # this node\n"
                             "data_dir = /srv/cairn # the big disk\n"
                             "socket = /run/c.sock\t#local\n"
                             "name = a#b\n"),
                     0);
    assert_string_equal(f->c.data_dir, "/srv/cairn");
    assert_string_equal(f->c.socket, "/run/c.sock");
    assert_string_equal(f->c.name, "a#b");
}

static void config_none_or_empty_turns_addresses_off(void **state)
{
    struct fx *f = *state;
    /* (socket and listen not both: config_socket_must_be_absolute_and_fit) */
    assert_int_equal(load(f, "[node]\nlisten = none\nmetrics_listen = none\n"
                             "[cluster]\nseeds = none\nkey_file = none\n"),
                     0);
    assert_null(f->c.listen);
    assert_non_null(f->c.socket);
    assert_null(f->c.metrics_listen);
    assert_null(f->c.seeds);
    assert_null(f->c.key_file);
    assert_int_equal(load(f, "[node]\nsocket = none\n"), 0);
    assert_null(f->c.socket);
    assert_non_null(f->c.listen);
    assert_int_equal(load(f, "[node]\nlisten =\nmetrics_listen =\n"), 0);
    assert_null(f->c.listen);
    assert_null(f->c.metrics_listen);
    assert_int_equal(load(f, "[node]\nsocket =\n"), 0);
    assert_null(f->c.socket);
}

static void config_empty_name_is_refused_or_defaulted(void **state)
{
    struct fx *f = *state;
    /* (2): name has no "off" meaning (main.c prints it with %s), so an empty
     * or "none" value must not leave it NULL */
    static const char *vals[] = {"", "none"};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        char text[64];
        snprintf(text, sizeof text, "[node]\nname = %s\n", vals[i]);
        int rv = load(f, text);
        if (rv == 0 && !f->c.name)
            fail_msg("name = \"%s\" loaded with name NULL", vals[i]);
        assert_true(rv == 0 || rv == -EINVAL);
    }
}

/* A key given twice is refused, naming the second line: with inih's
 * continuation lines a repeat is indistinguishable from a value continued on
 * an indented line, and keeping either piece would silently drop the other. */
static void config_repeated_key_is_refused(void **state)
{
    struct fx *f = *state;
    expect_error(f, "[node]\nname = one\nname = two\n", 3,
                 "[node] name: given twice (or continued on an indented line)");
    expect_error(f, "[node]\nlisten = 1.2.3.4:1\n[log]\nlevel = info\n[node]\nlisten = 1.2.3.4:2\n",
                 6, "[node] listen: given twice (or continued on an indented line)");
    /* the same key name in two sections is two keys */
    assert_int_equal(load(f, "[node]\nname = a\n[log]\nlevel = debug\n"), 0);
}

static void config_address_ports_are_checked(void **state)
{
    struct fx *f = *state;
    static const char *good[] = {
        "127.0.0.1:0",         "host:65535",        "[::]:7420",  "a:1",          "[::1]:1",
        "node-2.example:7420", "[fe80::1%lo]:7420", "127.1:7420", "my_host:7420", "1.2.3:1"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "[node]\nlisten = %s\n", good[i]);
        if (load(f, text) != 0)
            fail_msg("listen = %s rejected: %s", good[i], f->err);
        assert_string_equal(f->c.listen, good[i]);
    }
    /* metrics.c listens on an IPv4 literal or localhost only */
    static const char *mgood[] = {"127.0.0.1:0", "localhost:65535", "0.0.0.0:9420"};
    for (size_t i = 0; i < sizeof mgood / sizeof mgood[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "[node]\nmetrics_listen = %s\n", mgood[i]);
        if (load(f, text) != 0)
            fail_msg("metrics_listen = %s rejected: %s", mgood[i], f->err);
        assert_string_equal(f->c.metrics_listen, mgood[i]);
    }
    static const char *bad[] = {
        "127.0.0.1",      "127.0.0.1:", ":7420",  "host:65536", "host:-1", "host:7x", "host:port",
        "999.1.1.1:7420", "[::1:7420",  "[zz]:1", "a b:1",      "h/st:1",  "[]:1"};
    static const char *mbad[] = {"host:9420", "[::1]:9420", "999.1.1.1:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "[node]\nlisten = %s\n", bad[i]);
        expect_error(f, text, 2, "[node] listen: must be HOST:PORT or none");
        snprintf(text, sizeof text, "[node]\nname = n\nmetrics_listen = %s\n", bad[i]);
        expect_error(
            f, text, 3,
            "[node] metrics_listen: must be IPV4:PORT, localhost:PORT or none (metrics.c)");
    }
    for (size_t i = 0; i < sizeof mbad / sizeof mbad[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "[node]\nmetrics_listen = %s\n", mbad[i]);
        expect_error(
            f, text, 2,
            "[node] metrics_listen: must be IPV4:PORT, localhost:PORT or none (metrics.c)");
    }
}

/* Which listen addresses reach this machine only (cairnd warns about the
 * others: no client authentication yet). */
static void config_loopback_addresses(void **state)
{
    (void)state;
    static const char *yes[] = {"127.0.0.1:7420", "127.1:1",     "127.255.0.9:2",
                                "localhost:3",    "LOCALHOST:3", "[::1]:4"};
    static const char *no[] = {"0.0.0.0:7420",      "10.0.0.1:1", "[::]:2",      "[fe80::1%lo]:3",
                               "127.example.com:4", "host:5",     "128.0.0.1:6", NULL};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!config_addr_is_loopback(yes[i]))
            fail_msg("%s: not taken for loopback", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (config_addr_is_loopback(no[i]))
            fail_msg("%s: taken for loopback", no[i] ? no[i] : "NULL");
}

static void config_chunk_size_takes_suffixes_and_a_4m_minimum(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *s;
        uint64_t v;
    } good[] = {
        {"4M", 4ull << 20},      {"4m", 4ull << 20},      {"4MiB", 4ull << 20},
        {"4mib", 4ull << 20},    {"4MB", 4ull << 20},     {"4096K", 4ull << 20},
        {"4096KiB", 4ull << 20}, {"4194304", 4ull << 20}, {"1G", 1ull << 30},
        {"8GiB", 8ull << 30},    {"2T", 2ull << 40},      {"1TiB", 1ull << 40},
        {"5000000", 5000000},    {"1024T", 1ull << 50},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "[chunks]\nsize = %s\n", good[i].s);
        if (load(f, text) != 0)
            fail_msg("size = %s rejected: %s", good[i].s, f->err);
        assert_int_equal(f->c.chunk_size, good[i].v);
    }
    static const char *bad[] = {"4194303", "3M",        "4095K", "4095KiB", "0",
                                "",        "-8G",       "8X",    "8 G",     "8Gi",
                                "G",       "16777216T", "1025T", "2P",      "99999999999999999999"};
    expect_bad_values(f, "chunks", "size", bad, sizeof bad / sizeof bad[0],
                      "must be a size from 4M to 1P (e.g. 64M, 8G)");
}

static void config_rpc_threads_must_be_1_to_256(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, "[rpc]\nthreads = 1\n"), 0);
    assert_int_equal(f->c.rpc_threads, 1);
    assert_int_equal(load(f, "[rpc]\nthreads = 256\n"), 0);
    assert_int_equal(f->c.rpc_threads, 256);
    static const char *bad[] = {"0", "257", "-1", "4x", "", "four", "99999999999999999999"};
    expect_bad_values(f, "rpc", "threads", bad, sizeof bad / sizeof bad[0],
                      "must be a number from 1 to 256");
}

static void config_rpc_pollers_must_be_1_to_256(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, "[rpc]\npollers = 2\nthreads = 4\n"), 0);
    assert_int_equal(f->c.rpc_pollers, 2);
    assert_int_equal(f->c.rpc_threads, 4);
    assert_int_equal(load(f, "[rpc]\npollers = 256\n"), 0);
    assert_int_equal(f->c.rpc_pollers, 256); /* the server uses at most [rpc] threads */
    static const char *bad[] = {"0", "257", "-1", "2x", "", "two"};
    expect_bad_values(f, "rpc", "pollers", bad, sizeof bad / sizeof bad[0],
                      "must be a number from 1 to 256 (at most [rpc] threads are used)");
}

static void config_rpc_spin_us_0_to_100000(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, "[rpc]\nspin_us = 0\n"), 0);
    assert_int_equal(f->c.rpc_spin_us, 0);
    assert_int_equal(load(f, "[rpc]\nspin_us = 100000\n"), 0);
    assert_int_equal(f->c.rpc_spin_us, 100000);
    static const char *bad[] = {"-1", "100001", "50us", "", "fast", "99999999999999999999"};
    expect_bad_values(f, "rpc", "spin_us", bad, sizeof bad / sizeof bad[0],
                      "must be a number of microseconds from 0 to 100000");
}

static void config_rpc_sessions_yes_or_no(void **state)
{
    struct fx *f = *state;
    assert_int_equal(load(f, "[rpc]\nsessions = no\n"), 0);
    assert_int_equal(f->c.rpc_no_sessions, 1);
    assert_int_equal(load(f, "[rpc]\nsessions = yes\n"), 0);
    assert_int_equal(f->c.rpc_no_sessions, 0);
    static const char *bad[] = {"", "1", "true", "off", "nope"};
    expect_bad_values(f, "rpc", "sessions", bad, sizeof bad / sizeof bad[0], "must be yes or no");
}

static void config_log_level_names(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *s;
        enum log_level l;
    } good[] = {{"error", LOG_ERR},
                {"warn", LOG_WARN},
                {"info", LOG_INFO},
                {"debug", LOG_DEBUG},
                {"DEBUG", LOG_DEBUG}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char text[64];
        snprintf(text, sizeof text, "[log]\nlevel = %s\n", good[i].s);
        assert_int_equal(load(f, text), 0);
        assert_int_equal(f->c.log_level, good[i].l);
    }
    expect_error(f, "[log]\nlevel = verbose\n", 2,
                 "[log] level: must be error, warn, info or debug");
    expect_error(f, "[log]\nlevel =\n", 2, "[log] level: must be error, warn, info or debug");
}

static void config_socket_must_be_absolute_and_fit(void **state)
{
    struct fx *f = *state;
    char text[400], path[200];
    memset(path, 'a', 108);
    path[0] = '/';
    path[108] = '\0'; /* 108 bytes: one more than sun_path holds */
    const char *bad[] = {"run/cairnd.sock", "./s.sock", path};
    expect_bad_values(f, "node", "socket", bad, 3,
                      "must be an absolute path of at most 107 bytes, or none");
    path[107] = '\0';
    snprintf(text, sizeof text, "[node]\nsocket = %s\n", path);
    assert_int_equal(load(f, text), 0);
    assert_int_equal(load(f, "[node]\nsocket = none\n"), 0); /* TCP only */
    /* nothing at all to reach the node by */
    assert_int_equal(load(f, "[node]\nsocket = none\nlisten = none\n"), -EINVAL);
    snprintf(text, sizeof text,
             "%s: [node] socket and listen: both none, nothing could reach the node", f->path);
    assert_string_equal(f->err, text);
}

static void config_data_dir_must_be_a_path(void **state)
{
    struct fx *f = *state;
    expect_error(f, "[node]\ndata_dir =\n", 2, "[node] data_dir: must be a path");
    expect_error(f, "[node]\ndata_dir = none\n", 2, "[node] data_dir: must be a path");
}

/* ---- errors ---- */

static void config_unknown_key_is_an_error_naming_it(void **state)
{
    struct fx *f = *state;
    expect_error(f, "[node]\nname = a\nnmae = b\n", 3, "[node] nmae: unknown key");
    expect_error(f, "[cluster]\nseed = x:1\n", 2, "[cluster] seed: unknown key");
    expect_error(f, "[chunks]\nsizes = 8G\n", 2, "[chunks] sizes: unknown key");
    expect_error(f, "[rpc]\n\nthread = 4\n", 3, "[rpc] thread: unknown key");
    expect_error(f, "[log]\nlevle = info\n", 2, "[log] levle: unknown key");
}

static void config_key_outside_a_known_section_is_an_error(void **state)
{
    struct fx *f = *state;
    expect_error(f, "[nodes]\nname = a\n", 2, "[nodes] name: unknown section");
    expect_error(f, "# no section\nname = a\n", 2, "[] name: unknown section");
    expect_error(f, "[node]\nname = a\n[Node]\nname = b\n", 4, "[Node] name: unknown section");
}

static void config_reports_the_first_bad_key(void **state)
{
    struct fx *f = *state;
    expect_error(f,
                 "[node]\nname = a\nbogus1 = 1\n[rpc]\nthreads = 0\n[zzz]\nk = v\n"
                 "[node]\nbogus2 = 2\n",
                 3, "[node] bogus1: unknown key");
    expect_error(f, "[rpc]\nthreads = 999\n[node]\nbogus = 1\n", 2,
                 "[rpc] threads: must be a number from 1 to 256");
    /* a bad key before a syntax error: the key's line */
    expect_error(f, "[node]\nbogus = 1\nthis line has no equals sign\n", 2,
                 "[node] bogus: unknown key");
}

static void config_syntax_error_names_its_line(void **state)
{
    struct fx *f = *state;
    expect_error(f, "[node]\nname = a\nthis line has no equals sign\n", 3, "syntax error");
    expect_error(f, "[node]\nname = a\n[rpc\n", 3, "syntax error");
}

static void config_syntax_error_before_a_bad_key_names_the_syntax_error(void **state)
{
    struct fx *f = *state;
    /* The first bad line is line 2. The message must not pair line 2 with
     * the key of line 4 (which would send the operator to the wrong line). */
    expect_error(f, "[node]\nthis line has no equals sign\nname = a\nbogus = 1\n", 2,
                 "syntax error");
    /* the same with a broken section header: its keys land in section "" */
    expect_error(f, "[node\nname = a\n", 1, "syntax error");
}

static void config_missing_file_is_enoent_with_a_message(void **state)
{
    struct fx *f = *state;
    char *missing = NULL;
    assert_true(asprintf(&missing, "%s/no-such.conf", f->dir) > 0);
    int rv = config_load(&f->c, missing, f->err, sizeof f->err);
    assert_int_equal(rv, -ENOENT);
    char want[600];
    snprintf(want, sizeof want, "%s: %s", missing, strerror(ENOENT));
    assert_string_equal(f->err, want);
    free(missing);
}

/* A path that cannot be read to its end (a directory here) is an error
 * naming it, not an empty file that gives every default. */
static void config_unreadable_file_is_an_error(void **state)
{
    struct fx *f = *state;
    int rv = config_load(&f->c, f->dir, f->err, sizeof f->err);
    assert_int_equal(rv, -EISDIR);
    char want[600];
    snprintf(want, sizeof want, "%s: cannot read: %s", f->dir, strerror(EISDIR));
    assert_string_equal(f->err, want);
}

static void config_error_message_fits_a_small_buffer(void **state)
{
    struct fx *f = *state;
    load(f, "[node]\nbogus = 1\n"); /* writes the file */
    config_free(&f->c);
    char small[8];
    memset(small, 'x', sizeof small);
    assert_int_equal(config_load(&f->c, f->path, small, sizeof small), -EINVAL);
    assert_int_equal(small[sizeof small - 1], '\0');
    assert_memory_equal(small, f->path, sizeof small - 1);
}

/* Loads KEY = VALUE in SECTION and checks that VALUE came back whole or the
 * load failed with -EINVAL. */
static void expect_whole_or_refused(struct fx *f, const char *section, const char *key,
                                    const char *value, char *const *field)
{
    char text[1024];
    snprintf(text, sizeof text, "[%s]\n%s = %s\n", section, key, value);
    int rv = load(f, text);
    if (rv == 0 && (!*field || strcmp(*field, value) != 0))
        fail_msg("[%s] %s of %zu bytes loaded as %zu bytes: \"%s\"", section, key, strlen(value),
                 *field ? strlen(*field) : 0, *field ? *field : "(null)");
    if (rv != 0 && rv != -EINVAL)
        fail_msg("[%s] %s of %zu bytes: rv %d", section, key, strlen(value), rv);
}

static void config_long_value_is_never_silently_truncated(void **state)
{
    struct fx *f = *state;
    /* inih reads lines into a fixed buffer (INI_MAX_LINE, 200 bytes) and
     * takes what does not fit for the next line: a longer value must load
     * whole or be refused, never come back cut short */
    char v[700];
    for (size_t len = 150; len <= 600; len += 7) {
        memset(v, 'd', len);
        v[0] = '/';
        v[len] = '\0';
        expect_whole_or_refused(f, "node", "data_dir", v, &f->c.data_dir);
    }
}

static void config_long_value_with_spaces_is_never_silently_truncated(void **state)
{
    struct fx *f = *state;
    /* the same with a seeds list written with spaces after the commas, cut
     * at every offset: a piece that starts with white space would read as a
     * continuation line and replace the value */
    char v[700];
    for (size_t total = 200; total <= 600; total += 50)
        for (int pad = 0; pad < 12; pad++) {
            size_t n = (size_t)snprintf(v, sizeof v, "a%.*s:7420", pad, "xxxxxxxxxxxx");
            for (int i = 0; n < total; i++)
                n += (size_t)snprintf(v + n, sizeof v - n, ", h%d:7420", i);
            expect_whole_or_refused(f, "cluster", "seeds", v, &f->c.seeds);
        }
}

static void config_continuation_line_is_never_silently_dropped(void **state)
{
    struct fx *f = *state;
    /* inih passes an indented line as a second value for the key above it
     * (INI_ALLOW_MULTILINE): the load must keep both parts or refuse, not
     * keep only the last one */
    int rv = load(f, "[cluster]\nseeds = 10.0.0.1:7420,\n        10.0.0.2:7420\n");
    if (rv == 0 && (!f->c.seeds || !strstr(f->c.seeds, "10.0.0.1:7420") ||
                    !strstr(f->c.seeds, "10.0.0.2:7420")))
        fail_msg("seeds loaded as \"%s\"", f->c.seeds ? f->c.seeds : "(null)");
    assert_true(rv == 0 || rv == -EINVAL);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(config_null_path_gives_the_defaults),
        T(config_empty_file_and_comments_give_the_defaults),
        T(config_parses_every_key),
        T(config_strips_whitespace_and_inline_comments),
        T(config_none_or_empty_turns_addresses_off),
        T(config_empty_name_is_refused_or_defaulted),
        T(config_repeated_key_is_refused),
        T(config_address_ports_are_checked),
        T(config_loopback_addresses),
        T(config_chunk_size_takes_suffixes_and_a_4m_minimum),
        T(config_rpc_threads_must_be_1_to_256),
        T(config_rpc_pollers_must_be_1_to_256),
        T(config_rpc_spin_us_0_to_100000),
        T(config_rpc_sessions_yes_or_no),
        T(config_log_level_names),
        T(config_socket_must_be_absolute_and_fit),
        T(config_data_dir_must_be_a_path),
        T(config_unknown_key_is_an_error_naming_it),
        T(config_key_outside_a_known_section_is_an_error),
        T(config_reports_the_first_bad_key),
        T(config_syntax_error_names_its_line),
        T(config_syntax_error_before_a_bad_key_names_the_syntax_error),
        T(config_missing_file_is_enoent_with_a_message),
        T(config_unreadable_file_is_an_error),
        T(config_error_message_fits_a_small_buffer),
        T(config_long_value_is_never_silently_truncated),
        T(config_long_value_with_spaces_is_never_silently_truncated),
        T(config_continuation_line_is_never_silently_dropped),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
