/*
 * chunk.h — one chunk file: a header, then records appended back to back.
 *
 * Threads: chunk_append and chunk_recover are called by the single writer of
 * the owning volume (or by recovery before any writer exists); chunk_read and
 * chunk_sync may run concurrently with them from any thread.
 */
#ifndef CAIRN_CHUNK_H
#define CAIRN_CHUNK_H

#include "record.h"

#include <stdint.h>

struct chunk {
    int fd;
    uint8_t id[16];
    uint32_t no;
    uint32_t node;
    uint64_t capacity; /* bytes, header included; UINT64_MAX for the catalog */
    uint64_t tail;     /* end of the last record: the next append goes here */
    uint64_t wb_mark;  /* writeback was started for bytes below this */
    char *path;
};

/* Id as 32 lowercase hex digits + NUL. */
void chunk_id_hex(const uint8_t id[16], char out[33]);
/* Parses 32 hex digits; -EINVAL otherwise. */
int chunk_id_parse(const char *hex, uint8_t id[16]);
/* The name a chunk file has while chunk_create writes its header: <id>.new.
 * Such a file left by a crash is no chunk; the engine removes it at open. */
#define CHUNK_NEW_SUFFIX ".new"

/* Creates DIR/<id> with its header, fsyncs the file and DIR. -EEXIST if it
 * exists. On success *OUT is the open chunk (tail = header length). */
int chunk_create(struct chunk **out, const char *dir, const uint8_t id[16], uint32_t no,
                 uint32_t node, uint64_t capacity);
/* Opens an existing chunk and verifies its header (CAIRN_EFORMAT or
 * CAIRN_ECHECKSUM on a bad one). The tail is set to the file size: call
 * chunk_recover before appending. */
int chunk_open(struct chunk **out, const char *path);
void chunk_close(struct chunk *c);

/* Called for each valid record found by chunk_recover. BUF holds the LEN
 * record bytes at chunk offset OFF, and R their decoded form; both are valid
 * only during the call. A non-zero return stops the scan and is returned.
 * R is NULL for a record skipped as damaged by the length its verified
 * header states (its checksum fails, or its verified bytes do not decode;
 * BUF holds its LEN bytes as they are): FN may salvage what can still be
 * located in it (record_salvage_data). */
typedef int (*chunk_scan_fn)(void *ctx, struct chunk *c, uint64_t off, const uint8_t *buf,
                             uint32_t len, const struct record *r);

/* Reads records from FROM (a record boundary) to the end of the file and
 * hands each valid one to FN. A damaged record followed by valid ones is
 * skipped and reported (chunk_damaged_bytes); damaged bytes with nothing valid
 * after them are a torn tail that was never acknowledged: the file is
 * truncated there (so stale bytes can never be mistaken for records later).
 * Sets c->tail. *DROPPED (may be NULL) receives the number of bytes cut. */
int chunk_recover(struct chunk *c, uint64_t from, chunk_scan_fn fn, void *ctx, uint64_t *dropped);
/* chunk_recover with a choice. MAY_CUT 0 (a rebuild without an index, which
 * cannot tell a torn tail from a damaged acknowledged record): only a record
 * the file ends inside is cut; complete records that fail their checksum at
 * the end are kept, reported as damaged, and appends go after them. */
int chunk_scan(struct chunk *c, uint64_t from, chunk_scan_fn fn, void *ctx, int may_cut,
               uint64_t *dropped);

/* Room left for records. */
uint64_t chunk_free(const struct chunk *c);
/* Appends LEN bytes (whole records) at the tail and returns their offset.
 * -ENOSPC when they do not fit the capacity (nothing is written). A failed
 * write leaves the tail where it was and cuts the bytes it wrote above it,
 * so recovery never replays part of a failed append; CAIRN_EFAILED when
 * they could not be cut: the chunk must take no more appends before a
 * restart. Nothing below the tail is ever written again. */
int chunk_append(struct chunk *c, const void *buf, size_t len, uint64_t *off_out);
/* Reads LEN bytes at OFF. */
int chunk_read(struct chunk *c, uint64_t off, void *buf, size_t len);
/* Reads and verifies the record at OFF of length LEN into BUF (LEN bytes).
 * CAIRN_ECHECKSUM when the bytes on disk are damaged in any way. */
int chunk_read_record(struct chunk *c, uint64_t off, uint32_t len, uint8_t *buf);
/* Records that failed verification on the read path in this process. */
uint64_t chunk_read_errors(void);
/* Bytes skipped as damaged by every scan in this process. */
uint64_t chunk_damaged_bytes(void);
/* fdatasync. */
int chunk_sync(struct chunk *c);
/* Cuts the file at OFF (a record boundary at or above every record that
 * was acknowledged: recovery only), durably; the tail moves there. */
int chunk_cut(struct chunk *c, uint64_t off);

#endif
