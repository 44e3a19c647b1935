/*
 * vlookup.h — "the newest version at or before X" over versioned index keys
 * (metakey.h: object prefix + inverted stamp). One seek in the common case;
 * versions newer than a snapshot's vector but older than its stamp (records
 * from other origins it had not seen) are stepped over.
 * Threads: the iterator's owner.
 */
#ifndef CAIRN_VLOOKUP_H
#define CAIRN_VLOOKUP_H

#include "fsops.h"
#include "meta.h"
#include "metakey.h"

/* Positions IT on the newest version of the object PREFIX (PLEN bytes) with
 * stamp <= FROM whose dot is in VV (VV NULL: any). 0, -ENOENT, or an error
 * (CAIRN_EFORMAT for a malformed value, -EIO). */
int vlookup_seek(struct meta_iter *it, const uint8_t *prefix, size_t plen, struct stamp from,
                 const struct vv *vv);
/* The same with FROM/VV taken from AT. */
int vlookup_asof(struct meta_iter *it, const uint8_t *prefix, size_t plen, const struct asof *at);
/* Stamp and dot of the version IT is on (validated by vlookup_seek). */
struct stamp vlookup_stamp(struct meta_iter *it);
/* 1 when the version IT is on is visible under VV. CAIRN_EFORMAT when its
 * value is too short to hold a seq. */
int vlookup_visible(struct meta_iter *it, const struct vv *vv);
/* Stamp order: <0, 0, >0 as A is older, equal, newer than B. */
int stamp_cmp(struct stamp a, struct stamp b);

#endif
