/*
 * negcache.c — owns the full name lists (name -> inode) of small directories
 * this mount is working in, so a lookup of a name that is not there needs
 * no round trip, nor one of a name that is, while attrcache.c holds its
 * attributes (fetched with the list).
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
 * was in flight or happened while it was fetched (gen, busy); the
 * attributes fetched with it are kept only under attrcache.c's own rule
 * (2), and a list answers "present" only with the inode; (3) a change
 * that failed, and every rename, drop the lists of the directories involved
 * (whatever cairnd did, it is no longer known here), and an open that met a
 * name made elsewhere drops them all (nc_forget_all: the kernel's retry may
 * follow a symlink into any directory). Past views never use it
 * (the kernel caches their entries for an hour anyway).
 * Threads: any; a fixed table under one lock, the listing fetched outside it.
 */
#include "fs.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NC_SLOTS 256
#define NC_MAX 1000 /* names; one listing page of cairnd's */

struct entry {
    char *name;   /* owned */
    uint64_t ino; /* 0: not known here */
};

struct list {
    uint64_t dir;    /* 0: empty slot */
    int big;         /* more than NC_MAX names: never listed again */
    double known;    /* when the list was known complete; 0: expired, list again */
    int listed;      /* fetched from cairnd (with attributes), not just made here */
    struct entry *e; /* sorted by name */
    size_t n, cap;
};

static struct {
    pthread_mutex_t lock;
    uint64_t gen; /* (2) moves at every nc_begin and nc_end */
    long busy;    /* (2) name changes in flight */
    struct list slot[NC_SLOTS];
} nc = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void list_clear(struct list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->e[i].name);
    free(l->e);
    memset(l, 0, sizeof *l);
}

/* Index of NAME in L's sorted names, or where it would go (*found = 0). */
static size_t find(const struct list *l, const char *name, int *found)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(l->e[mid].name, name);
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

/* A list that cannot hold every name: emptied, and never used (big). */
static void list_give_up(struct list *l)
{
    uint64_t dir = l->dir;
    list_clear(l);
    l->dir = dir;
    l->big = 1;
}

/* Adds NAME (or sets its inode); a list that would outgrow NC_MAX (or
 * memory) gives up. */
static void list_add(struct list *l, const char *name, uint64_t ino)
{
    int found;
    size_t i = find(l, name, &found);
    if (found)
        l->e[i].ino = ino;
    if (found || l->big)
        return;
    if (l->n == NC_MAX) {
        list_give_up(l);
        return;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct entry *p = realloc(l->e, cap * sizeof *p);
        if (!p) {
            list_give_up(l);
            return;
        }
        l->e = p;
        l->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy) {
        list_give_up(l);
        return;
    }
    memmove(l->e + i + 1, l->e + i, (l->n - i) * sizeof *l->e);
    l->e[i].name = copy;
    l->e[i].ino = ino;
    l->n++;
}

static void list_del(struct list *l, const char *name)
{
    int found;
    size_t i = find(l, name, &found);
    if (!found)
        return;
    free(l->e[i].name);
    memmove(l->e + i, l->e + i + 1, (l->n - i - 1) * sizeof *l->e);
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

void nc_forget_all(void)
{
    pthread_mutex_lock(&nc.lock);
    nc.gen++;
    for (size_t i = 0; i < NC_SLOTS; i++)
        list_clear(&nc.slot[i]);
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
            list_add(l, name, other);
        l = slot_claim(other); /* the new directory: known empty now */
        list_clear(l);
        l->dir = other;
        l->known = ac_now();
    } else if (what == NC_ADDED && l) {
        list_add(l, name, other);
    } else if (what == NC_REMOVED && l) {
        list_del(l, name);
    }
    pthread_mutex_unlock(&nc.lock);
}

struct fetch {
    struct list l;      /* private until installed */
    cairn_attr_t *attr; /* [NC_MAX], for attrcache.c */
    size_t n_attr;
};

static int fetch_one(void *ctx, const char *name, uint64_t ino, uint32_t type,
                     const cairn_attr_t *attr)
{
    (void)type;
    struct fetch *f = ctx;
    list_add(&f->l, name, ino);
    if (attr && f->n_attr < NC_MAX)
        f->attr[f->n_attr++] = *attr;
    return f->l.big ? 1 : 0; /* stop as soon as it is too big */
}

/* Lists DIR with attributes into a private list and installs it if
 * nothing changed (2). */
static void refresh(struct fsctx *fs, uint64_t dir)
{
    pthread_mutex_lock(&nc.lock);
    uint64_t gen = nc.gen;
    long busy = nc.busy;
    pthread_mutex_unlock(&nc.lock);
    if (busy)
        return;
    struct fetch f;
    memset(&f, 0, sizeof f);
    f.l.dir = dir;
    if (!(f.attr = malloc(NC_MAX * sizeof *f.attr)))
        return;
    uint64_t agen = ac_gen();
    double asked = ac_now();
    /* after = "": from the start, and not a read (no relatime atime update);
     * fs_cairn: every queued write reaches cairnd first (attrcache.c (2)) */
    int rv = cairn_readdir(fs_cairn(fs), fs->volume, dir, NULL, "", 1, fetch_one, &f);
    pthread_mutex_lock(&nc.lock);
    struct list *l = slot_of(dir);
    if (rv == 0 && l && gen == nc.gen && nc.busy == 0) {
        list_clear(l);
        *l = f.l;
        l->known = l->big ? 0 : asked;
        l->listed = 1;
        /* the attributes only with the list: a name change overlapping the
         * fetch (it moves link counts) moves nc.gen, not always ac.gen */
        for (size_t i = 0; i < f.n_attr && !l->big; i++)
            ac_put(&f.attr[i], asked, agen);
    } else {
        list_clear(&f.l);
        if (rv != 0 && l) /* not listable now: back to plain lookups */
            list_clear(l);
    }
    pthread_mutex_unlock(&nc.lock);
    free(f.attr);
}

enum nc_known nc_lookup(struct fsctx *fs, uint64_t dir, const char *name, cairn_attr_t *attr,
                        double *left, double *attr_left)
{
    *attr_left = 0;
    if (fs->readonly || fs->entry_timeout <= 0 || strlen(name) > NAME_MAX)
        return NC_UNKNOWN; /* a name too long is cairnd's to refuse (ENAMETOOLONG) */
    for (int pass = 0; pass < 2; pass++) {
        pthread_mutex_lock(&nc.lock);
        struct list *l = slot_of(dir);
        if (!l || l->big) {
            pthread_mutex_unlock(&nc.lock);
            return NC_UNKNOWN;
        }
        double age = ac_now() - l->known;
        if (l->known > 0 && age < fs->entry_timeout) { /* (1) */
            int found, listed = l->listed;
            size_t i = find(l, name, &found);
            uint64_t ino = found ? l->e[i].ino : 0;
            pthread_mutex_unlock(&nc.lock);
            *left = fs->entry_timeout - age;
            if (!found)
                return NC_ABSENT;
            if (ino != 0 && (*attr_left = ac_get(ino, fs->attr_timeout, attr)) > 0)
                return NC_PRESENT;
            if (listed || pass == 1)
                return NC_PRESENT; /* without attributes: the caller asks */
            /* a list made here has no attributes yet: one listing fetches
             * them all, instead of one lookup per name */
        } else {
            pthread_mutex_unlock(&nc.lock);
        }
        if (pass == 0)
            refresh(fs, dir);
    }
    return NC_UNKNOWN;
}

uint64_t nc_gen(void)
{
    pthread_mutex_lock(&nc.lock);
    uint64_t g = nc.gen;
    pthread_mutex_unlock(&nc.lock);
    return g;
}

uint64_t nc_ino(uint64_t dir, const char *name)
{
    uint64_t ino = 0;
    pthread_mutex_lock(&nc.lock);
    struct list *l = slot_of(dir);
    int found = 0;
    if (l) {
        size_t i = find(l, name, &found);
        if (found)
            ino = l->e[i].ino;
    }
    pthread_mutex_unlock(&nc.lock);
    return ino;
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
