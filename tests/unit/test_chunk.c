/*
 * test_chunk.c — unit tests for daemon/chunk.c (one chunk file), on real
 * files in a tu_tmpdir directory.
 *
 * Covers chunk.c's invariants: (1) bytes below the tail are never rewritten,
 * recovery only cuts at or above the first bad record; (2) a chunk exists
 * only with a complete header; (3) every record handed out by a scan or a
 * read passed its checksum.
 *  - header: create/open roundtrip, -EEXIST, every header byte flipped is
 *    rejected (CAIRN_EFORMAT for magic/version/length, CAIRN_ECHECKSUM for
 *    the rest), short files;
 *  - recovery: every appended record is visited at its offset; a torn tail
 *    (file cut anywhere inside the last record, or garbage appended) is
 *    dropped and the file truncated; a damaged record in the middle is
 *    skipped and counted while the records after it survive (chunk.h's
 *    contract); bytes of a torn record are never taken for records;
 *  - reads: chunk_read_record verifies (CAIRN_ECHECKSUM on a flipped byte,
 *    CAIRN_ETORN past the end);
 *  - appends: -ENOSPC past the capacity with nothing written; with
 *    CAIRN_FAULT, a failed pwrite leaves the tail unchanged and the next
 *    append lands at the same offset; a failed create leaves no file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bytes.h"
#include "cairn_err.h"
#include "chunk.h"
#include "fault.h"
#include "format.h"
#include "record.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define CAP (1u << 20)

static uint8_t pattern[BLOCK_SIZE];

struct fixture {
    char *dir;
    char *path;
    uint8_t id[16];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->dir = tu_tmpdir("test_chunk");
    for (int i = 0; i < 16; i++)
        f->id[i] = (uint8_t)(0xc0 + i);
    char hex[33];
    chunk_id_hex(f->id, hex);
    if (asprintf(&f->path, "%s/%s", f->dir, hex) < 0)
        return -1;
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (uint8_t)(i * 7 + 3);
#ifdef CAIRN_FAULT
    fault_reset();
#endif
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
#ifdef CAIRN_FAULT
    fault_reset();
#endif
    tu_rmrf(f->dir);
    free(f->dir);
    free(f->path);
    free(f);
    return 0;
}

/* An encoded volume record with dot (1, SEQ) carrying LEN data bytes. */
static uint8_t *make_record(uint64_t seq, uint32_t len, const uint8_t *data, size_t *out_len)
{
    struct record r;
    record_init(&r);
    r.kind = REC_KIND_VOLUME;
    r.dot.origin = 1;
    r.dot.seq = seq;
    r.hlc = seq << 16;
    vv_raise(&r.ctx, 2, seq);
    struct effect *e = record_add(&r, EFF_DATA);
    e->ino = 10;
    e->off = 0;
    e->len = len;
    e->data = data ? data : pattern + seq % 100;
    *out_len = record_encoded_len(&r);
    uint8_t *buf = malloc(*out_len);
    assert_non_null(buf);
    record_encode(&r, buf);
    record_fini(&r);
    return buf;
}

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* Overwrites LEN bytes at OFF of PATH behind the chunk's back. */
static void poke(const char *path, uint64_t off, const void *buf, size_t len)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
    close(fd);
}

static void flip_byte(const char *path, uint64_t off, uint8_t mask)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
    b ^= mask;
    assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
}

/* Sets the version field of the chunk header at PATH, with its CRC right
 * when FIX_CRC (else wrong). */
static void set_version(const char *path, uint32_t version, int fix_crc)
{
    uint8_t h[CHUNK_HDR_LEN];
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, h, sizeof h, 0), (ssize_t)sizeof h);
    put_le32(h + 8, version);
    put_le32(h + 124, (uint32_t)crc32(0L, h, 124) ^ (fix_crc ? 0u : 1u));
    assert_int_equal(pwrite(fd, h, sizeof h, 0), (ssize_t)sizeof h);
    close(fd);
}

/* What a recovery scan saw. */
#define MAXSEEN 64
struct seen {
    unsigned n;
    uint64_t off[MAXSEEN];
    uint32_t len[MAXSEEN];
    uint32_t origin[MAXSEEN];
    uint64_t seq[MAXSEEN];
    int stop_at;      /* return -EINTR on this visit (1-based), 0 = never */
    unsigned damaged; /* damaged records handed out (R NULL) */
    uint64_t damaged_off;
    uint32_t damaged_len; /* of the last one */
};

static int collect(void *ctx, struct chunk *c, uint64_t off, const uint8_t *buf, uint32_t len,
                   const struct record *r)
{
    (void)c;
    struct seen *s = ctx;
    if (!r) { /* a damaged record skipped by its verified length */
        if (record_verify(buf, len) != CAIRN_ECHECKSUM)
            return -EPROTO; /* its bytes as they are on disk */
        s->damaged++;
        s->damaged_off = off;
        s->damaged_len = len;
        return 0;
    }
    /* (3): what is handed out verifies and matches its decoded form */
    if (record_verify(buf, len) != 0 || s->n >= MAXSEEN)
        return -EPROTO;
    s->off[s->n] = off;
    s->len[s->n] = len;
    s->origin[s->n] = r->dot.origin;
    s->seq[s->n] = r->dot.seq;
    s->n++;
    if (s->stop_at && (int)s->n == s->stop_at)
        return -EINTR;
    return 0;
}

/* Creates the fixture's chunk and appends N records of varied sizes;
 * OFFS/LENS receive where they went. The chunk is closed. */
static void write_chunk(struct fixture *f, unsigned n, uint64_t *offs, size_t *lens)
{
    struct chunk *c = NULL;
    assert_int_equal(chunk_create(&c, f->dir, f->id, 7, 3, CAP), 0);
    for (unsigned i = 0; i < n; i++) {
        size_t len;
        uint8_t *rec = make_record(i + 1, 1 + (i * 97) % 900, NULL, &len);
        uint64_t off = 0;
        assert_int_equal(chunk_append(c, rec, len, &off), 0);
        offs[i] = off;
        lens[i] = len;
        free(rec);
    }
    assert_int_equal(chunk_sync(c), 0);
    chunk_close(c);
}

/* Opens the fixture's chunk and recovers it from the header on. */
static int reopen_and_recover(struct fixture *f, struct chunk **out, struct seen *s,
                              uint64_t *dropped)
{
    struct chunk *c = NULL;
    int rv = chunk_open(&c, f->path);
    if (rv != 0)
        return rv;
    *out = c;
    return chunk_recover(c, CHUNK_HDR_LEN, collect, s, dropped);
}

/* ---- identity and header ------------------------------------------------ */

static void chunk_id_hex_and_parse_roundtrip(void **state)
{
    (void)state;
    uint8_t id[16], back[16];
    for (int i = 0; i < 16; i++)
        id[i] = (uint8_t)(i * 17 + 5);
    char hex[33];
    chunk_id_hex(id, hex);
    assert_int_equal(strlen(hex), 32);
    assert_string_equal(hex, "05162738495a6b7c8d9eafc0d1e2f304");
    assert_int_equal(chunk_id_parse(hex, back), 0);
    assert_memory_equal(id, back, 16);
    assert_int_equal(chunk_id_parse("05162738495A6B7C8D9EAFC0D1E2F304", back), 0);
    assert_memory_equal(id, back, 16);
    assert_int_equal(chunk_id_parse("", back), -EINVAL);
    assert_int_equal(chunk_id_parse("05162738495a6b7c8d9eafc0d1e2f30", back), -EINVAL);
    assert_int_equal(chunk_id_parse("05162738495a6b7c8d9eafc0d1e2f3045", back), -EINVAL);
    assert_int_equal(chunk_id_parse("g5162738495a6b7c8d9eafc0d1e2f304", back), -EINVAL);
    assert_int_equal(chunk_id_parse("05162738495a6b7c8d9eafc0d1e2f3 4", back), -EINVAL);
}

static void chunk_create_then_open_roundtrips_the_header(void **state)
{
    struct fixture *f = *state;
    struct chunk *c = NULL;
    assert_int_equal(chunk_create(&c, f->dir, f->id, 42, 9, CAP), 0);
    assert_non_null(c);
    assert_int_equal(c->tail, CHUNK_HDR_LEN);
    assert_int_equal(chunk_free(c), CAP - CHUNK_HDR_LEN);
    assert_string_equal(c->path, f->path);
    chunk_close(c);
    assert_int_equal(file_size(f->path), CHUNK_HDR_LEN);

    /* the bytes are the documented layout */
    uint8_t h[CHUNK_HDR_LEN];
    int fd = open(f->path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, h, sizeof h, 0), (ssize_t)sizeof h);
    close(fd);
    assert_memory_equal(h, CHUNK_MAGIC, 8);
    assert_int_equal(get_le32(h + 8), CHUNK_VERSION);
    assert_int_equal(get_le32(h + 12), CHUNK_HDR_LEN);
    assert_memory_equal(h + 16, f->id, 16);
    assert_int_equal(get_le64(h + 32), CAP);
    assert_int_equal(get_le32(h + 40), 42);
    assert_int_equal(get_le32(h + 44), 9);
    assert_true(get_le64(h + 48) > 1600000000000ull); /* creation time, unix ms */
    for (int i = 56; i < 124; i++)
        assert_int_equal(h[i], 0);

    c = NULL;
    assert_int_equal(chunk_open(&c, f->path), 0);
    assert_memory_equal(c->id, f->id, 16);
    assert_int_equal(c->no, 42);
    assert_int_equal(c->node, 9);
    assert_int_equal(c->capacity, CAP);
    assert_int_equal(c->tail, CHUNK_HDR_LEN);
    chunk_close(c);
}

static void chunk_create_refuses_an_existing_file(void **state)
{
    struct fixture *f = *state;
    struct chunk *c = NULL;
    assert_int_equal(chunk_create(&c, f->dir, f->id, 1, 1, CAP), 0);
    chunk_close(c);
    c = NULL;
    assert_int_equal(chunk_create(&c, f->dir, f->id, 1, 1, CAP), -EEXIST);
    assert_null(c);
    assert_int_equal(file_size(f->path), CHUNK_HDR_LEN); /* untouched */
    chunk_close(NULL);                                   /* releases accept NULL */
}

static void chunk_open_rejects_any_damaged_header_byte(void **state)
{
    struct fixture *f = *state;
    struct chunk *c = NULL;
    assert_int_equal(chunk_create(&c, f->dir, f->id, 1, 1, CAP), 0);
    chunk_close(c);
    for (uint64_t pos = 0; pos < CHUNK_HDR_LEN; pos++) {
        flip_byte(f->path, pos, 0x01);
        c = NULL;
        int rv = chunk_open(&c, f->path);
        /* the magic is format; any other byte is damage the CRC catches */
        int want = pos < 8 ? CAIRN_EFORMAT : CAIRN_ECHECKSUM;
        if (rv != want)
            fail_msg("header byte %llu flipped: got %d, want %d", (unsigned long long)pos, rv,
                     want);
        assert_null(c);
        flip_byte(f->path, pos, 0x01);
    }
    assert_int_equal(chunk_open(&c, f->path), 0);
    chunk_close(c);
}

static void chunk_open_rejects_newer_versions_and_short_files(void **state)
{
    struct fixture *f = *state;
    struct chunk *c = NULL;
    assert_int_equal(chunk_create(&c, f->dir, f->id, 1, 1, CAP), 0);
    chunk_close(c);
    /* a header written by a newer cairn (its CRC right): CAIRN_ENEWER, the
     * file untouched; version 0 is no format; a wrong CRC is damage */
    static const uint32_t versions[] = {CHUNK_VERSION + 1, 0};
    static const int want[] = {CAIRN_ENEWER, CAIRN_EFORMAT};
    for (size_t i = 0; i < 2; i++) {
        set_version(f->path, versions[i], 1);
        c = NULL;
        assert_int_equal(chunk_open(&c, f->path), want[i]);
        assert_null(c);
        assert_int_equal(file_size(f->path), CHUNK_HDR_LEN);
        set_version(f->path, versions[i], 0);
        assert_int_equal(chunk_open(&c, f->path), CAIRN_ECHECKSUM);
    }
    set_version(f->path, CHUNK_VERSION, 1);
    assert_int_equal(chunk_open(&c, f->path), 0);
    chunk_close(c);
    /* a header cut short */
    assert_int_equal(truncate(f->path, CHUNK_HDR_LEN - 1), 0);
    c = NULL;
    assert_int_equal(chunk_open(&c, f->path), CAIRN_EFORMAT);
    assert_int_equal(truncate(f->path, 0), 0);
    assert_int_equal(chunk_open(&c, f->path), CAIRN_EFORMAT);
    assert_null(c);
    char *missing = NULL;
    assert_true(asprintf(&missing, "%s/none", f->dir) > 0);
    assert_int_equal(chunk_open(&c, missing), -ENOENT);
    free(missing);
}

/* ---- append and recover ------------------------------------------------- */

static void chunk_recover_visits_every_appended_record(void **state)
{
    struct fixture *f = *state;
    uint64_t offs[20];
    size_t lens[20];
    write_chunk(f, 20, offs, lens);
    assert_int_equal(offs[0], CHUNK_HDR_LEN);
    for (int i = 1; i < 20; i++)
        assert_int_equal(offs[i], offs[i - 1] + lens[i - 1]); /* back to back */
    off_t size = file_size(f->path);
    assert_int_equal(size, offs[19] + lens[19]);

    struct chunk *c = NULL;
    struct seen s = {0};
    uint64_t dropped = 99;
    assert_int_equal(reopen_and_recover(f, &c, &s, &dropped), 0);
    assert_int_equal(dropped, 0);
    assert_int_equal(s.n, 20);
    for (unsigned i = 0; i < 20; i++) {
        assert_int_equal(s.off[i], offs[i]);
        assert_int_equal(s.len[i], lens[i]);
        assert_int_equal(s.seq[i], i + 1);
    }
    assert_int_equal(c->tail, (uint64_t)size);
    assert_int_equal(file_size(f->path), size);
    /* every record reads back verified */
    for (unsigned i = 0; i < 20; i++) {
        uint8_t *buf = malloc(lens[i]);
        assert_non_null(buf);
        assert_int_equal(chunk_read_record(c, offs[i], (uint32_t)lens[i], buf), 0);
        size_t len;
        uint8_t *want = make_record(i + 1, 1 + (i * 97) % 900, NULL, &len);
        assert_memory_equal(buf, want, len);
        free(want);
        free(buf);
    }
    chunk_close(c);
}

static void chunk_recover_of_an_empty_chunk_keeps_the_header(void **state)
{
    struct fixture *f = *state;
    write_chunk(f, 0, NULL, NULL);
    struct chunk *c = NULL;
    struct seen s = {0};
    uint64_t dropped = 99;
    assert_int_equal(reopen_and_recover(f, &c, &s, &dropped), 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(dropped, 0);
    assert_int_equal(c->tail, CHUNK_HDR_LEN);
    assert_int_equal(file_size(f->path), CHUNK_HDR_LEN);
    chunk_close(c);
}

static void chunk_recover_starts_at_the_given_record_boundary(void **state)
{
    struct fixture *f = *state;
    uint64_t offs[6];
    size_t lens[6];
    write_chunk(f, 6, offs, lens);
    struct chunk *c = NULL;
    assert_int_equal(chunk_open(&c, f->path), 0);
    struct seen s = {0};
    assert_int_equal(chunk_recover(c, offs[3], collect, &s, NULL), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.seq[0], 4);
    /* from the very end: nothing to visit */
    memset(&s, 0, sizeof s);
    assert_int_equal(chunk_recover(c, offs[5] + lens[5], collect, &s, NULL), 0);
    assert_int_equal(s.n, 0);
    /* inside the header or past the end: the caller's index is wrong */
    assert_int_equal(chunk_recover(c, CHUNK_HDR_LEN - 1, collect, &s, NULL), CAIRN_EINDEX);
    assert_int_equal(chunk_recover(c, offs[5] + lens[5] + 1, collect, &s, NULL), CAIRN_EINDEX);
    chunk_close(c);
}

static void chunk_recover_stops_when_the_callback_fails(void **state)
{
    struct fixture *f = *state;
    uint64_t offs[5];
    size_t lens[5];
    write_chunk(f, 5, offs, lens);
    struct chunk *c = NULL;
    struct seen s = {.stop_at = 2};
    assert_int_equal(reopen_and_recover(f, &c, &s, NULL), -EINTR);
    assert_int_equal(s.n, 2);
    /* nothing was cut */
    assert_int_equal(file_size(f->path), offs[4] + lens[4]);
    chunk_close(c);
}

static void chunk_recover_drops_a_tail_torn_anywhere_inside_the_last_record(void **state)
{
    struct fixture *f = *state;
    uint64_t offs[4];
    size_t lens[4];
    write_chunk(f, 4, offs, lens);
    uint64_t last = offs[3], end = offs[3] + lens[3];
    /* a copy of the intact file to restore before each cut */
    size_t full_len = (size_t)end;
    uint8_t *full = malloc(full_len);
    assert_non_null(full);
    int fd = open(f->path, O_RDONLY);
    assert_int_equal(pread(fd, full, full_len, 0), (ssize_t)full_len);
    close(fd);
    for (uint64_t cut = last + 1; cut < end; cut++) {
        fd = open(f->path, O_WRONLY | O_TRUNC);
        assert_int_equal(pwrite(fd, full, (size_t)cut, 0), (ssize_t)cut);
        close(fd);
        struct chunk *c = NULL;
        struct seen s = {0};
        uint64_t dropped = 0;
        assert_int_equal(reopen_and_recover(f, &c, &s, &dropped), 0);
        if (s.n != 3)
            fail_msg("cut at %llu: %u records visited", (unsigned long long)cut, s.n);
        assert_int_equal(dropped, cut - last);
        assert_int_equal(c->tail, last);
        assert_int_equal(file_size(f->path), last); /* truncated: stale bytes are gone */
        chunk_close(c);
    }
    free(full);
}

static void chunk_recover_drops_garbage_appended_after_the_last_record(void **state)
{
    struct fixture *f = *state;
    uint64_t rng = tu_seed(__func__);
    uint64_t offs[3];
    size_t lens[3];
    write_chunk(f, 3, offs, lens);
    uint64_t end = offs[2] + lens[2];
    for (int round = 0; round < 20; round++) {
        size_t n = 1 + (size_t)(tu_rand(&rng) % 3000);
        uint8_t *junk = malloc(n);
        assert_non_null(junk);
        for (size_t i = 0; i < n; i++)
            junk[i] = (uint8_t)tu_rand(&rng);
        if (round % 2 && n >= REC_HDR_LEN) {
            /* a plausible record header whose body never made it */
            size_t rl;
            uint8_t *rec = make_record(99, 500, NULL, &rl);
            memcpy(junk, rec, REC_HDR_LEN);
            free(rec);
        }
        poke(f->path, end, junk, n);
        free(junk);
        struct chunk *c = NULL;
        struct seen s = {0};
        uint64_t dropped = 0;
        assert_int_equal(reopen_and_recover(f, &c, &s, &dropped), 0);
        assert_int_equal(s.n, 3);
        assert_int_equal(dropped, n);
        assert_int_equal(c->tail, end);
        assert_int_equal(file_size(f->path), end);
        chunk_close(c);
    }
}

static void chunk_recover_drops_a_damaged_last_record(void **state)
{
    struct fixture *f = *state;
    uint64_t offs[3];
    size_t lens[3];
    write_chunk(f, 3, offs, lens);
    flip_byte(f->path, offs[2] + lens[2] / 2, 0x10);
    struct chunk *c = NULL;
    struct seen s = {0};
    uint64_t dropped = 0;
    assert_int_equal(reopen_and_recover(f, &c, &s, &dropped), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(dropped, lens[2]);
    assert_int_equal(file_size(f->path), offs[2]);
    chunk_close(c);
}

/* chunk.h: "A damaged record followed by valid ones is skipped and reported
 * (chunk_damaged_bytes)" — and never cut, so acknowledged records after it
 * survive. No record of the damaged one's bytes is handed out as valid (3);
 * with its header intact it is handed out once as damaged (R NULL). */
static void chunk_recover_skips_a_damaged_middle_record_and_keeps_the_rest(void **state)
{
    struct fixture *f = *state;
    uint64_t offs[5];
    size_t lens[5];
    write_chunk(f, 5, offs, lens);
    uint64_t end = offs[4] + lens[4];
    /* damage a data byte, a header byte and the magic in turn */
    uint64_t where[] = {offs[2] + lens[2] - 3, offs[2] + 9, offs[2]};
    for (size_t w = 0; w < 3; w++) {
        flip_byte(f->path, where[w], 0x04);
        uint64_t damaged_before = chunk_damaged_bytes();
        struct chunk *c = NULL;
        struct seen s = {0};
        uint64_t dropped = 99;
        assert_int_equal(reopen_and_recover(f, &c, &s, &dropped), 0);
        assert_int_equal(s.n, 4);
        assert_int_equal(s.seq[0], 1);
        assert_int_equal(s.seq[1], 2);
        assert_int_equal(s.seq[2], 4); /* record 3 skipped */
        assert_int_equal(s.seq[3], 5);
        assert_int_equal(s.off[2], offs[3]);
        /* only a record whose header verified is handed out as damaged */
        assert_int_equal(s.damaged, w == 0 ? 1 : 0);
        if (s.damaged) {
            assert_int_equal(s.damaged_off, offs[2]);
            assert_int_equal(s.damaged_len, lens[2]);
        }
        assert_int_equal(dropped, 0);
        assert_int_equal(chunk_damaged_bytes() - damaged_before, lens[2]);
        assert_int_equal(c->tail, end);
        assert_int_equal(file_size(f->path), end); /* (1) nothing valid was cut */
        chunk_close(c);
        flip_byte(f->path, where[w], 0x04);
    }
}

/* A file's data may itself contain the bytes of a valid record (a chunk file
 * or a backup of one, stored in cairn). When the record carrying those bytes
 * is torn, recovery must drop it whole: handing out the embedded record would
 * apply a mutation no writer made, with whatever dot the file content names. */
static void chunk_recover_never_takes_bytes_inside_a_torn_record_for_a_record(void **state)
{
    struct fixture *f = *state;
    uint64_t offs[2];
    size_t lens[2];
    write_chunk(f, 2, offs, lens);
    /* the embedded record: origin 1, seq 77 */
    size_t inner_len;
    uint8_t *inner = make_record(77, 64, NULL, &inner_len);
    uint8_t data[2000];
    memset(data, 0xee, sizeof data);
    memcpy(data + 100, inner, inner_len);
    size_t outer_len;
    uint8_t *outer = make_record(3, sizeof data, data, &outer_len);
    struct chunk *c = NULL;
    assert_int_equal(chunk_open(&c, f->path), 0);
    assert_int_equal(chunk_recover(c, CHUNK_HDR_LEN, NULL, NULL, NULL), 0);
    uint64_t off;
    assert_int_equal(chunk_append(c, outer, outer_len, &off), 0);
    chunk_close(c);
    free(outer);
    free(inner);
    /* the crash: the outer record is torn after the embedded one's bytes */
    uint64_t cut = off + outer_len - 500;
    assert_int_equal(truncate(f->path, (off_t)cut), 0);
    struct seen s = {0};
    uint64_t dropped = 0;
    c = NULL;
    int rv = reopen_and_recover(f, &c, &s, &dropped);
    chunk_close(c); /* before any assertion: a failure must not leak it */
    assert_int_equal(rv, 0);
    for (unsigned i = 0; i < s.n; i++)
        if (s.seq[i] == 77)
            fail_msg("recovery handed out the record embedded in torn record data at %llu",
                     (unsigned long long)s.off[i]);
    assert_int_equal(s.n, 2);
    assert_int_equal(file_size(f->path), off);
    assert_int_equal(dropped, cut - off);
}

static void chunk_append_after_recovery_continues_at_the_tail(void **state)
{
    struct fixture *f = *state;
    uint64_t offs[3];
    size_t lens[3];
    write_chunk(f, 3, offs, lens);
    assert_int_equal(truncate(f->path, (off_t)(offs[2] + 10)), 0); /* torn */
    struct chunk *c = NULL;
    struct seen s = {0};
    assert_int_equal(reopen_and_recover(f, &c, &s, NULL), 0);
    size_t len;
    uint8_t *rec = make_record(50, 123, NULL, &len);
    uint64_t off = 0;
    assert_int_equal(chunk_append(c, rec, len, &off), 0);
    assert_int_equal(off, offs[2]);
    chunk_close(c);
    memset(&s, 0, sizeof s);
    assert_int_equal(reopen_and_recover(f, &c, &s, NULL), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.seq[2], 50);
    chunk_close(c);
    free(rec);
}

/* ---- reads -------------------------------------------------------------- */

static void chunk_read_record_reports_a_flipped_byte_as_checksum_error(void **state)
{
    struct fixture *f = *state;
    uint64_t offs[3];
    size_t lens[3];
    write_chunk(f, 3, offs, lens);
    struct chunk *c = NULL;
    assert_int_equal(chunk_open(&c, f->path), 0);
    uint8_t *buf = malloc(lens[1]);
    assert_non_null(buf);
    assert_int_equal(chunk_read_record(c, offs[1], (uint32_t)lens[1], buf), 0);
    uint64_t errs = chunk_read_errors();
    for (uint64_t pos = REC_HDR_LEN; pos < lens[1]; pos += 37) {
        flip_byte(f->path, offs[1] + pos, 0x80);
        assert_int_equal(chunk_read_record(c, offs[1], (uint32_t)lens[1], buf), CAIRN_ECHECKSUM);
        flip_byte(f->path, offs[1] + pos, 0x80);
    }
    assert_true(chunk_read_errors() > errs); /* counted */
    /* the index names a record here: a damaged header is damage too */
    flip_byte(f->path, offs[1], 0x01);
    assert_int_equal(chunk_read_record(c, offs[1], (uint32_t)lens[1], buf), CAIRN_ECHECKSUM);
    flip_byte(f->path, offs[1], 0x01);
    /* a length that is not the record's */
    assert_int_equal(chunk_read_record(c, offs[1], (uint32_t)lens[1] - 1, buf), CAIRN_ECHECKSUM);
    /* a location that holds no record */
    assert_true(chunk_read_record(c, offs[1] + 1, (uint32_t)lens[1], buf) != 0);
    assert_int_equal(chunk_read_record(c, offs[1], (uint32_t)lens[1], buf), 0);
    free(buf);
    chunk_close(c);
}

static void chunk_read_record_past_the_end_is_torn(void **state)
{
    struct fixture *f = *state;
    uint64_t offs[2];
    size_t lens[2];
    write_chunk(f, 2, offs, lens);
    struct chunk *c = NULL;
    assert_int_equal(chunk_open(&c, f->path), 0);
    assert_int_equal(truncate(f->path, (off_t)(offs[1] + lens[1] - 1)), 0);
    uint8_t *buf = malloc(lens[1]);
    assert_non_null(buf);
    assert_int_equal(chunk_read_record(c, offs[1], (uint32_t)lens[1], buf), CAIRN_ETORN);
    free(buf);
    chunk_close(c);
}

/* ---- capacity and faults ------------------------------------------------ */

static void chunk_append_beyond_capacity_is_enospc_and_writes_nothing(void **state)
{
    struct fixture *f = *state;
    size_t len;
    uint8_t *rec = make_record(1, 100, NULL, &len);
    struct chunk *c = NULL;
    uint64_t cap = CHUNK_HDR_LEN + 2 * len + len / 2;
    assert_int_equal(chunk_create(&c, f->dir, f->id, 1, 1, cap), 0);
    uint64_t off;
    assert_int_equal(chunk_append(c, rec, len, &off), 0);
    assert_int_equal(chunk_append(c, rec, len, &off), 0);
    assert_int_equal(chunk_free(c), len / 2);
    uint64_t tail = c->tail;
    off = 12345;
    assert_int_equal(chunk_append(c, rec, len, &off), -ENOSPC);
    assert_int_equal(off, 12345);
    assert_int_equal(c->tail, tail);
    assert_int_equal(file_size(f->path), tail);
    /* what still fits is accepted: exactly the free bytes */
    uint8_t *fill = calloc(1, len / 2);
    assert_non_null(fill);
    assert_int_equal(chunk_append(c, fill, len / 2 + 1, &off), -ENOSPC);
    assert_int_equal(chunk_append(c, fill, len / 2, &off), 0);
    assert_int_equal(chunk_free(c), 0);
    assert_int_equal(chunk_append(c, fill, 1, &off), -ENOSPC);
    free(fill);
    free(rec);
    chunk_close(c);
}

#ifdef CAIRN_FAULT
static void chunk_append_after_a_failed_pwrite_reuses_the_offset(void **state)
{
    struct fixture *f = *state;
    struct chunk *c = NULL;
    assert_int_equal(chunk_create(&c, f->dir, f->id, 1, 1, CAP), 0);
    size_t la, lb;
    uint8_t *a = make_record(1, 300, NULL, &la);
    uint8_t *b = make_record(2, 400, NULL, &lb);
    uint64_t off_a, off_b = 777;
    assert_int_equal(chunk_append(c, a, la, &off_a), 0);
    uint64_t tail = c->tail;
    fault_arm("pwrite", 1, -EIO, 0);
    assert_int_equal(chunk_append(c, b, lb, &off_b), -EIO);
    assert_int_equal(fault_hits("pwrite"), 1);
    assert_int_equal(off_b, 777);
    assert_int_equal(c->tail, tail);
    assert_int_equal(file_size(f->path), tail);
    /* the next append succeeds at the same offset */
    assert_int_equal(chunk_append(c, b, lb, &off_b), 0);
    assert_int_equal(off_b, tail);
    assert_int_equal(c->tail, tail + lb);
    chunk_close(c);
    fault_reset();
    struct seen s = {0};
    assert_int_equal(reopen_and_recover(f, &c, &s, NULL), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.off[1], off_b);
    assert_int_equal(s.seq[1], 2);
    chunk_close(c);
    free(a);
    free(b);
}

static void chunk_append_overwrites_partial_bytes_of_a_failed_write(void **state)
{
    struct fixture *f = *state;
    struct chunk *c = NULL;
    assert_int_equal(chunk_create(&c, f->dir, f->id, 1, 1, CAP), 0);
    size_t la, lb;
    uint8_t *a = make_record(1, 300, NULL, &la);
    uint8_t *b = make_record(2, 400, NULL, &lb);
    uint64_t off;
    assert_int_equal(chunk_append(c, a, la, &off), 0);
    uint64_t tail = c->tail;
    /* a write that failed halfway left bytes above the tail */
    uint8_t junk[1000];
    memset(junk, 0x5a, sizeof junk);
    poke(f->path, tail, junk, sizeof junk);
    assert_int_equal(chunk_append(c, b, lb, &off), 0);
    assert_int_equal(off, tail);
    chunk_close(c);
    struct seen s = {0};
    uint64_t dropped = 0;
    assert_int_equal(reopen_and_recover(f, &c, &s, &dropped), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(dropped, sizeof junk - lb); /* the junk beyond B is the torn tail */
    assert_int_equal(file_size(f->path), tail + lb);
    chunk_close(c);
    free(a);
    free(b);
}

/* An append of two whole records whose write fails after the first one
 * (a short write, then ENOSPC): the record that did reach the file is cut,
 * so recovery does not replay half of an append reported failed; when the
 * cut fails too, the append says CAIRN_EFAILED. */
static void chunk_append_that_fails_midway_leaves_nothing_above_the_tail(void **state)
{
    struct fixture *f = *state;
    struct chunk *c = NULL;
    assert_int_equal(chunk_create(&c, f->dir, f->id, 1, 1, CAP), 0);
    size_t la, lb, lc;
    uint8_t *a = make_record(1, 300, NULL, &la);
    uint8_t *b = make_record(2, 900, NULL, &lb);
    uint8_t *cc = make_record(3, 100, NULL, &lc);
    assert_true(lb >= (lb + lc) / 2); /* half the group holds all of B */
    uint8_t *group = malloc(lb + lc);
    assert_non_null(group);
    memcpy(group, b, lb);
    memcpy(group + lb, cc, lc);
    uint64_t off;
    assert_int_equal(chunk_append(c, a, la, &off), 0);
    uint64_t tail = c->tail;
    fault_arm("pwrite_torn", 1, -ENOSPC, 0);
    assert_int_equal(chunk_append(c, group, lb + lc, &off), -ENOSPC);
    assert_int_equal(c->tail, tail);
    assert_int_equal(file_size(f->path), (off_t)tail); /* B's bytes were cut */
    fault_arm("pwrite_torn", 1, -EIO, 0);
    fault_arm("ftruncate", 1, -EIO, 0);
    assert_int_equal(chunk_append(c, group, lb + lc, &off), CAIRN_EFAILED);
    fault_reset();
    assert_int_equal(truncate(f->path, (off_t)tail), 0); /* as if the cut had worked */
    chunk_close(c);
    struct seen s = {0};
    uint64_t dropped = 0;
    assert_int_equal(reopen_and_recover(f, &c, &s, &dropped), 0);
    assert_int_equal(s.n, 1); /* A only */
    assert_int_equal(s.seq[0], 1);
    chunk_close(c);
    free(group);
    free(a);
    free(b);
    free(cc);
}

/* On a file system without hard links the header file is renamed into
 * place instead, still never over an existing chunk. */
static void chunk_create_without_hard_links_renames_and_never_replaces(void **state)
{
    struct fixture *f = *state;
    struct chunk *c = NULL;
    fault_arm("link", 1, -EPERM, 1);
    assert_int_equal(chunk_create(&c, f->dir, f->id, 1, 1, CAP), 0);
    chunk_close(c);
    c = NULL;
    char *tmp = NULL;
    assert_true(asprintf(&tmp, "%s" CHUNK_NEW_SUFFIX, f->path) > 0);
    assert_int_equal(access(tmp, F_OK), -1); /* nothing left under the temporary name */
    assert_int_equal(chunk_create(&c, f->dir, f->id, 1, 1, CAP), -EEXIST);
    assert_int_equal(access(tmp, F_OK), -1);
    fault_reset();
    assert_int_equal(chunk_open(&c, f->path), 0); /* the first one, whole */
    assert_int_equal(c->no, 1);
    chunk_close(c);
    free(tmp);
}

static void chunk_create_that_fails_to_sync_leaves_no_file(void **state)
{
    struct fixture *f = *state;
    struct chunk *c = NULL;
    fault_arm("fsync", 1, -EIO, 0);
    assert_int_equal(chunk_create(&c, f->dir, f->id, 1, 1, CAP), -EIO);
    assert_null(c);
    assert_int_equal(access(f->path, F_OK), -1); /* (2) */
    fault_arm("pwrite", 1, -ENOSPC, 0);
    assert_int_equal(chunk_create(&c, f->dir, f->id, 1, 1, CAP), -ENOSPC);
    assert_int_equal(access(f->path, F_OK), -1);
    fault_reset();
    assert_int_equal(chunk_create(&c, f->dir, f->id, 1, 1, CAP), 0);
    chunk_close(c);
}

static void chunk_recover_reports_a_failed_truncate(void **state)
{
    struct fixture *f = *state;
    uint64_t offs[2];
    size_t lens[2];
    write_chunk(f, 2, offs, lens);
    assert_int_equal(truncate(f->path, (off_t)(offs[1] + 5)), 0);
    struct chunk *c = NULL;
    assert_int_equal(chunk_open(&c, f->path), 0);
    fault_arm("ftruncate", 1, -EIO, 0);
    struct seen s = {0};
    assert_int_equal(chunk_recover(c, CHUNK_HDR_LEN, collect, &s, NULL), -EIO);
    fault_reset();
    memset(&s, 0, sizeof s);
    assert_int_equal(chunk_recover(c, CHUNK_HDR_LEN, collect, &s, NULL), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(file_size(f->path), offs[1]);
    chunk_close(c);
}
#endif

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(chunk_id_hex_and_parse_roundtrip),
        T(chunk_create_then_open_roundtrips_the_header),
        T(chunk_create_refuses_an_existing_file),
        T(chunk_open_rejects_any_damaged_header_byte),
        T(chunk_open_rejects_newer_versions_and_short_files),
        T(chunk_recover_visits_every_appended_record),
        T(chunk_recover_of_an_empty_chunk_keeps_the_header),
        T(chunk_recover_starts_at_the_given_record_boundary),
        T(chunk_recover_stops_when_the_callback_fails),
        T(chunk_recover_drops_a_tail_torn_anywhere_inside_the_last_record),
        T(chunk_recover_drops_garbage_appended_after_the_last_record),
        T(chunk_recover_drops_a_damaged_last_record),
        T(chunk_recover_skips_a_damaged_middle_record_and_keeps_the_rest),
        T(chunk_recover_never_takes_bytes_inside_a_torn_record_for_a_record),
        T(chunk_append_after_recovery_continues_at_the_tail),
        T(chunk_read_record_reports_a_flipped_byte_as_checksum_error),
        T(chunk_read_record_past_the_end_is_torn),
        T(chunk_append_beyond_capacity_is_enospc_and_writes_nothing),
#ifdef CAIRN_FAULT
        T(chunk_append_after_a_failed_pwrite_reuses_the_offset),
        T(chunk_append_overwrites_partial_bytes_of_a_failed_write),
        T(chunk_append_that_fails_midway_leaves_nothing_above_the_tail),
        T(chunk_create_that_fails_to_sync_leaves_no_file),
        T(chunk_create_without_hard_links_renames_and_never_replaces),
        T(chunk_recover_reports_a_failed_truncate),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
