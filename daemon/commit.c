/*
 * commit.c — owns group commit (commit.h).
 *
 * State machine of one struct commit:
 *   IDLE --commit_wait, gen > durable--> FLUSHING (caller is leader) [commit_wait]
 *   FLUSHING --flush ok--> IDLE, durable = covered gen, waiters woken
 *   FLUSHING --flush failed--> FAILED (sticky; every wait returns err)
 * Invariants: (1) at most one flush runs at a time; (2) durable only grows,
 * and only to a generation the flush read before it started syncing; (3) a
 * failed flush is never retried: after a failed fsync the page cache may
 * have dropped the dirty pages, so a retry could "succeed" over lost data.
 */
#include "commit.h"

void commit_init(struct commit *c, commit_flush_fn flush, void *ctx)
{
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    c->durable = 0;
    c->flushing = 0;
    c->err = 0;
    c->flushes = c->waits = 0;
    c->flush = flush;
    c->ctx = ctx;
}

void commit_fini(struct commit *c)
{
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
}

int commit_error(struct commit *c)
{
    pthread_mutex_lock(&c->lock);
    int e = c->err;
    pthread_mutex_unlock(&c->lock);
    return e;
}

int commit_wait(struct commit *c, uint64_t gen)
{
    pthread_mutex_lock(&c->lock);
    c->waits++;
    while (!c->err && c->durable < gen) {
        if (c->flushing) {
            pthread_cond_wait(&c->cond, &c->lock);
            continue;
        }
        c->flushing = 1; /* (1) this thread leads one flush */
        pthread_mutex_unlock(&c->lock);
        uint64_t upto = 0;
        int rv = c->flush(c->ctx, &upto);
        pthread_mutex_lock(&c->lock);
        c->flushing = 0;
        c->flushes++;
        if (rv != 0)
            c->err = rv; /* (3) */
        else if (upto > c->durable)
            c->durable = upto; /* (2) */
        pthread_cond_broadcast(&c->cond);
    }
    int rv = c->err;
    pthread_mutex_unlock(&c->lock);
    return rv;
}
