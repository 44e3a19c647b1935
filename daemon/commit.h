/*
 * commit.h — group commit: many threads waiting for durability share one
 * flush. A generation counter names "everything written so far"; a waiter
 * asks for its generation and either finds it durable, becomes the leader
 * that runs one flush for everyone, or sleeps until a leader's flush covers
 * it. A failed flush is sticky: every waiter, now and later, gets its error.
 * Threads: any; state under c->lock. The flush runs without the lock.
 */
#ifndef CAIRN_COMMIT_H
#define CAIRN_COMMIT_H

#include <pthread.h>
#include <stdint.h>

/* Makes everything written up to at least *UPTO durable; sets *UPTO to the
 * generation it covered (read before flushing). 0 or a negative error. */
typedef int (*commit_flush_fn)(void *ctx, uint64_t *upto);

struct commit {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint64_t durable; /* every generation <= durable is on disk */
    int flushing;
    int err; /* sticky */
    uint64_t flushes, waits;
    commit_flush_fn flush;
    void *ctx;
};

void commit_init(struct commit *c, commit_flush_fn flush, void *ctx);
void commit_fini(struct commit *c);
/* Blocks until generation GEN is durable. */
int commit_wait(struct commit *c, uint64_t gen);
/* The sticky error, or 0. */
int commit_error(struct commit *c);

#endif
