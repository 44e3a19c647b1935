/*
 * dir.c — owns directory handles: a listing fetched from cairnd a page at a
 * time as the kernel reads on, so a directory of any size costs one pass.
 *
 * Invariants: (1) the offset the kernel passes back is an index into the
 * handle's entries (1 = ".", 2 = "..", 3.. = entries), so resuming is O(1)
 * and never re-lists; offset 0 (opendir, rewinddir) lists afresh; (2)
 * entries are fetched in name order after the last fetched name, so a
 * listing never repeats or skips an entry that existed throughout it; (3)
 * READDIRPLUS entries of the live volume carry an inode and attributes only
 * while attrcache.c still holds them (the fetch put them there) and no name
 * changed through this mount since the entry was fetched (nc_gen): a page
 * is read by the kernel over many requests, and an entry whose inode or
 * name this mount changed since (a write, truncate, unlink, rename, link)
 * goes as a bare name, so the kernel never takes an older size, a removed
 * name or a name that now means another inode from a listing.
 * Threads: the kernel serialises calls on one handle, but the handle lock
 * makes that not matter.
 */
#include "fs.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct dent {
    char *name;
    uint64_t ino;
    uint32_t type;
    cairn_attr_t attr;
    int has_attr;
    uint64_t names; /* nc_gen when fetched (3) */
};

struct dirh {
    pthread_mutex_t lock;
    struct dent *e;
    size_t n, cap;
    int eof;
    uint64_t parent; /* for ".." */
};

#define DIR_PAGE 1000

struct fetch {
    struct dirh *d;
    size_t added;
    double born; /* when cairnd was asked (attrcache.c (1)) */
    uint64_t gen;
    uint64_t names; /* nc_gen before cairnd was asked (3) */
};

static int add_entry(void *ctx, const char *name, uint64_t ino, uint32_t type,
                     const cairn_attr_t *attr)
{
    struct fetch *f = ctx;
    struct dirh *d = f->d;
    if (f->added == DIR_PAGE)
        return 1; /* a page is enough for now: stop the listing */
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 256;
        struct dent *e = realloc(d->e, cap * sizeof *e);
        if (!e)
            return -ENOMEM;
        d->e = e;
        d->cap = cap;
    }
    struct dent *de = &d->e[d->n];
    de->name = strdup(name);
    if (!de->name)
        return -ENOMEM;
    de->ino = ino;
    de->type = type;
    de->has_attr = attr != NULL;
    de->names = f->names;
    if (attr) {
        de->attr = *attr;
        ac_put(attr, f->born, f->gen); /* (3) */
    }
    d->n++;
    f->added++;
    return 0;
}

/* Fetches the next page after the last entry held (2). */
static int fetch_more(struct fsctx *fs, fuse_ino_t ino, struct dirh *d, int plus)
{
    char last[256];
    const char *after = NULL;
    if (d->n) {
        snprintf(last, sizeof last, "%s", d->e[d->n - 1].name);
        after = last;
    }
    /* the generations before the queued writes are sent (attrcache.c (2)),
     * and those writes first: their sizes are in the listing */
    struct fetch f = {d, 0, ac_now(), ac_gen(), nc_gen()};
    cairn_t *c = fs_cairn(fs);
    int rv = cairn_readdir(c, fs->volume, ino, &fs->at, after, plus, add_entry, &f);
    if (!after && !fs->readonly)
        ac_changed(ino, 0); /* a listing from the start moves the atime (relatime) */
    if (rv == 0 && f.added < DIR_PAGE)
        d->eof = 1;
    return rv;
}

void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct fsctx *fs = fuse_req_userdata(req);
    cairn_attr_t a;
    int rv = cairn_getattr(fs_cairn(fs), fs->volume, ino, &fs->at, &a);
    if (rv == 0 && !S_ISDIR(a.mode))
        rv = -ENOTDIR;
    if (rv != 0) {
        fuse_reply_err(req, fs_errno(rv));
        return;
    }
    struct dirh *d = calloc(1, sizeof *d);
    if (!d) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    pthread_mutex_init(&d->lock, NULL);
    d->parent = a.parent ? a.parent : ino;
    fi->fh = (uint64_t)(uintptr_t)d;
    fi->cache_readdir = fs->readonly; /* a past view never changes */
    if (fuse_reply_open(req, fi) != 0) {
        pthread_mutex_destroy(&d->lock);
        free(d);
    }
}

/* E for a READDIRPLUS entry: its attributes if still good (3), else
 * nothing (e->ino stays 0: the kernel gets the bare name). */
static void plus_entry(const struct fsctx *fs, const struct dent *de, struct fuse_entry_param *e)
{
    cairn_attr_t a = de->attr;
    double left = fs->attr_timeout; /* a past view never changes */
    if (!fs->readonly) {
        if (nc_gen() != de->names)
            return; /* a name changed since: this one may mean another inode now */
        left = ac_get(de->ino, fs->attr_timeout, &a);
        if (left <= 0)
            return;
    }
    fs_stat(&e->attr, &a);
    e->ino = de->ino;
    e->attr_timeout = left;
    double entry_left = fs->entry_timeout - (fs->attr_timeout - left); /* less its age */
    e->entry_timeout = entry_left > 0 ? entry_left : 0;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi, int plus)
{
    struct fsctx *fs = fuse_req_userdata(req);
    struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;
    char *buf = malloc(size);
    if (!buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    pthread_mutex_lock(&d->lock);
    if (off == 0 && (d->n > 0 || d->eof)) { /* rewinddir: the directory as it is now (1) */
        for (size_t i = 0; i < d->n; i++)
            free(d->e[i].name);
        d->n = 0;
        d->eof = 0;
    }
    size_t used = 0;
    int rv = 0;
    for (off_t i = off; used < size; i++) {
        struct stat st;
        memset(&st, 0, sizeof st);
        const char *name;
        size_t n;
        struct fuse_entry_param e;
        memset(&e, 0, sizeof e);
        if (i == 0 || i == 1) { /* "." and ".." (1) */
            name = i == 0 ? "." : "..";
            st.st_ino = i == 0 ? ino : d->parent;
            st.st_mode = S_IFDIR;
        } else {
            size_t k = (size_t)(i - 2);
            while (k >= d->n && !d->eof && rv == 0) /* a seekdir may skip pages */
                rv = fetch_more(fs, ino, d, plus);
            if (rv != 0 || k >= d->n)
                break;
            struct dent *de = &d->e[k];
            name = de->name;
            st.st_ino = de->ino;
            st.st_mode = de->type;
            if (plus && de->has_attr)
                plus_entry(fs, de, &e);
        }
        if (plus) {
            if (e.ino == 0) { /* "." and "..": no entry, just the name */
                e.attr = st;
            }
            n = fuse_add_direntry_plus(req, buf + used, size - used, name, &e, i + 1);
        } else {
            n = fuse_add_direntry(req, buf + used, size - used, name, &st, i + 1);
        }
        if (n > size - used)
            break;
        used += n;
    }
    pthread_mutex_unlock(&d->lock);
    if (rv != 0 && used == 0)
        fuse_reply_err(req, fs_errno(rv));
    else
        fuse_reply_buf(req, buf, used);
    free(buf);
}

void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    do_readdir(req, ino, size, off, fi, 0);
}

void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    do_readdir(req, ino, size, off, fi, 1);
}

void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;
    for (size_t i = 0; i < d->n; i++)
        free(d->e[i].name);
    free(d->e);
    pthread_mutex_destroy(&d->lock);
    free(d);
    fuse_reply_err(req, 0);
}
