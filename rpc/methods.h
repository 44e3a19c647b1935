/*
 * methods.h — the method paths of cairn.v1, indexed by one enum shared by
 * the server (daemon/service.c) and the client (libcairn), so both register
 * the same table. The order is internal (never on the wire).
 */
#ifndef CAIRN_METHODS_H
#define CAIRN_METHODS_H

enum rpc_method_id {
    M_FS_LOOKUP,
    M_FS_RESOLVE,
    M_FS_GETATTR,
    M_FS_SETATTR,
    M_FS_MKNOD,
    M_FS_UNLINK,
    M_FS_RMDIR,
    M_FS_RENAME,
    M_FS_LINK,
    M_FS_READLINK,
    M_FS_READDIR,
    M_FS_READ,
    M_FS_READSTREAM,
    M_FS_WRITE,
    M_FS_WRITESTREAM,
    M_FS_FSYNC,
    M_FS_STATFS,
    M_FS_SETXATTR,
    M_FS_GETXATTR,
    M_FS_LISTXATTR,
    M_FS_REMOVEXATTR,
    M_FS_HISTORY,
    M_FS_SNAPSHOTCREATE,
    M_FS_SNAPSHOTLIST,
    M_ADMIN_NODESTATUS,
    M_ADMIN_NODEREINDEX,
    M_ADMIN_CHUNKCREATE,
    M_ADMIN_CHUNKLIST,
    M_ADMIN_CHUNKASSIGN,
    M_ADMIN_VOLUMECREATE,
    M_ADMIN_VOLUMELIST,
    M_PEER_PING,
    M_COUNT
};

/* "/cairn.v1.Fs/Lookup", ... */
extern const char *const rpc_method_paths[M_COUNT];
/* "Fs.Lookup", ... (metric labels) */
extern const char *const rpc_method_names[M_COUNT];

#endif
