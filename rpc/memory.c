/*
 * memory.c — owns the process-wide malloc settings that suit the RPC layer's
 * traffic (rpc.h: rpc_tune_malloc).
 *
 * Every streamed piece passes through 1 MiB buffers (the packed message,
 * the received message made contiguous, codec.c). With glibc's
 * defaults these are mmap'ed or trimmed back to the kernel after each
 * piece, so every piece pays page faults and page zeroing (in perf, more
 * than the copies themselves; reads ran at a third of the speed). Keeping
 * buffers up to 4 MiB on the heap and trimming it only beyond 64 MiB free
 * lets the next piece reuse the memory of the last one.
 * Invariant: only executables call this (it changes the whole process);
 * libcairn passes it on as cairn_tune_malloc() for programs that choose it.
 */
#include "rpc.h"

#include <malloc.h>

#define HEAP_PIECE_MAX (4u << 20)  /* larger blocks are still mmap'ed */
#define TRIM_THRESHOLD (64u << 20) /* free heap kept before trimming */

int rpc_tune_malloc(void)
{
    /* mallopt returns 1 on success */
    if (mallopt(M_MMAP_THRESHOLD, (int)HEAP_PIECE_MAX) != 1 ||
        mallopt(M_TRIM_THRESHOLD, (int)TRIM_THRESHOLD) != 1)
        return -1;
    return 0;
}
