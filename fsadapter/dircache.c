/*
 * dircache.c — owns the attributes of directories that this mount's own
 * creates, links, unlinks and rmdirs just changed, as cairnd sent them
 * along with the reply.
 *
 * The kernel forgets a directory's attributes whenever an entry is added to
 * or removed from it, and with default_permissions it needs them again for
 * the next lookup there: one GETATTR round trip per new or removed file. Answering that
 * GETATTR from here saves it.
 * Invariants: (1) an entry is served at most once and only within
 * attr_timeout of its arrival, so it is never older than what the kernel's
 * own attribute cache could have shown; (2) every change this mount makes
 * drops the entries of the inodes it touches (the directory it changes, the
 * inode it changes; DC_ALL for renames and rmdirs, which touch more) when it
 * starts and when its answer came (dc_changed, which also moves the
 * generation on), and an entry is only kept if no change started or ended
 * since its own call began (dc_gen): so no entry predates a change made
 * through this mount to that directory. Changes to other inodes leave it:
 * creating files round-robin in many directories keeps one entry each.
 * Threads: any; a small fixed table under one lock.
 */
#include "fs.h"

#include <pthread.h>
#include <time.h>

#define DC_SLOTS 1024 /* directories; direct-mapped by inode number */

static struct {
    pthread_mutex_t lock;
    uint64_t gen;
    struct slot {
        uint64_t ino; /* 0: empty */
        double born;
        cairn_attr_t attr;
    } slot[DC_SLOTS];
} dc = {.lock = PTHREAD_MUTEX_INITIALIZER};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

uint64_t dc_gen(void)
{
    pthread_mutex_lock(&dc.lock);
    uint64_t g = dc.gen;
    pthread_mutex_unlock(&dc.lock);
    return g;
}

void dc_put(const cairn_attr_t *a, uint64_t gen)
{
    pthread_mutex_lock(&dc.lock);
    if (gen != dc.gen) { /* (2) another change overlapped this one */
        pthread_mutex_unlock(&dc.lock);
        return;
    }
    struct slot *s = &dc.slot[a->ino % DC_SLOTS];
    s->ino = a->ino;
    s->born = now_s();
    s->attr = *a;
    pthread_mutex_unlock(&dc.lock);
}

int dc_take(uint64_t ino, double max_age, cairn_attr_t *out)
{
    int hit = 0;
    pthread_mutex_lock(&dc.lock);
    struct slot *s = &dc.slot[ino % DC_SLOTS];
    if (s->ino == ino && ino != 0) {
        hit = now_s() - s->born < max_age; /* (1) */
        if (hit)
            *out = s->attr;
        s->ino = 0;
    }
    pthread_mutex_unlock(&dc.lock);
    return hit;
}

static void forget(uint64_t ino)
{
    if (ino != 0 && dc.slot[ino % DC_SLOTS].ino == ino)
        dc.slot[ino % DC_SLOTS].ino = 0;
}

void dc_changed(uint64_t a, uint64_t b)
{
    pthread_mutex_lock(&dc.lock);
    dc.gen++;
    if (a == DC_ALL || b == DC_ALL) {
        for (int i = 0; i < DC_SLOTS; i++)
            dc.slot[i].ino = 0;
    } else {
        forget(a);
        forget(b);
    }
    pthread_mutex_unlock(&dc.lock);
}
