/*
 * admin.c — owns libcairn's administration calls (cairn.h): node, chunks,
 * volumes. Threads: any.
 */
#include "client.h"

#include <errno.h>
#include <stdio.h>

#define FREE(m) protobuf_c_message_free_unpacked(&(m)->base, NULL)

int cairn_node_status(cairn_t *c, cairn_node_status_t *out)
{
    Cairn__V1__AdminEmpty r = CAIRN__V1__ADMIN_EMPTY__INIT;
    Cairn__V1__NodeStatusReply *rep = NULL;
    int rv = cl_call(c, M_ADMIN_NODESTATUS, &r, &cairn__v1__node_status_reply__descriptor, &rep);
    if (rv != 0)
        return rv;
    memset(out, 0, sizeof *out);
    out->node_id = rep->node_id;
    cl_copy(out->name, sizeof out->name, &rep->name);
    snprintf(out->version, sizeof out->version, "%s", rep->version ? rep->version : "");
    snprintf(out->data_dir, sizeof out->data_dir, "%s", rep->data_dir ? rep->data_dir : "");
    out->uptime_s = rep->uptime_s;
    out->chunks = rep->chunks;
    out->volumes = rep->volumes;
    out->index_bytes = rep->index_bytes;
    out->bytes_appended = rep->bytes_appended;
    out->flushes = rep->flushes;
    out->checksum_errors = rep->checksum_errors;
    out->index_lost = rep->index_lost;
    out->damaged_located = rep->damaged_located;
    snprintf(out->index_rebuilt, sizeof out->index_rebuilt, "%s",
             rep->index_rebuilt ? rep->index_rebuilt : "");
    FREE(rep);
    return 0;
}

int cairn_node_reindex(cairn_t *c)
{
    Cairn__V1__AdminEmpty r = CAIRN__V1__ADMIN_EMPTY__INIT;
    Cairn__V1__AdminEmpty *rep = NULL;
    int rv = cl_call(c, M_ADMIN_NODEREINDEX, &r, &cairn__v1__admin_empty__descriptor, &rep);
    if (rv == 0)
        FREE(rep);
    return rv;
}

static int chunks_out(Cairn__V1__ChunkListReply *rep, cairn_chunk_fn fn, void *ctx)
{
    int rv = 0;
    for (size_t i = 0; i < rep->n_chunks && rv == 0; i++) {
        const Cairn__V1__ChunkInfo *p = rep->chunks[i];
        cairn_chunk_info_t ci;
        memset(&ci, 0, sizeof ci);
        snprintf(ci.id, sizeof ci.id, "%s", p->id ? p->id : "");
        ci.number = p->number;
        ci.capacity = p->capacity;
        ci.used = p->used;
        cl_copy(ci.volume, sizeof ci.volume, &p->volume);
        rv = fn ? fn(ctx, &ci) : 0;
    }
    FREE(rep);
    return rv == 1 ? 0 : rv;
}

int cairn_chunk_create(cairn_t *c, unsigned count, uint64_t size, cairn_chunk_fn fn, void *ctx)
{
    Cairn__V1__ChunkCreateRequest r = CAIRN__V1__CHUNK_CREATE_REQUEST__INIT;
    r.count = count;
    r.size = size;
    Cairn__V1__ChunkListReply *rep = NULL;
    int rv = cl_call(c, M_ADMIN_CHUNKCREATE, &r, &cairn__v1__chunk_list_reply__descriptor, &rep);
    return rv ? rv : chunks_out(rep, fn, ctx);
}

int cairn_chunk_list(cairn_t *c, cairn_chunk_fn fn, void *ctx)
{
    Cairn__V1__AdminEmpty r = CAIRN__V1__ADMIN_EMPTY__INIT;
    Cairn__V1__ChunkListReply *rep = NULL;
    int rv = cl_call(c, M_ADMIN_CHUNKLIST, &r, &cairn__v1__chunk_list_reply__descriptor, &rep);
    return rv ? rv : chunks_out(rep, fn, ctx);
}

int cairn_chunk_assign(cairn_t *c, const char *chunk_id, const char *vol)
{
    Cairn__V1__ChunkAssignRequest r = CAIRN__V1__CHUNK_ASSIGN_REQUEST__INIT;
    r.chunk = cl_bytes(chunk_id);
    r.volume = cl_bytes(vol);
    Cairn__V1__AdminEmpty *rep = NULL;
    int rv = cl_call(c, M_ADMIN_CHUNKASSIGN, &r, &cairn__v1__admin_empty__descriptor, &rep);
    if (rv == 0)
        FREE(rep);
    return rv;
}

int cairn_volume_create(cairn_t *c, const char *name, const char *durability)
{
    Cairn__V1__VolumeCreateRequest r = CAIRN__V1__VOLUME_CREATE_REQUEST__INIT;
    r.name = cl_bytes(name);
    r.durability = cl_bytes(durability);
    Cairn__V1__AdminEmpty *rep = NULL;
    int rv = cl_call(c, M_ADMIN_VOLUMECREATE, &r, &cairn__v1__admin_empty__descriptor, &rep);
    if (rv == 0)
        FREE(rep);
    return rv;
}

int cairn_volume_list(cairn_t *c, cairn_volume_fn fn, void *ctx)
{
    Cairn__V1__AdminEmpty r = CAIRN__V1__ADMIN_EMPTY__INIT;
    Cairn__V1__VolumeListReply *rep = NULL;
    int rv = cl_call(c, M_ADMIN_VOLUMELIST, &r, &cairn__v1__volume_list_reply__descriptor, &rep);
    if (rv != 0)
        return rv;
    for (size_t i = 0; i < rep->n_volumes && rv == 0; i++) {
        const Cairn__V1__VolumeInfo *p = rep->volumes[i];
        cairn_volume_info_t vi;
        memset(&vi, 0, sizeof vi);
        cl_copy(vi.name, sizeof vi.name, &p->name);
        snprintf(vi.id, sizeof vi.id, "%s", p->id ? p->id : "");
        cl_copy(vi.durability, sizeof vi.durability, &p->durability);
        vi.chunks = p->chunks;
        vi.capacity = p->capacity;
        vi.used = p->used;
        vi.read_only = p->read_only;
        rv = fn(ctx, &vi);
    }
    FREE(rep);
    return rv == 1 ? 0 : rv;
}
