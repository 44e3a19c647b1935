/*
 * metakey.h — index key and value encodings (pure).
 *
 * Versioned keys end in an inverted stamp (~hlc, ~origin, big-endian), so the
 * versions of one object sort newest first and "the latest version at or
 * before stamp X" is a single seek to (object, X). Key layouts:
 *   inodes    vol:4 ino:8 stamp:12
 *   dirents   vol:4 parent:8 name:n 00 stamp:12
 *   live      vol:4 parent:8 name:n   (unversioned: a name the directory has
 *             now, valued as its newest dirent version; apply.c (5))
 *   extents   vol:4 ino:8 block:8 stamp:12   (block EXT_TRUNC_BLOCK: truncations)
 *   xattrs    vol:4 ino:8 name:n 00 stamp:12
 *   records   vol:4 origin:4 seq:8
 *   chunks    no:4 kind:1
 *   volumes   'n' name | 'v' vol:4
 *   snapshots vol:4 name
 * Values are described with their structs below; decoders reject malformed
 * bytes with CAIRN_EFORMAT (the index is on disk, so it is untrusted input).
 */
#ifndef CAIRN_METAKEY_H
#define CAIRN_METAKEY_H

#include "attr.h"
#include "vclock.h"

#include <stddef.h>
#include <stdint.h>

#define STAMP_LEN 12
#define KEY_MAX 300
#define EXT_TRUNC_BLOCK UINT64_MAX

struct stamp {
    uint64_t hlc;
    uint32_t origin;
};
#define STAMP_NEWEST ((struct stamp){UINT64_MAX, UINT32_MAX})

size_t mk_inode(uint8_t *k, uint32_t vol, uint64_t ino, struct stamp s);
size_t mk_dirent(uint8_t *k, uint32_t vol, uint64_t parent, const char *name, size_t nlen,
                 struct stamp s);
/* The live key of NAME in PARENT: ordered as the names of mk_dirent keys. */
size_t mk_live(uint8_t *k, uint32_t vol, uint64_t parent, const char *name, size_t nlen);
size_t mk_extent(uint8_t *k, uint32_t vol, uint64_t ino, uint64_t block, struct stamp s);
size_t mk_xattr(uint8_t *k, uint32_t vol, uint64_t ino, const char *name, size_t nlen,
                struct stamp s);
size_t mk_record(uint8_t *k, uint32_t vol, uint32_t origin, uint64_t seq);
/* KIND: 'a' assignment, 's' applied state */
size_t mk_chunk(uint8_t *k, uint32_t no, char kind);
size_t mk_volume_name(uint8_t *k, const char *name, size_t nlen);
size_t mk_volume(uint8_t *k, uint32_t vol);
size_t mk_snapshot(uint8_t *k, uint32_t vol, const char *name, size_t nlen);
/* A prefix of N bytes: the first N of KEY plus one more byte would be past
 * it. Writes the smallest key greater than every key with that prefix. */
size_t mk_prefix_end(uint8_t *out, const uint8_t *prefix, size_t n);

/* The stamp at the end of a versioned key; CAIRN_EFORMAT if too short. */
int mk_stamp(const uint8_t *k, size_t klen, struct stamp *s);
/* The name inside a dirent/xattr key of a known prefix length (12). */
int mk_name(const uint8_t *k, size_t klen, const char **name, size_t *nlen);
/* The name of a live key (1..255 bytes without 00, else CAIRN_EFORMAT). */
int mk_live_name(const uint8_t *k, size_t klen, const char **name, size_t *nlen);

/* inodes: u8 ver, u64 seq, attr, u16 target length, target */
struct iv_inode {
    uint64_t seq;
    struct attr a;
    const char *target; /* points into the value */
    uint16_t tlen;
};
size_t iv_inode_len(uint16_t tlen);
void iv_inode_encode(uint8_t *v, uint64_t seq, const struct attr *a, const char *t, uint16_t tlen);
int iv_inode_decode(struct iv_inode *o, const uint8_t *v, size_t vlen);

/* dirents: u8 ver, u64 seq, u64 child (0 = tombstone), u8 dtype */
#define IV_DIRENT_LEN 18
void iv_dirent_encode(uint8_t *v, uint64_t seq, uint64_t child, uint8_t dtype);
int iv_dirent_decode(const uint8_t *v, size_t vlen, uint64_t *seq, uint64_t *child, uint8_t *dtype);

/* extents: u8 ver, u64 seq, u16 count, count x piece (28 bytes) */
struct piece {
    uint32_t boff;     /* offset inside the block */
    uint32_t len;      /* bytes */
    uint32_t chunk_no; /* chunk holding the record */
    uint64_t rec_off;  /* record offset in the chunk */
    uint32_t rec_len;  /* record length (read and verified whole) */
    uint32_t data_off; /* offset inside the record of the byte at boff */
};
#define PIECE_LEN 28
#define COMP_HARD_MAX 1024
struct comp {
    uint64_t seq;
    uint32_t n, cap;
    struct piece *p; /* sorted by boff, non-overlapping; owned */
};
void comp_init(struct comp *c);
void comp_fini(struct comp *c);
void comp_copy(struct comp *dst, const struct comp *src);
/* Puts NEWP over C: the bytes it covers now come from it. */
void comp_overlay(struct comp *c, const struct piece *newp);
/* Drops every byte at or beyond block offset LIMIT. */
void comp_clip(struct comp *c, uint64_t limit);
size_t iv_comp_len(const struct comp *c);
void iv_comp_encode(uint8_t *v, const struct comp *c);
int iv_comp_decode(struct comp *c, const uint8_t *v, size_t vlen);

/* truncations (extents, block EXT_TRUNC_BLOCK): u8 ver, u64 seq, u64 size */
#define IV_TRUNC_LEN 17
void iv_trunc_encode(uint8_t *v, uint64_t seq, uint64_t size);
int iv_trunc_decode(const uint8_t *v, size_t vlen, uint64_t *seq, uint64_t *size);

/* xattrs: u8 ver, u64 seq, u32 length (XATTR_REMOVED: removed), bytes */
size_t iv_xattr_len(uint32_t len);
void iv_xattr_encode(uint8_t *v, uint64_t seq, const void *val, uint32_t len);
int iv_xattr_decode(const uint8_t *v, size_t vlen, uint64_t *seq, const uint8_t **val,
                    uint32_t *len);

/* records: u8 ver, u32 chunk, u64 offset, u32 length, u64 hlc */
#define IV_RECLOC_LEN 25
struct recloc {
    uint32_t chunk_no;
    uint64_t off;
    uint32_t len;
    uint64_t hlc;
};
void iv_recloc_encode(uint8_t *v, const struct recloc *l);
int iv_recloc_decode(struct recloc *l, const uint8_t *v, size_t vlen);

/* chunks, key no:4 'a': u8 ver, id[16], u32 volume, u64 assign order
 *   (the catalog seq of the assignment: a volume fills its chunks in this order)
 * chunks, key no:4 's': u8 ver, u64 applied tail (the index holds every record
 *   below it), u64 offset of the last applied record (0 = none) */
#define IV_ASSIGN_LEN 29
struct assigninfo {
    uint8_t id[16];
    uint32_t vol_no;
    uint64_t ord;
};
void iv_assign_encode(uint8_t *v, const struct assigninfo *a);
int iv_assign_decode(struct assigninfo *a, const uint8_t *v, size_t vlen);
#define IV_APPLIED_LEN 17
void iv_applied_encode(uint8_t *v, uint64_t applied, uint64_t last_rec);
int iv_applied_decode(const uint8_t *v, size_t vlen, uint64_t *applied, uint64_t *last_rec);

/* volumes 'v': u8 ver, id[16], u8 durability, u8 replicas, u16 len, name
 * volumes 'n': u8 ver, u32 vol */
struct volinfo {
    uint32_t vol_no;
    uint8_t id[16];
    uint8_t durability;
    uint8_t replicas;
    char name[256];
};
size_t iv_volume_len(const struct volinfo *v);
void iv_volume_encode(uint8_t *out, const struct volinfo *v);
int iv_volume_decode(struct volinfo *v, const uint8_t *in, size_t len);

/* snapshots: u8 ver, u32 origin, u64 seq, u64 hlc, vector (vclock.h) */
struct snapinfo {
    struct dot dot;
    uint64_t hlc;
    struct vv vv; /* owned by the caller (vv_init before decoding) */
};
size_t iv_snapshot_len(const struct snapinfo *s);
void iv_snapshot_encode(uint8_t *v, const struct snapinfo *s);
int iv_snapshot_decode(struct snapinfo *s, const uint8_t *v, size_t vlen);

#endif
