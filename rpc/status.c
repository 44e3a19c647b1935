/*
 * status.c — owns the one table between cairn errors and gRPC status codes
 * (habit 7). A reply's trailing metadata "cairn-errno" carries the exact
 * error for C clients; any other client sees a standard code.
 * Pure; thread-safe.
 */
#include "rpc.h"

#include "cairn_err.h"

#include <errno.h>
#include <grpc/status.h>

static const struct {
    int err;
    grpc_status_code code;
} table[] = {
    {-ENOENT, GRPC_STATUS_NOT_FOUND},
    {-ENODATA, GRPC_STATUS_NOT_FOUND},
    {-EEXIST, GRPC_STATUS_ALREADY_EXISTS},
    {-EINVAL, GRPC_STATUS_INVALID_ARGUMENT},
    {-ENAMETOOLONG, GRPC_STATUS_INVALID_ARGUMENT},
    {-E2BIG, GRPC_STATUS_INVALID_ARGUMENT},
    {-ERANGE, GRPC_STATUS_OUT_OF_RANGE},
    {-EFBIG, GRPC_STATUS_OUT_OF_RANGE},
    {-ENOSPC, GRPC_STATUS_RESOURCE_EXHAUSTED},
    {-EDQUOT, GRPC_STATUS_RESOURCE_EXHAUSTED},
    {-EMLINK, GRPC_STATUS_RESOURCE_EXHAUSTED},
    {-EMSGSIZE, GRPC_STATUS_RESOURCE_EXHAUSTED}, /* a reply too long for one message */
    {-ENOTEMPTY, GRPC_STATUS_FAILED_PRECONDITION},
    {-ENOTDIR, GRPC_STATUS_FAILED_PRECONDITION},
    {-EISDIR, GRPC_STATUS_FAILED_PRECONDITION},
    {-EBUSY, GRPC_STATUS_FAILED_PRECONDITION},
    {-ELOOP, GRPC_STATUS_FAILED_PRECONDITION},
    {-EROFS, GRPC_STATUS_FAILED_PRECONDITION},
    {CAIRN_EFAILED, GRPC_STATUS_FAILED_PRECONDITION},
    {-EPERM, GRPC_STATUS_PERMISSION_DENIED},
    {-EACCES, GRPC_STATUS_PERMISSION_DENIED},
    {-ENOSYS, GRPC_STATUS_UNIMPLEMENTED},
    {-EOPNOTSUPP, GRPC_STATUS_UNIMPLEMENTED},
    {-ETIMEDOUT, GRPC_STATUS_DEADLINE_EXCEEDED},
    {-ECANCELED, GRPC_STATUS_CANCELLED},
    {CAIRN_ECHECKSUM, GRPC_STATUS_DATA_LOSS},
    {CAIRN_ETORN, GRPC_STATUS_DATA_LOSS},
    {CAIRN_EFORMAT, GRPC_STATUS_DATA_LOSS},
    {CAIRN_EINDEX, GRPC_STATUS_FAILED_PRECONDITION}, /* until a reindex or restart: no loss */
    {CAIRN_ENEWER, GRPC_STATUS_FAILED_PRECONDITION},
    {CAIRN_EUNAVAIL, GRPC_STATUS_UNAVAILABLE},
    {CAIRN_EPROTO, GRPC_STATUS_INVALID_ARGUMENT},
};

int rpc_status_from_err(int err)
{
    if (err == 0)
        return GRPC_STATUS_OK;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].err == err)
            return table[i].code;
    return GRPC_STATUS_INTERNAL;
}

int rpc_err_from_status(int code, int errno_md)
{
    if (code == GRPC_STATUS_OK)
        return 0;
    if (errno_md < 0 && errno_md >= CAIRN_ERR_LAST)
        return errno_md;
    switch (code) {
    case GRPC_STATUS_NOT_FOUND:
        return -ENOENT;
    case GRPC_STATUS_ALREADY_EXISTS:
        return -EEXIST;
    case GRPC_STATUS_INVALID_ARGUMENT:
        return -EINVAL;
    case GRPC_STATUS_OUT_OF_RANGE:
        return -ERANGE;
    case GRPC_STATUS_RESOURCE_EXHAUSTED:
        /* cairnd's ENOSPC carries cairn-errno (returned above); without it
         * this is gRPC's own message size limit, on either side */
        return -EMSGSIZE;
    case GRPC_STATUS_FAILED_PRECONDITION:
        return -EPERM;
    case GRPC_STATUS_PERMISSION_DENIED:
    case GRPC_STATUS_UNAUTHENTICATED:
        return -EACCES;
    case GRPC_STATUS_UNIMPLEMENTED:
        return -ENOSYS;
    case GRPC_STATUS_DEADLINE_EXCEEDED:
        return -ETIMEDOUT;
    case GRPC_STATUS_CANCELLED:
        /* Not a handler's answer (that would carry cairn-errno), and our own
         * cancels return their own error: the server cancelled the call
         * because it is stopping, or the stream broke. */
        return CAIRN_EUNAVAIL;
    case GRPC_STATUS_DATA_LOSS:
        return CAIRN_ECHECKSUM;
    case GRPC_STATUS_UNAVAILABLE:
        return CAIRN_EUNAVAIL;
    default:
        return -EIO;
    }
}
