/*
 * cairn_err.h — the one error convention of cairn (public).
 *
 * Every cairn call returns int: 0 on success, a negative value on failure.
 * System errors are -errno (e.g. -ENOENT, -ENOSPC). cairn's own codes live in
 * a reserved range below every errno value, so the two never collide.
 */
#ifndef CAIRN_ERR_H
#define CAIRN_ERR_H

#define CAIRN_ERR_BASE (-4000)
/* Bytes read from disk or network fail their checksum. */
#define CAIRN_ECHECKSUM (CAIRN_ERR_BASE - 1)
/* Bytes are not in a format this build understands (magic, version, lengths). */
#define CAIRN_EFORMAT (CAIRN_ERR_BASE - 2)
/* A record ends beyond the data that was written: a torn tail after a crash. */
#define CAIRN_ETORN (CAIRN_ERR_BASE - 3)
/* The volume stopped accepting writes after a failed flush; restart recovers it. */
#define CAIRN_EFAILED (CAIRN_ERR_BASE - 4)
/* The index disagrees with the chunk logs; rebuild it with reindex. */
#define CAIRN_EINDEX (CAIRN_ERR_BASE - 5)
/* A fault was injected by a test (CAIRN_FAULT builds only). */
#define CAIRN_EFAULT (CAIRN_ERR_BASE - 6)
/* The peer or daemon cannot be reached. */
#define CAIRN_EUNAVAIL (CAIRN_ERR_BASE - 7)
/* A protocol message was malformed. */
#define CAIRN_EPROTO (CAIRN_ERR_BASE - 8)
/* Bytes on disk were written by a newer cairn (a format version this build
 * does not know): run that version; nothing is cut or rewritten. */
#define CAIRN_ENEWER (CAIRN_ERR_BASE - 9)
#define CAIRN_ERR_LAST (CAIRN_ERR_BASE - 9)

/* Text for any code returned by cairn (static storage, never NULL). */
const char *cairn_strerror(int rv);

#endif
