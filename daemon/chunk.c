/*
 * chunk.c — owns one chunk file (layout in format.h).
 *
 * Invariants:
 * (1) bytes below the tail are never rewritten; appends only write at the
 *     tail, and recovery only cuts bytes at or above the first bad record;
 * (2) a chunk file exists only with a complete, fsync'ed header whose
 *     directory entry was fsync'ed too (chunk_create): the header is made
 *     under NAME.new first, so a crash during a creation leaves at most a
 *     .new file, which the next start removes;
 * (3) every record handed out by a scan or a read passed its checksum;
 * (4) writeback of appended bytes is started every CHUNK_WB_STEP bytes, so a
 *     later fdatasync has little left to do and dirty memory stays bounded.
 * Threads: see chunk.h. c->tail is written by the volume's writer only.
 */
#include "chunk.h"

#include "alloc.h"
#include "bytes.h"
#include "cairn_err.h"
#include "io.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define CHUNK_WB_STEP (8u << 20)
#define SCAN_BUF (1u << 20)

void chunk_id_hex(const uint8_t id[16], char out[33])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[id[i] >> 4];
        out[2 * i + 1] = hex[id[i] & 15];
    }
    out[32] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int chunk_id_parse(const char *hex, uint8_t id[16])
{
    if (strlen(hex) != 32)
        return -EINVAL;
    for (int i = 0; i < 16; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        id[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static void encode_header(const struct chunk *c, uint64_t created_ms, uint8_t h[CHUNK_HDR_LEN])
{
    memset(h, 0, CHUNK_HDR_LEN);
    memcpy(h, CHUNK_MAGIC, 8);
    put_le32(h + 8, CHUNK_VERSION);
    put_le32(h + 12, CHUNK_HDR_LEN);
    memcpy(h + 16, c->id, 16);
    put_le64(h + 32, c->capacity);
    put_le32(h + 40, c->no);
    put_le32(h + 44, c->node);
    put_le64(h + 48, created_ms);
    put_le32(h + 124, (uint32_t)crc32(0L, h, 124));
}

static struct chunk *chunk_alloc(const char *path)
{
    struct chunk *c = xcalloc(1, sizeof *c);
    c->fd = -1;
    c->path = xstrdup(path);
    return c;
}

void chunk_close(struct chunk *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->path);
    free(c);
}

int chunk_create(struct chunk **out, const char *dir, const uint8_t id[16], uint32_t no,
                 uint32_t node, uint64_t capacity)
{
    char hex[33];
    chunk_id_hex(id, hex);
    char *path = xasprintf("%s/%s", dir, hex);
    struct chunk *c = chunk_alloc(path);
    free(path);
    memcpy(c->id, id, 16);
    c->no = no;
    c->node = node;
    c->capacity = capacity;
    uint8_t h[CHUNK_HDR_LEN];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    encode_header(c, (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u, h);
    /* (2): the header is written and synced under a temporary name, then
     * linked to the chunk's name (which must not exist) */
    char *tmp = xasprintf("%s" CHUNK_NEW_SUFFIX, c->path);
    int rv;
    if ((rv = io_open(tmp, O_RDWR | O_CREAT | O_EXCL, 0600, &c->fd)) != 0)
        goto out;
    if ((rv = io_pwrite(c->fd, h, sizeof h, 0)) != 0 || (rv = io_fsync(c->fd)) != 0) {
        unlink(tmp);
        goto out;
    }
    if ((rv = io_publish(tmp, c->path)) != 0) {
        unlink(tmp);
        goto out;
    }
    if ((rv = io_fsync_dir(dir)) != 0) {
        unlink(c->path); /* never leave a chunk whose creation was not durable */
        goto out;
    }
    c->tail = c->wb_mark = CHUNK_HDR_LEN;
    free(tmp);
    *out = c;
    return 0;
out:
    free(tmp);
    chunk_close(c);
    return rv;
}

int chunk_open(struct chunk **out, const char *path)
{
    struct chunk *c = chunk_alloc(path);
    uint8_t h[CHUNK_HDR_LEN];
    struct stat st;
    int rv;
    if ((rv = io_open(path, O_RDWR, 0, &c->fd)) != 0)
        goto out;
    if (fstat(c->fd, &st) != 0) {
        rv = -errno;
        goto out;
    }
    if ((uint64_t)st.st_size < CHUNK_HDR_LEN) {
        rv = CAIRN_EFORMAT;
        goto out;
    }
    if ((rv = io_pread(c->fd, h, sizeof h, 0)) != 0)
        goto out;
    /* the CRC first: a damaged version or length is damage (format.h keeps
     * magic, version and CRC in place in every later chunk format) */
    if (memcmp(h, CHUNK_MAGIC, 8) != 0) {
        rv = CAIRN_EFORMAT;
        goto out;
    }
    if (get_le32(h + 124) != (uint32_t)crc32(0L, h, 124)) {
        rv = CAIRN_ECHECKSUM;
        goto out;
    }
    if (get_le32(h + 8) > CHUNK_VERSION) {
        rv = CAIRN_ENEWER;
        goto out;
    }
    if (get_le32(h + 8) == 0 || get_le32(h + 12) != CHUNK_HDR_LEN) {
        rv = CAIRN_EFORMAT;
        goto out;
    }
    memcpy(c->id, h + 16, 16);
    c->capacity = get_le64(h + 32);
    c->no = get_le32(h + 40);
    c->node = get_le32(h + 44);
    c->tail = c->wb_mark = (uint64_t)st.st_size;
    *out = c;
    return 0;
out:
    log_err("chunk", "cannot open chunk %s: %s", path, cairn_strerror(rv));
    chunk_close(c);
    return rv;
}

uint64_t chunk_free(const struct chunk *c)
{
    return c->capacity > c->tail ? c->capacity - c->tail : 0;
}

int chunk_append(struct chunk *c, const void *buf, size_t len, uint64_t *off_out)
{
    if (len > chunk_free(c))
        return -ENOSPC;
    int rv = io_pwrite(c->fd, buf, len, c->tail);
    if (rv != 0) {
        /* (1): the tail is unchanged. A short write left bytes above it,
         * maybe whole records of this append: cut them, or recovery would
         * replay part of an append that was reported failed. */
        int cut = io_ftruncate(c->fd, c->tail);
        if (cut != 0) {
            log_err("chunk", "cannot cut a failed append's bytes: %s", cairn_strerror(cut));
            return CAIRN_EFAILED;
        }
        return rv;
    }
    *off_out = c->tail;
    c->tail += len;
    if (c->tail - c->wb_mark >= CHUNK_WB_STEP) {
        io_writeback(c->fd, c->wb_mark, c->tail - c->wb_mark);
        c->wb_mark = c->tail;
    }
    return 0;
}

int chunk_read(struct chunk *c, uint64_t off, void *buf, size_t len)
{
    return io_pread(c->fd, buf, len, off);
}

static _Atomic uint64_t read_errors;

uint64_t chunk_read_errors(void)
{
    return read_errors;
}

int chunk_read_record(struct chunk *c, uint64_t off, uint32_t len, uint8_t *buf)
{
    int rv;
    uint32_t total;
    if ((rv = io_pread(c->fd, buf, len, off)) != 0)
        return rv == -ENODATA ? CAIRN_ETORN : rv;
    if ((rv = record_peek(buf, len, &total)) != 0 || total != len ||
        (rv = record_verify(buf, len)) != 0) {
        /* the index says a valid record is here: any failure is damage */
        rv = CAIRN_ECHECKSUM;
        read_errors++;
        log_err("chunk", "bad record in chunk %u at offset %llu (%u bytes): %s", c->no,
                (unsigned long long)off, len, cairn_strerror(rv));
    }
    return rv;
}

int chunk_cut(struct chunk *c, uint64_t off)
{
    int rv;
    if ((rv = io_ftruncate(c->fd, off)) != 0 || (rv = io_fdatasync(c->fd)) != 0)
        return rv;
    c->tail = c->wb_mark = off;
    return 0;
}

int chunk_sync(struct chunk *c)
{
    return io_fdatasync(c->fd);
}

/* A read window over the chunk file for scans: win_get returns a pointer to
 * N bytes at OFF (refilling the window), or NULL when the file ends first. */
struct win {
    struct chunk *c;
    uint64_t end; /* file size */
    uint8_t *buf;
    size_t cap;
    uint64_t off; /* chunk offset of buf[0] */
    size_t have;
    int err;
};

static const uint8_t *win_get(struct win *w, uint64_t off, size_t n)
{
    if (off + n > w->end)
        return NULL;
    if (off >= w->off && off + n <= w->off + w->have)
        return w->buf + (off - w->off);
    if (n > w->cap) {
        w->cap = n;
        free(w->buf);
        w->buf = xmalloc(w->cap);
    }
    size_t fill = w->cap;
    if (fill > w->end - off)
        fill = (size_t)(w->end - off);
    int rv = io_pread(w->c->fd, w->buf, fill, off);
    if (rv != 0) {
        w->err = rv;
        w->have = 0;
        return NULL;
    }
    w->off = off;
    w->have = fill;
    return w->buf;
}

/* 0 and *TOTAL when a valid record starts at OFF. CAIRN_ETORN: the file ends
 * inside it (its header, if complete, verified); CAIRN_EFORMAT: its header is
 * damaged (length unknown); CAIRN_ECHECKSUM: its header verified (so *TOTAL
 * is its true length) but the rest is damaged; CAIRN_ENEWER: a verified
 * header of a record format newer than this build's. */
static int valid_at(struct win *w, uint64_t off, uint32_t *total)
{
    const uint8_t *h = win_get(w, off, REC_HDR_LEN);
    if (!h)
        return w->err ? w->err : CAIRN_ETORN;
    int rv = record_peek(h, REC_HDR_LEN, total);
    if (rv != 0)
        return rv;
    const uint8_t *r = win_get(w, off, *total);
    if (!r)
        return w->err ? w->err : CAIRN_ETORN;
    return record_verify(r, *total);
}

/* A damaged record that can be stepped over by its length: its header
 * carries a checksum (version 2 on) that verified. */
static int skippable(struct win *w, uint64_t off, int rv)
{
    const uint8_t *h = rv == CAIRN_ECHECKSUM ? win_get(w, off, REC_HDR_LEN) : NULL;
    return h && h[4] >= 2;
}

/* 1 when records run from OFF to the end of the file and at least one of
 * them is valid: valid ones, damaged ones with a verified header (stepped
 * over by their length), the last one possibly torn; a newer-format record
 * ends the chain (the scan stops there and refuses to go on, which loses
 * nothing). That marks a real record boundary rather than record-like bytes
 * inside some record's data (or a few stray bytes). A damaged record must be
 * followed by a valid one: a copy of records inside file data can start a
 * chain whose damaged member claims a length past its data, and such a
 * length is only trusted when a valid record follows it.
 * *BRK is the end of the valid records the chain starts with: no real
 * boundary lies inside them (a valid record's checksum covers its whole
 * extent, and a copy inside file data cannot reach past that data). */
static int chain_to_end(struct win *w, uint64_t off, uint64_t *brk)
{
    int valid = 0, skipped = 0, prefix = 1;
    *brk = off;
    while (off < w->end) {
        uint32_t total = 0;
        int rv = valid_at(w, off, &total);
        if (rv == CAIRN_ENEWER)
            return 1;
        if (rv == CAIRN_ETORN)
            return valid && !skipped;
        if (rv == 0) {
            valid = 1;
            skipped = 0;
        } else if (skippable(w, off, rv)) {
            skipped = 1;
            prefix = 0;
        } else {
            return 0;
        }
        off += total;
        if (prefix)
            *brk = off;
    }
    return valid && !skipped;
}

/* The first offset in (FROM, end) where a chain of records to the end of
 * the file starts (chain_to_end), or 0. A newer-format record is taken at
 * once: refusing to start is recoverable, cutting it is not. Linear: a
 * candidate's leading valid records are not searched again. */
static uint64_t next_valid(struct win *w, uint64_t from)
{
    uint8_t magic[4];
    put_le32(magic, REC_MAGIC);
    for (uint64_t off = from + 1; off + REC_HDR_LEN <= w->end; off++) {
        const uint8_t *p = win_get(w, off, 4);
        if (!p)
            return 0;
        uint32_t total;
        uint64_t brk = off;
        if (memcmp(p, magic, 4) == 0) {
            int rv = valid_at(w, off, &total);
            if (rv == CAIRN_ENEWER || (rv == 0 && chain_to_end(w, off, &brk)))
                return off;
            if (brk > off)
                off = brk; /* a record that is not valid starts at BRK: the loop steps past it */
        }
        if (w->err)
            return 0;
    }
    return 0;
}

/* The length a damaged header at OFF still states, when its three length
 * fields agree (the damage hit other bytes), else 0. Taken only when a chain
 * runs from its end: better than a search, which could take records copied
 * into this record's file data for real ones. */
static uint32_t length_hint(struct win *w, uint64_t off)
{
    const uint8_t *h = win_get(w, off, REC_HDR_LEN);
    if (!h)
        return 0;
    uint64_t t = get_le32(h + 8), nctx = get_le16(h + 20), payload = get_le32(h + 40);
    if (t < REC_HDR_LEN || t > REC_MAX_LEN || REC_HDR_LEN + nctx * REC_CTX_ENTRY_LEN + payload != t)
        return 0;
    return (uint32_t)t;
}

static _Atomic uint64_t damaged_bytes;

uint64_t chunk_damaged_bytes(void)
{
    return damaged_bytes;
}

/* Hands the damaged record of TOTAL bytes at POS to FN (its record NULL). */
static int give_damaged(struct win *w, uint64_t pos, uint32_t total, chunk_scan_fn fn, void *ctx)
{
    const uint8_t *buf = win_get(w, pos, total);
    if (!buf)
        return w->err ? w->err : CAIRN_ETORN;
    return fn(ctx, w->c, pos, buf, total, NULL);
}

int chunk_recover(struct chunk *c, uint64_t from, chunk_scan_fn fn, void *ctx, uint64_t *dropped)
{
    return chunk_scan(c, from, fn, ctx, 1, dropped);
}

int chunk_scan(struct chunk *c, uint64_t from, chunk_scan_fn fn, void *ctx, int may_cut,
               uint64_t *dropped)
{
    struct stat st;
    if (fstat(c->fd, &st) != 0)
        return -errno;
    struct win w = {.c = c, .end = (uint64_t)st.st_size, .cap = SCAN_BUF};
    if (from < CHUNK_HDR_LEN || from > w.end)
        return CAIRN_EINDEX;
    w.buf = xmalloc(w.cap);
    struct record r;
    record_init(&r);
    uint64_t pos = from;
    int rv = 0;
    while (pos < w.end) {
        uint32_t total = 0;
        int bad = valid_at(&w, pos, &total);
        if (w.err) {
            rv = w.err;
            goto out;
        }
        if (bad == CAIRN_ENEWER) {
            /* never cut what a newer cairn wrote: stop with the reason */
            const uint8_t *h = win_get(&w, pos, REC_HDR_LEN);
            log_err("chunk",
                    "chunk %u: the record at offset %llu has format version %u, newer than"
                    " this build's %u: run the cairn that wrote it",
                    c->no, (unsigned long long)pos, h ? h[4] : 0u, REC_VERSION);
            rv = CAIRN_ENEWER;
            goto out;
        }
        if (bad == 0) {
            const uint8_t *buf = win_get(&w, pos, total);
            if ((bad = record_decode(&r, buf, total)) == 0) {
                if (fn && (rv = fn(ctx, c, pos, buf, total, &r)) != 0)
                    goto out;
                pos += total;
                continue;
            }
            bad = CAIRN_ECHECKSUM; /* verified bytes that make no sense: skip them */
        }
        /* A bad record is damage to skip when valid records follow it up to
         * the end of the file (found by its verified length, or by a search
         * when its header is damaged); otherwise it is a torn tail that was
         * never acknowledged, cut below. Valid records are never cut. */
        uint64_t next = 0;
        uint64_t brk;
        if (bad == CAIRN_EFORMAT)
            total = length_hint(&w, pos);
        if ((bad == CAIRN_ECHECKSUM || total) && pos + total < w.end &&
            chain_to_end(&w, pos + total, &brk))
            next = pos + total;
        else if (bad != CAIRN_ETORN) /* torn: the file ends inside it, nothing follows */
            next = next_valid(&w, skippable(&w, pos, bad) ? pos + total - 1 : pos);
        if (w.err) {
            rv = w.err;
            goto out;
        }
        if (next == 0 && !may_cut && bad != CAIRN_ETORN) {
            /* nothing valid follows, but whether these bytes were ever
             * acknowledged is unknown here: keep them, report them. A
             * damaged record whose verified header gives its extent goes to
             * FN as damage does elsewhere, so it is indexed (its dot taken,
             * its data reading as a checksum error) and a later scan that
             * may cut starts after it instead of cutting it as a torn tail */
            if (fn && skippable(&w, pos, bad) && total <= w.end - pos &&
                (rv = give_damaged(&w, pos, total, fn, ctx)) != 0)
                goto out;
            damaged_bytes += w.end - pos;
            log_err("chunk",
                    "chunk %u: the last %llu bytes (from offset %llu) do not verify (%s);"
                    " kept, not cut",
                    c->no, (unsigned long long)(w.end - pos), (unsigned long long)pos,
                    cairn_strerror(bad));
            pos = w.end;
            break;
        }
        if (next == 0)
            break;
        /* a damaged record whose verified header gave its true extent */
        if (fn && next == pos + total && skippable(&w, pos, bad) &&
            (rv = give_damaged(&w, pos, total, fn, ctx)) != 0)
            goto out;
        damaged_bytes += next - pos;
        log_err("chunk", "chunk %u: %llu damaged bytes at offset %llu (%s); skipped", c->no,
                (unsigned long long)(next - pos), (unsigned long long)pos, cairn_strerror(bad));
        pos = next;
    }
    if (pos < w.end) {
        log_warn("chunk", "chunk %u: dropping %llu bytes of torn tail at offset %llu", c->no,
                 (unsigned long long)(w.end - pos), (unsigned long long)pos);
        if ((rv = chunk_cut(c, pos)) != 0)
            goto out;
    }
    if (dropped)
        *dropped = w.end - pos;
    c->tail = c->wb_mark = pos;
out:
    record_fini(&r);
    free(w.buf);
    return rv;
}
