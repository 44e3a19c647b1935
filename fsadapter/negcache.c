/*
 * negcache.c — owns the full name lists of small directories this mount is
 * working in, so a lookup of a name that is not there needs no round trip.
 *
 * Creating a file costs the kernel a LOOKUP of the new name first (it must
 * know the name is free), and that lookup was one of the three round trips
 * per created file. A directory's list starts empty when this mount creates
 * it, or is fetched with one listing (at most NC_MAX names, else the
 * directory is marked too big and never listed here again) once a lookup
 * there missed; names this mount adds or removes update it.
 * Invariants: (1) a list answers "absent" only within entry_timeout of the
 * moment it was known complete (the mkdir's answer, or when its listing was
 * asked for), so a name made elsewhere stays invisible no longer than the
 * kernel's own negative entries would keep it; (2) a list never misses a
 * name this mount made: every name change calls nc_begin before its call
 * and nc_end after it, and a fetched list is only installed if no change
 * was in flight or happened while it was fetched (gen, busy); (3) a change
 * that failed, and every rename, drop the lists of the directories involved
 * (whatever cairnd did, it is no longer known here). Past views never use it
 * (the kernel caches their entries for an hour anyway).
 * Threads: any; a fixed table under one lock, the listing fetched outside it.
 */
#include "fs.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NC_SLOTS 256
#define NC_MAX 1000 /* names; one listing page of cairnd's */

struct list {
    uint64_t dir; /* 0: empty slot */
    int big;      /* more than NC_MAX names: never listed again */
    double known; /* when the list was known complete; 0: expired, list again */
    char **name;  /* sorted, owned */
    size_t n, cap;
};

static struct {
    pthread_mutex_t lock;
    uint64_t gen; /* (2) moves at every nc_begin and nc_end */
    long busy;    /* (2) name changes in flight */
    struct list slot[NC_SLOTS];
} nc = {.lock = PTHREAD_MUTEX_INITIALIZER};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void list_clear(struct list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->name[i]);
    free(l->name);
    memset(l, 0, sizeof *l);
}

/* Index of NAME in L's sorted names, or where it would go (*found = 0). */
static size_t find(const struct list *l, const char *name, int *found)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(l->name[mid], name);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

/* Adds NAME; a list that would outgrow NC_MAX (or memory) becomes big. */
static void list_add(struct list *l, const char *name)
{
    int found;
    size_t i = find(l, name, &found);
    if (found || l->big)
        return;
    if (l->n == NC_MAX) {
        uint64_t dir = l->dir;
        list_clear(l);
        l->dir = dir;
        l->big = 1;
        return;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **p = realloc(l->name, cap * sizeof *p);
        if (!p) {
            l->known = 0;
            return;
        }
        l->name = p;
        l->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy) {
        l->known = 0;
        return;
    }
    memmove(l->name + i + 1, l->name + i, (l->n - i) * sizeof *l->name);
    l->name[i] = copy;
    l->n++;
}

static void list_del(struct list *l, const char *name)
{
    int found;
    size_t i = find(l, name, &found);
    if (!found)
        return;
    free(l->name[i]);
    memmove(l->name + i, l->name + i + 1, (l->n - i - 1) * sizeof *l->name);
    l->n--;
}

static struct list *slot_of(uint64_t dir)
{
    struct list *l = &nc.slot[dir % NC_SLOTS];
    return l->dir == dir ? l : NULL;
}

/* A fresh (empty, expired) list for DIR in its slot, evicting another. */
static struct list *slot_claim(uint64_t dir)
{
    struct list *l = &nc.slot[dir % NC_SLOTS];
    if (l->dir != dir) {
        list_clear(l);
        l->dir = dir;
    }
    return l;
}

void nc_begin(void)
{
    pthread_mutex_lock(&nc.lock);
    nc.gen++;
    nc.busy++;
    pthread_mutex_unlock(&nc.lock);
}

void nc_end(int rv, enum nc_change what, uint64_t dir, const char *name, uint64_t other)
{
    pthread_mutex_lock(&nc.lock);
    nc.gen++;
    nc.busy--;
    struct list *l = slot_of(dir);
    if (rv != 0 || what == NC_RENAMED) { /* (3) */
        if (l)
            list_clear(l);
        if (what == NC_RENAMED && (l = slot_of(other)) != NULL)
            list_clear(l);
    } else if (what == NC_MADE_DIR) {
        if (l)
            list_add(l, name);
        l = slot_claim(other); /* the new directory: known empty now */
        list_clear(l);
        l->dir = other;
        l->known = now_s();
    } else if (what == NC_ADDED && l) {
        list_add(l, name);
    } else if (what == NC_REMOVED && l) {
        list_del(l, name);
    }
    pthread_mutex_unlock(&nc.lock);
}

static int fetch_one(void *ctx, const char *name, uint64_t ino, uint32_t type,
                     const cairn_attr_t *attr)
{
    (void)ino, (void)type, (void)attr;
    struct list *l = ctx;
    list_add(l, name);
    return l->big ? 1 : 0; /* stop as soon as it is too big */
}

/* Lists DIR into a private list and installs it if nothing changed (2). */
static void refresh(struct fsctx *fs, uint64_t dir)
{
    pthread_mutex_lock(&nc.lock);
    uint64_t gen = nc.gen;
    long busy = nc.busy;
    pthread_mutex_unlock(&nc.lock);
    if (busy)
        return;
    struct list fresh;
    memset(&fresh, 0, sizeof fresh);
    fresh.dir = dir;
    double asked = now_s();
    /* after = "": from the start, and not a read (no relatime atime update) */
    int rv = cairn_readdir(fs_cairn(fs), fs->volume, dir, NULL, "", 0, fetch_one, &fresh);
    pthread_mutex_lock(&nc.lock);
    struct list *l = slot_of(dir);
    if (rv == 0 && l && gen == nc.gen && nc.busy == 0) {
        list_clear(l);
        *l = fresh;
        l->known = l->big ? 0 : asked;
    } else {
        list_clear(&fresh);
        if (rv != 0 && l) /* not listable now: back to plain lookups */
            list_clear(l);
    }
    pthread_mutex_unlock(&nc.lock);
}

int nc_absent(struct fsctx *fs, uint64_t dir, const char *name, double *left)
{
    if (fs->readonly || fs->entry_timeout <= 0 || strlen(name) > NAME_MAX)
        return 0; /* a name too long is cairnd's to refuse (ENAMETOOLONG) */
    for (int pass = 0; pass < 2; pass++) {
        pthread_mutex_lock(&nc.lock);
        struct list *l = slot_of(dir);
        if (!l || l->big) {
            pthread_mutex_unlock(&nc.lock);
            return 0;
        }
        double age = now_s() - l->known;
        if (l->known > 0 && age < fs->entry_timeout) { /* (1) */
            int found;
            (void)find(l, name, &found);
            pthread_mutex_unlock(&nc.lock);
            if (!found)
                *left = fs->entry_timeout - age;
            return !found;
        }
        pthread_mutex_unlock(&nc.lock);
        if (pass == 0)
            refresh(fs, dir);
    }
    return 0;
}

void nc_missed(struct fsctx *fs, uint64_t dir)
{
    if (fs->readonly || fs->entry_timeout <= 0)
        return;
    pthread_mutex_lock(&nc.lock);
    if (!slot_of(dir))
        (void)slot_claim(dir); /* expired: the next lookup here lists it */
    pthread_mutex_unlock(&nc.lock);
}
