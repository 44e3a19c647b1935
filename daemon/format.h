/*
 * format.h — every byte cairn puts on disk is defined here, and only here
 * (habit 3). In-memory structs live with their modules; the encoders and
 * decoders are record.c (chunk and record bytes), metakey.c (index keys and
 * values) and node.c (the node identity file).
 *
 * Byte order: chunk files and index values are little-endian; index keys are
 * big-endian so that byte order is numeric order (metakey.c).
 *
 * Versioning: every structure carries a version byte or word. A reader accepts
 * every version up to its own; a format change bumps the version and keeps
 * decoding the old one. Newer chunk files and records are refused with
 * CAIRN_ENEWER and never cut or rewritten (a downgrade must not lose what the
 * newer build wrote), so every later format keeps: the chunk header's magic,
 * version at 8 and CRC at 124; a record's magic, version at 4 and, from
 * version 3 on, the header checksum at 44 computed as in version 3.
 *
 * ---- chunk file: data_dir/chunks/<32 hex digits of the chunk id> ----------
 *   0  u8[8]  magic "CAIRNCHK"
 *   8  u32    format version (CHUNK_VERSION)
 *  12  u32    header length (CHUNK_HDR_LEN); records start here
 *  16  u8[16] chunk id (random)
 *  32  u64    capacity in bytes, header included
 *  40  u32    chunk number (node-local, dense, assigned at creation)
 *  44  u32    node id of the creator
 *  48  u64    creation time (unix ms)
 *  56  u8[68] zero
 * 124  u32    CRC-32 (zlib) of bytes [0,124)
 * then records back to back, never rewritten; the file ends at the tail.
 * The catalog is chunk number 0 with the all-zero id: it holds the node's
 * catalog records (volume created, chunk assigned) and has no capacity limit.
 *
 * ---- record (REC_VERSION 3; versions 1 and 2 are read too) -------------------
 *   0  u32  magic REC_MAGIC
 *   4  u8   format version
 *   5  u8   kind: REC_KIND_VOLUME (file system mutation) | REC_KIND_CATALOG
 *   6  u16  flags (0)
 *   8  u32  total length: header + context + payload
 *  12  u32  checksum of bytes [0,12) followed by [16,total): version 3:
 *           low 32 bits of XXH3_64bits_withSeed([16,total), seed =
 *           XXH3_64bits([0,12))); versions 1 and 2: zlib CRC-32
 *  16  u32  origin node id          } the record's dot
 *  20  u16  context entry count
 *  22  u16  zero
 *  24  u64  origin seq (1, 2, 3 ... per origin and volume) }
 *  32  u64  HLC stamp: unix ms << 16 | logical counter
 *  40  u32  payload length
 *  44  u32  header checksum: the same function over bytes [0,12) and
 *           [16,44) (version 1: zero, no header checksum): a verified
 *           header's length can be trusted when the rest is damaged
 *  48       context: count x { u32 origin, u64 seq } sorted by origin: the
 *           version vector the writer had seen when it wrote this record;
 *           then the payload: effects back to back, each
 *           { u8 type, u32 body length, body }
 *
 * Effects (bodies; strings are u16 length + bytes, never NUL-terminated):
 *   EFF_INODE    u64 ino, attr (ATTR_LEN bytes, below), str symlink target
 *   EFF_DIRENT   u64 parent, u64 child (0 = tombstone), u8 dtype, str name
 *   EFF_DATA     u64 ino, u64 offset, u32 length, bytes   (inside one block)
 *   EFF_TRUNC    u64 ino, u64 new size   (only ever shrinks)
 *   EFF_XATTR    u64 ino, str name, u32 value length (XATTR_REMOVED = gone), bytes
 *   EFF_SNAPSHOT str name   (the snapshot's vector is the record's context
 *                            plus the record's own dot)
 *   EFF_VOLUME   u32 volume number, u8[16] volume id, u8 durability,
 *                u8 replicas, str name                     (catalog only)
 *   EFF_ASSIGN   u8[16] chunk id, u32 volume number        (catalog only)
 * Every name (dirent, xattr, snapshot, volume) is 1..255 bytes without NUL.
 *
 * attr (ATTR_LEN = 76): u32 mode, u32 uid, u32 gid, u32 nlink, u64 size,
 *   u64 rdev, u64 parent directory, s64 atime ns, s64 mtime ns, s64 ctime ns,
 *   s64 birth time ns, u32 flags (0)
 *
 * ---- index values (RocksDB, metakey.c) ------------------------------------
 * Every value starts with u8 INDEX_VERSION. Versioned values then hold the
 * u64 seq of the record that wrote them (the origin is in the key).
 * INDEX_LAYOUT numbers the set of key families (metakey.h): 1 had no live
 * family. The index's marker, written last by a rebuild (engine.c), is key
 * INDEX_MARKER_KEY in the default family: u8 INDEX_LAYOUT, u32 node id. An
 * index without one, or of another layout, is rebuilt from the chunks at
 * open (it is derived from them).
 */
#ifndef CAIRN_FORMAT_H
#define CAIRN_FORMAT_H

#include <stdint.h>

#define CHUNK_MAGIC "CAIRNCHK"
#define CHUNK_VERSION 1u
#define CHUNK_HDR_LEN 128u
#define CHUNK_CATALOG_NO 0u

#define REC_MAGIC 0x43455243u /* "CREC" in file byte order */
#define REC_VERSION 3u
#define REC_HDR_LEN 48u
#define REC_CTX_ENTRY_LEN 12u
#define REC_MAX_LEN (8u << 20) /* decoders reject longer records */
#define REC_MAX_CTX 4096u

enum rec_kind { REC_KIND_VOLUME = 1, REC_KIND_CATALOG = 2 };

enum eff_type {
    EFF_INODE = 1,
    EFF_DIRENT = 2,
    EFF_DATA = 3,
    EFF_TRUNC = 4,
    EFF_XATTR = 5,
    EFF_SNAPSHOT = 6,
    EFF_VOLUME = 16,
    EFF_ASSIGN = 17,
};
#define EFF_HDR_LEN 5u
#define ATTR_LEN 76u
#define XATTR_REMOVED 0xffffffffu

/* File data is indexed in blocks of this size; one EFF_DATA never crosses a
 * block boundary, so reading any byte verifies at most one block of record. */
#define BLOCK_SIZE 65536u
#define BLOCK_SHIFT 16

#define INDEX_VERSION 1u
#define INDEX_LAYOUT 2u
#define INDEX_MARKER_KEY "engine"
#define INDEX_MARKER_LEN 5u

#define NODE_FILE_VERSION 1u

#endif
