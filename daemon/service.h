/*
 * service.h — the RPC handlers of cairnd: decoded request -> engine call ->
 * reply. No logic of their own beyond validating arguments.
 */
#ifndef CAIRN_SERVICE_H
#define CAIRN_SERVICE_H

#include "rpc.h"

#include <time.h>

struct engine;
struct metrics;
struct config;

struct service {
    struct engine *e;
    struct metrics *m;
    const struct config *cfg;
    struct timespec started; /* CLOCK_MONOTONIC at start: the uptime's origin */
};

/* The method table, indexed by enum rpc_method_id (methods.h). */
extern const struct rpc_method service_methods[];

#endif
