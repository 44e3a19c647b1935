/*
 * methods.c — owns the method path table (methods.h). Pure data.
 */
#include "methods.h"

const char *const rpc_method_paths[M_COUNT] = {
    "/cairn.v1.Fs/Lookup",        "/cairn.v1.Fs/Resolve",        "/cairn.v1.Fs/GetAttr",
    "/cairn.v1.Fs/SetAttr",       "/cairn.v1.Fs/Mknod",          "/cairn.v1.Fs/Unlink",
    "/cairn.v1.Fs/Rmdir",         "/cairn.v1.Fs/Rename",         "/cairn.v1.Fs/Link",
    "/cairn.v1.Fs/Readlink",      "/cairn.v1.Fs/ReadDir",        "/cairn.v1.Fs/Read",
    "/cairn.v1.Fs/ReadStream",    "/cairn.v1.Fs/Write",          "/cairn.v1.Fs/WriteStream",
    "/cairn.v1.Fs/Fsync",         "/cairn.v1.Fs/StatFs",         "/cairn.v1.Fs/SetXattr",
    "/cairn.v1.Fs/GetXattr",      "/cairn.v1.Fs/ListXattr",      "/cairn.v1.Fs/RemoveXattr",
    "/cairn.v1.Fs/History",       "/cairn.v1.Fs/SnapshotCreate", "/cairn.v1.Fs/SnapshotList",
    "/cairn.v1.Admin/NodeStatus", "/cairn.v1.Admin/NodeReindex", "/cairn.v1.Admin/ChunkCreate",
    "/cairn.v1.Admin/ChunkList",  "/cairn.v1.Admin/ChunkAssign", "/cairn.v1.Admin/VolumeCreate",
    "/cairn.v1.Admin/VolumeList", "/cairn.v1.Peer/Ping",
};

const char *const rpc_method_names[M_COUNT] = {
    "Fs.Lookup",         "Fs.Resolve",         "Fs.GetAttr",        "Fs.SetAttr",
    "Fs.Mknod",          "Fs.Unlink",          "Fs.Rmdir",          "Fs.Rename",
    "Fs.Link",           "Fs.Readlink",        "Fs.ReadDir",        "Fs.Read",
    "Fs.ReadStream",     "Fs.Write",           "Fs.WriteStream",    "Fs.Fsync",
    "Fs.StatFs",         "Fs.SetXattr",        "Fs.GetXattr",       "Fs.ListXattr",
    "Fs.RemoveXattr",    "Fs.History",         "Fs.SnapshotCreate", "Fs.SnapshotList",
    "Admin.NodeStatus",  "Admin.NodeReindex",  "Admin.ChunkCreate", "Admin.ChunkList",
    "Admin.ChunkAssign", "Admin.VolumeCreate", "Admin.VolumeList",  "Peer.Ping",
};
