/*
 * attrcache.c — owns inode attributes that cairnd sent along with other
 * answers: a directory's attributes with the reply to a create, link,
 * unlink or rmdir in it, and every entry's attributes with a directory
 * listing (negcache.c). GETATTR and LOOKUP are answered from here.
 *
 * The kernel forgets a directory's attributes whenever an entry is added to
 * or removed from it, and with default_permissions it needs them again for
 * the next lookup there: one GETATTR round trip per new or removed file.
 * And a program that stats many files by path (git status, make) costs a
 * LOOKUP round trip per file once the kernel's entries expired.
 * Invariants: (1) an entry is served only within attr_timeout of the moment
 * cairnd was asked for it (born), and the kernel is told to keep it only
 * for what is left of that, so nothing is ever older than what the
 * kernel's own attribute cache could have shown; (2) every change this
 * mount makes drops the entries of the inodes it touches (the directory it
 * changes, the inode it changes, also each write when it is queued and
 * when it reached cairnd; AC_ALL when the inode is not known here) when it
 * starts and when its answer came (ac_changed, which also moves the
 * generation on), and an entry is only kept if no change started or ended
 * since its own call began (ac_gen): so no entry predates a change made
 * through this mount to that inode. Callers that fetch attributes first
 * wait for queued writes (fs_cairn), so no entry misses one either.
 * Threads: any; a fixed direct-mapped table under one lock.
 */
#include "fs.h"

#include <pthread.h>
#include <time.h>

#define AC_SLOTS 8192 /* inodes; direct-mapped by inode number */

static struct {
    pthread_mutex_t lock;
    uint64_t gen;
    struct slot {
        uint64_t ino; /* 0: empty */
        double born;
        cairn_attr_t attr;
    } slot[AC_SLOTS];
} ac = {.lock = PTHREAD_MUTEX_INITIALIZER};

double ac_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

uint64_t ac_gen(void)
{
    pthread_mutex_lock(&ac.lock);
    uint64_t g = ac.gen;
    pthread_mutex_unlock(&ac.lock);
    return g;
}

void ac_put(const cairn_attr_t *a, double born, uint64_t gen)
{
    pthread_mutex_lock(&ac.lock);
    if (gen == ac.gen && a->ino != 0) { /* (2) no change overlapped this one */
        struct slot *s = &ac.slot[a->ino % AC_SLOTS];
        s->ino = a->ino;
        s->born = born;
        s->attr = *a;
    }
    pthread_mutex_unlock(&ac.lock);
}

double ac_get(uint64_t ino, double max_age, cairn_attr_t *out)
{
    double left = 0;
    pthread_mutex_lock(&ac.lock);
    struct slot *s = &ac.slot[ino % AC_SLOTS];
    if (s->ino == ino && ino != 0) {
        left = max_age - (ac_now() - s->born); /* (1) */
        if (left > 0)
            *out = s->attr;
        else
            s->ino = 0;
    }
    pthread_mutex_unlock(&ac.lock);
    return left > 0 ? left : 0;
}

static void forget(uint64_t ino)
{
    if (ino != 0 && ac.slot[ino % AC_SLOTS].ino == ino)
        ac.slot[ino % AC_SLOTS].ino = 0;
}

void ac_changed(uint64_t a, uint64_t b)
{
    pthread_mutex_lock(&ac.lock);
    ac.gen++;
    if (a == AC_ALL || b == AC_ALL) {
        for (int i = 0; i < AC_SLOTS; i++)
            ac.slot[i].ino = 0;
    } else {
        forget(a);
        forget(b);
    }
    pthread_mutex_unlock(&ac.lock);
}
