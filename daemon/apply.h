/*
 * apply.h — turns a volume record into index entries (one WriteBatch).
 *
 * Applying is idempotent by dot: a record whose dot is already in the index
 * is skipped. A batch may hold several records as long as none of them
 * reads what an earlier one in the same batch wrote: apply_conflicts tells
 * the caller when to commit the batch first.
 * Threads: one apply_ctx per thread (the volume writer or recovery).
 */
#ifndef CAIRN_APPLY_H
#define CAIRN_APPLY_H

#include "meta.h"
#include "metakey.h"
#include "record.h"

#include <stdint.h>

/* What a batch wrote: a block (BLOCK ~0: the whole inode, a truncation) of
 * file INO, or (NAME 1) a name of directory INO, BLOCK its hash and S the
 * stamp it was written with. */
struct apply_touch {
    uint64_t ino, block;
    int name;
    struct stamp s;
};

struct apply_ctx {
    struct meta *m;
    struct meta_batch *b;
    uint32_t vol;
    struct apply_touch *touched;
    uint32_t n_touched, cap_touched;
    /* 1: the caller knows the records are not indexed yet (the local write
     * path just gave them their dots and a stamp newer than every indexed
     * one), so the idempotency lookup and the live family's look (apply.c
     * (5)) are skipped */
    int fresh;
    /* FLOOR_KNOWN: every version in the index, and in the batch, has a
     * stamp at most FLOOR (a rebuild, which starts from an empty index and
     * raises FLOOR with each record), so a newer record needs no look */
    int floor_known;
    struct stamp floor;
    struct meta_iter *look; /* the live family's look, until apply_batch_done */
};

void apply_init(struct apply_ctx *a, struct meta *m, struct meta_batch *b, uint32_t vol);
void apply_fini(struct apply_ctx *a);
/* Forgets what the batch touched (call after committing or clearing it, and
 * only then). */
void apply_batch_done(struct apply_ctx *a);
/* 1 when R reads file data that an earlier record of the batch wrote, or
 * writes a name that one wrote with a newer stamp. */
int apply_conflicts(const struct apply_ctx *a, const struct record *r);
/* Adds R's index entries to the batch: every effect, the record location
 * (CHUNK_NO, OFF, LEN) and the version stamp. CAIRN_EFORMAT for a record
 * that makes no sense for this volume (e.g. catalog effects). */
int apply_record(struct apply_ctx *a, const struct record *r, uint32_t chunk_no, uint64_t off,
                 uint32_t len);

/* For R, a damaged record (record_salvage_data), adds its location (so its
 * seq is never given out again; idempotent by dot as apply_record) and the
 * EFF_DATA entries whose inode the committed index knows (a damaged inode
 * number must not plant data in a file made later), so reads of that data
 * find it and report the damage; nothing else of R is indexed. *N_APPLIED:
 * how many data entries were added. The caller commits the batch first (the
 * inode may be in it) and clears it on an error. */
int apply_damaged(struct apply_ctx *a, const struct record *r, uint32_t chunk_no, uint64_t off,
                  uint32_t len, uint32_t *n_applied);

#endif
