/*
 * record.h — one mutation record: encode, decode, verify (pure, no I/O).
 *
 * Byte layout in format.h. A decoded record points into the buffer it was
 * decoded from (strings and data are not copied): the buffer must outlive it.
 * struct record owns its context vector and effect array (record_init/fini).
 */
#ifndef CAIRN_RECORD_H
#define CAIRN_RECORD_H

#include "attr.h"
#include "format.h"
#include "gather.h"
#include "vclock.h"

#include <stddef.h>
#include <stdint.h>

struct effect {
    uint8_t type;     /* enum eff_type */
    uint64_t ino;     /* INODE DATA TRUNC XATTR */
    struct attr attr; /* INODE */
    const char *str;  /* INODE symlink target; DIRENT, XATTR, SNAPSHOT, VOLUME name */
    uint16_t str_len;
    uint64_t parent;     /* DIRENT */
    uint64_t child;      /* DIRENT (0 = tombstone) */
    uint8_t dtype;       /* DIRENT: S_IFMT >> 12 of the child */
    uint64_t off;        /* DATA file offset */
    uint64_t size;       /* TRUNC new size */
    const uint8_t *data; /* DATA bytes, XATTR value */
    struct gather src;   /* DATA, when src.iov is set: its bytes (DATA unused) */
    uint32_t len;        /* DATA length; XATTR value length or XATTR_REMOVED */
    uint32_t vol_no;     /* VOLUME, ASSIGN */
    uint8_t id[16];      /* VOLUME id, ASSIGN chunk id */
    uint8_t durability;  /* VOLUME */
    uint8_t replicas;    /* VOLUME */
};

struct record {
    uint8_t kind; /* enum rec_kind */
    uint16_t flags;
    struct dot dot;
    uint64_t hlc;
    struct vv ctx;
    struct effect *eff;
    uint32_t n_eff, cap_eff;
};

void record_init(struct record *r);
void record_fini(struct record *r);
/* Drops the effects and context, keeps the allocations. */
void record_reset(struct record *r);
/* Appends a zeroed effect of TYPE and returns it (owned by R). */
struct effect *record_add(struct record *r, uint8_t type);

size_t record_encoded_len(const struct record *r);
/* Writes record_encoded_len(r) bytes, checksum included, to OUT. */
void record_encode(const struct record *r, uint8_t *out);

/* Checks the first REC_HDR_LEN bytes of a record (magic, version, kind,
 * lengths, zero fields, and from version 2 the header CRC) and returns its
 * total length in *TOTAL. CAIRN_EFORMAT on garbage; CAIRN_ENEWER for a
 * record of a newer format whose header checksum verifies. */
int record_peek(const uint8_t *hdr, size_t n, uint32_t *total);
/* Verifies the checksum and decodes LEN bytes into R (initialised).
 * CAIRN_ECHECKSUM when the bytes were damaged, CAIRN_EFORMAT when they do
 * not parse. On failure R is reset. */
int record_decode(struct record *r, const uint8_t *buf, size_t len);
/* A damaged volume record whose header verified (version 2 on), decoded
 * without its checksum: its header fields (dot, stamp: the header checksum
 * covers them), and its effects when they still parse (else none; none
 * either for a record whose checksum verifies but which does not decode).
 * Only its EFF_DATA effects may be used, for reads that verify the record
 * and report the damage: any other byte may be the damaged one.
 * CAIRN_EFORMAT when the header has no checksum or the record is not a
 * volume record. On failure R is reset. */
int record_salvage_data(struct record *r, const uint8_t *buf, size_t len);
/* Verifies the checksum of the LEN-byte record in BUF without decoding it
 * (the read path); record_peek must have accepted it. */
int record_verify(const uint8_t *buf, size_t len);

/* Byte offset, inside the record encoding, of the data of effect I (an
 * EFF_DATA of R), so the index can point readers straight at it. */
size_t record_data_offset(const struct record *r, uint32_t i);

void attr_encode(const struct attr *a, uint8_t *out); /* ATTR_LEN bytes */
void attr_decode(struct attr *a, const uint8_t *in);

/* 1 when NAME (LEN bytes) is a valid directory entry name. */
int name_valid(const char *name, size_t len);

#endif
