/* lend.h — slices over lent bytes (lend.c), for codec.c. */
#ifndef CAIRN_RPC_LEND_H
#define CAIRN_RPC_LEND_H

#include "rpc.h"

#include <grpc/slice.h>
#include <stdint.h>

/* A slice over P[0..N), which L's bytes hold: it keeps L alive until gRPC
 * releases it. */
grpc_slice lend_slice(struct rpc_lend *l, const void *p, size_t n);
/* The field number whose bytes L lends. */
uint32_t lend_field(const struct rpc_lend *l);

#endif
