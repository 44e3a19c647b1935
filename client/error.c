/*
 * error.c — owns the text of every cairn error code (cairn_err.h).
 * Pure; thread-safe (static strings, and glibc's strerror for errno values,
 * whose known codes are static strings too).
 */
#include "cairn_err.h"

#include <string.h>

const char *cairn_strerror(int rv)
{
    switch (rv) {
    case 0:
        return "success";
    case CAIRN_ECHECKSUM:
        return "checksum mismatch (corrupted data)";
    case CAIRN_EFORMAT:
        return "unrecognised or malformed format";
    case CAIRN_ETORN:
        return "torn record at the end of a chunk";
    case CAIRN_EFAILED:
        return "volume is read-only after a failed flush (restart the node to recover)";
    case CAIRN_EINDEX:
        return "index is inconsistent with the chunk logs (run reindex)";
    case CAIRN_EFAULT:
        return "injected fault";
    case CAIRN_EUNAVAIL:
        return "service unavailable";
    case CAIRN_EPROTO:
        return "malformed protocol message";
    case CAIRN_ENEWER:
        return "written by a newer version of cairn (upgrade to read it)";
    default:
        break;
    }
    if (rv < 0 && rv > CAIRN_ERR_BASE)
        return strerror(-rv); /* glibc: static text for known values */
    return "unknown error";
}
