/*
 * wbehind.c — owns the mount's write-behind queue: WRITE requests are
 * answered once their bytes are copied here, and a sender thread passes
 * them on to cairnd in order, so the program, the kernel and the RPC to
 * cairnd work at the same time instead of one after another.
 *
 * Invariants:
 * (1) order: the queue is FIFO and one item at a time is out of it being
 *     sent (busy), so cairnd sees writes in the order the kernel sent them;
 *     a write that continues the newest queued write of the same inode is
 *     appended to it (one larger RPC);
 * (2) barrier: every other operation that talks to cairnd first waits until
 *     every write answered before it started has reached cairnd (fs_cairn in
 *     ops.c), so no reply ever carries a size or bytes older than a write
 *     the kernel was told was done; a barrier that finds no item out sends
 *     the queued ones itself rather than wake the sender and wait for it;
 * (3) errors are never lost: a write that fails in the sender leaves its
 *     error on the inode, with a sequence number, as Linux's errseq_t; each
 *     open file samples the sequence when opened (an error nobody was told
 *     of yet is reported to the next opener too) and keeps two marks: its
 *     next write reports a newer error once (moving the write mark), and
 *     its fsync and (if opened for writing) every close report each error
 *     newer than the fsync mark, which only fsync moves, as Linux and NFS
 *     do: the kernel drops a write's error when the write(2) it belongs to
 *     had already written part (a short count), and a forked child's close
 *     does not swallow its parent's error; one reader's close does not
 *     either. Error records are kept until the mount ends, at most
 *     WB_FAILED_MAX of them (the oldest reported one goes first);
 * (4) memory: at most WB_MAX_BYTES of buffers are held, plus WB_SPARES
 *     spare big buffers kept for reuse; a writer waits for room; buffers
 *     still lent to calls given up on (7) are not held but counted apart,
 *     and at most WB_MAX_BYTES of them: past that an item is sent copied;
 * (5) a write changes its inode's size and times: it tells attrcache.c so
 *     when it is queued and again when it reached cairnd;
 * (6) the sender is woken (kicked) only for a queue worth sending at once:
 *     a write of WB_KICK bytes or more, a second item, a writer waiting for
 *     room, or the stop; a lone small write (a small file being written and
 *     closed) waits for its file's close or fsync, whose barrier sends it in
 *     the closing thread, or for the sender's next look, at most WB_LINGER_S
 *     later (the sender looks every WB_LINGER_S while writes come, and sleeps
 *     without a deadline once a look found nothing). A created file thus
 *     costs its close one RPC and no thread hand-off (fs_create: five
 *     wake-ups fewer per file).
 * (7) an item is sent from its own buffer (cairn_write_lent: no copy of
 *     its bytes into each RPC message), and the buffer goes back to the
 *     spares (or is freed) when libcairn lets go of it, usually before the
 *     call returns, and never while gRPC may still read it; a call given up
 *     on behind a cairnd that stopped reading keeps it until that send ends.
 * (8) an outage costs the queue one timeout, not one per item: when a send
 *     times out (cairnd stayed away or silent for the whole timeout=),
 *     every write queued by then fails without a call, with EIO kept for
 *     its open files (3), so a barrier behind them waits one timeout=
 *     instead of one per queued item (128 small items: over an hour at the
 *     default 30 s); writes queued after that are tried again. A send that
 *     fails at once because the connection broke (cairnd restarting) does
 *     not count: the next one waits for cairnd to be back.
 * Durability is unchanged: fsync drains the queue, then asks cairnd to sync;
 * until then a write is only in this process (for at most about WB_LINGER_S
 * when nothing closes or syncs it), like any write not fsync'ed.
 * Known limit: a write that fails in the sender leaves its bytes in the
 * kernel's page cache until the file is next opened (keep_cache is off).
 * Dropping them at once (fuse_lowlevel_notify_inval_inode from a thread of
 * its own) was tried and taken out: the kernel waits in it for page locks,
 * and at unmount a WRITE nobody will read any more holds one, so the call,
 * and with it the mount's exit, would never return.
 * Threads: any FUSE thread enqueues and drains (and may send, (2)); one
 * sender thread; all state under wb.lock.
 */
#include "fs.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WB_MAX_BYTES (32u << 20)
/* Buffer of a large write, with room to append: sent as one stream of
 * CAIRN_CALL_MAX pieces, which gets the mount's timeout= once per piece. */
#define WB_BIG (8 * CAIRN_CALL_MAX)
#define WB_SMALL (256u << 10) /* buffer of a small write */
#define WB_BIG_FROM (64u << 10)
/* Big buffers kept for the next big write: malloc maps a fresh 8 MiB buffer
 * and the first touch of every page faults and zeroes it, which cost more
 * CPU than the copies (perf: a third of a sequential write 447-472 MB/s,
 * 612-662 MB/s with reuse). */
#define WB_SPARES (WB_MAX_BYTES / WB_BIG)
#define WB_KICK (64u << 10) /* (6) */
#define WB_LINGER_S 1       /* (6) the sender's look at a queue nobody kicked */

struct item {
    struct item *next;
    fuse_ino_t ino;
    uint64_t off;
    size_t len, cap;
    uint64_t ticket; /* the newest write in it */
    char *data;
};

struct failed {
    struct failed *next;
    fuse_ino_t ino;
    int err;      /* positive errno: the first since the last report */
    uint64_t seq; /* (3) this inode's newest failure */
    int reported; /* some open file's fsync or close was told of it */
    int told;     /* ... or its write (which the kernel may drop) */
};

#define WB_FAILED_MAX 1024

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;   /* an item sent: for barriers and writers waiting for room */
    pthread_cond_t wakeup; /* the sender's alone (6): kicked, or stopping */
    struct fsctx *fs;
    struct item *head, *tail; /* tail may be appended to; head is next out */
    size_t held;              /* buffer bytes, queued and in the sender (4) */
    size_t lent;              /* buffer bytes sent and not given back yet (4), (7) */
    uint64_t queued, sent;    /* tickets (2) */
    struct failed *failed;
    unsigned n_failed;
    uint64_t err_seq;       /* (3) */
    char *spare[WB_SPARES]; /* (4) */
    unsigned n_spare;
    int stop, started;
    int busy;           /* (1) an item is out of the queue, being sent */
    int kicked;         /* (6) the sender is to send what is queued */
    uint64_t down_upto; /* (8) tickets queued when cairnd was found unreachable */
    int idle;           /* (6) the sender waits without a deadline */
    pthread_t thread;
} wb = {.lock = PTHREAD_MUTEX_INITIALIZER,
        .cond = PTHREAD_COND_INITIALIZER,
        .wakeup = PTHREAD_COND_INITIALIZER};

/* Under lock: the inode's error record, or NULL. */
static struct failed *find_failed(fuse_ino_t ino)
{
    for (struct failed *f = wb.failed; f; f = f->next)
        if (f->ino == ino)
            return f;
    return NULL;
}

/* Under lock: the inode's error record if its error is newer than mark
 * UPTO, or NULL (3). */
static struct failed *newer_failure(fuse_ino_t ino, uint64_t upto)
{
    struct failed *f = find_failed(ino);
    return f && f->seq > upto ? f : NULL;
}

/* Frees record F, logging its error if no open file was told of it. */
static void free_failed(struct failed *f)
{
    if (!f->told)
        fuse_log(FUSE_LOG_ERR, "cairn-fuse: write to inode %lu failed and was never reported: %s\n",
                 (unsigned long)f->ino, strerror(f->err));
    free(f);
}

/* Under lock: makes room for one more record (3): drops the oldest one that
 * was reported, or else the oldest (logged: nobody will hear of it). */
static void drop_oldest(void)
{
    struct failed **victim = NULL;
    for (int reported = 1; reported >= 0 && !victim; reported--)
        for (struct failed **p = &wb.failed; *p; p = &(*p)->next)
            if ((*p)->reported == reported && (!victim || (*p)->seq < (*victim)->seq))
                victim = p;
    if (!victim)
        return; /* no record at all */
    struct failed *f = *victim;
    *victim = f->next;
    free_failed(f);
    wb.n_failed--;
}

/* Under lock. */
static void note_error(fuse_ino_t ino, int err)
{
    struct failed *f = find_failed(ino);
    if (!f) {
        if (wb.n_failed >= WB_FAILED_MAX)
            drop_oldest();
        f = calloc(1, sizeof *f);
        if (!f) { /* out of memory: the log is all that is left */
            fuse_log(FUSE_LOG_ERR, "cairn-fuse: write to inode %lu failed: %s\n",
                     (unsigned long)ino, strerror(err));
            return;
        }
        f->ino = ino;
        f->err = err;
        f->next = wb.failed;
        wb.failed = f;
        wb.n_failed++;
    } else if (f->told) {
        f->err = err; /* the first since the last report */
    }
    f->reported = f->told = 0;
    f->seq = ++wb.err_seq;
}

void wb_sample(fuse_ino_t ino, struct wb_marks *m)
{
    pthread_mutex_lock(&wb.lock);
    struct failed *f = find_failed(ino);
    m->synced = m->written = f && f->reported ? f->seq : 0; /* (3) */
    pthread_mutex_unlock(&wb.lock);
}

/* Under lock: a buffer of CAP bytes, a spare one if it is big. */
static char *buf_get(size_t cap)
{
    if (cap == WB_BIG && wb.n_spare > 0)
        return wb.spare[--wb.n_spare];
    return malloc(cap);
}

/* Under lock: keeps a big buffer for reuse (4), frees any other. */
static void buf_put(char *p, size_t cap)
{
    if (cap == WB_BIG && wb.n_spare < WB_SPARES)
        wb.spare[wb.n_spare++] = p;
    else
        free(p);
}

/* A sent item's buffer is ours again (7): cairn_write_lent's DONE, or
 * right after a copying cairn_write. */
static void give_back(void *arg)
{
    struct item *it = arg;
    pthread_mutex_lock(&wb.lock);
    wb.lent -= it->cap;
    if (wb.stop)
        free(it->data); /* the spares may be gone already */
    else
        buf_put(it->data, it->cap);
    pthread_mutex_unlock(&wb.lock);
    free(it);
}

/* Under lock, HEAD non-NULL and nothing busy: sends the head item (1),
 * with the lock released around the RPC. */
static void send_head(void)
{
    struct item *it = wb.head;
    wb.head = it->next; /* out of the queue: nothing appends to it now */
    if (!wb.head)
        wb.tail = NULL;
    wb.busy = 1;
    fuse_ino_t ino = it->ino; /* (7) IT is give_back's once sent */
    uint64_t ticket = it->ticket;
    size_t cap = it->cap;
    int lend = wb.lent + cap <= WB_MAX_BYTES; /* (4) */
    int unreachable = ticket <= wb.down_upto; /* (8) */
    wb.lent += cap;
    pthread_mutex_unlock(&wb.lock);
    int rv;
    if (unreachable) {
        rv = CAIRN_EUNAVAIL;
        give_back(it);
    } else if (lend) {
        rv = cairn_write_lent(wb.fs->c, wb.fs->volume, ino, it->off, it->data, it->len, give_back,
                              it, NULL);
    } else {
        rv = cairn_write(wb.fs->c, wb.fs->volume, ino, it->off, it->data, it->len, NULL);
        give_back(it); /* copied: the buffer is ours at once */
    }
    ac_changed(ino, 0); /* (5) */
    pthread_mutex_lock(&wb.lock);
    if (rv != 0)
        note_error(ino, fs_errno(rv));
    if (!unreachable && rv == -ETIMEDOUT)
        wb.down_upto = wb.queued; /* (8) */
    wb.sent = ticket;
    wb.held -= cap;
    wb.busy = 0;
    if (!wb.head)
        wb.kicked = 0;
    if (wb.stop || (wb.head && wb.kicked))
        pthread_cond_signal(&wb.wakeup); /* a barrier sent this one: the rest is the sender's */
    pthread_cond_broadcast(&wb.cond);
}

static void *sender(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&wb.lock);
    int quiet = 0; /* the last look found nothing queued */
    for (;;) {
        if (wb.head && !wb.busy && (wb.kicked || wb.stop)) {
            send_head();
            quiet = 0;
            continue;
        }
        if (wb.stop && !wb.head && !wb.busy)
            break;                           /* stopping, and everything is sent */
        if (quiet && !wb.head && !wb.busy) { /* (6) an idle mount: no looks */
            wb.idle = 1;
            pthread_cond_wait(&wb.wakeup, &wb.lock);
            wb.idle = 0;
            quiet = 0;
            continue;
        }
        struct timespec until; /* monotonic: a clock step must not stretch it */
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += WB_LINGER_S;
        if (pthread_cond_clockwait(&wb.wakeup, &wb.lock, CLOCK_MONOTONIC, &until) == ETIMEDOUT) {
            if (wb.head)
                wb.kicked = 1; /* (6) a write nobody closed: its time is up */
            else
                quiet = 1;
        }
    }
    pthread_mutex_unlock(&wb.lock);
    return NULL;
}

/* Under lock: asks the sender to send what is queued (6). */
static void kick(void)
{
    if (!wb.kicked) {
        wb.kicked = 1;
        pthread_cond_signal(&wb.wakeup);
    }
}

void wb_init(struct fsctx *fs)
{
    wb.fs = fs;
}

int wb_start(void)
{
    wb.stop = 0;
    if (pthread_create(&wb.thread, NULL, sender, NULL) != 0)
        return -1;
    wb.started = 1;
    return 0;
}

void wb_stop(void)
{
    if (!wb.started)
        return;
    pthread_mutex_lock(&wb.lock);
    wb.stop = 1;
    pthread_cond_signal(&wb.wakeup);
    pthread_mutex_unlock(&wb.lock);
    pthread_join(wb.thread, NULL);
    wb.started = 0;
    while (wb.n_spare > 0)
        free(wb.spare[--wb.n_spare]);
    while (wb.failed) {
        struct failed *f = wb.failed;
        wb.failed = f->next;
        free_failed(f);
    }
    wb.n_failed = 0;
}

int wb_write(fuse_ino_t ino, struct wb_marks *m, const char *buf, size_t size, uint64_t off)
{
    ac_changed(ino, 0); /* (5) */
    if (!wb.started) {  /* no sender: write through */
        int rv = cairn_write(wb.fs->c, wb.fs->volume, ino, off, buf, size, NULL);
        ac_changed(ino, 0);
        return rv ? fs_errno(rv) : 0;
    }
    pthread_mutex_lock(&wb.lock);
    struct failed *f = newer_failure(ino, m->written);
    if (f) { /* (3) told, not taken as reported: fsync and close still are */
        m->written = f->seq;
        f->told = 1;
        int err = f->err;
        pthread_mutex_unlock(&wb.lock);
        return err;
    }
    struct item *t = wb.tail;
    if (t && t->ino == ino && t->off + t->len == off && t->cap - t->len >= size) {
        memcpy(t->data + t->len, buf, size); /* (1) appended, still queued */
        t->len += size;
        t->ticket = ++wb.queued;
        if (t->len >= WB_KICK)
            kick(); /* (6) */
        goto queued;
    }
    size_t cap = size >= WB_BIG_FROM ? WB_BIG : WB_SMALL;
    if (cap < size)
        cap = size;
    while (wb.held && wb.held + cap > WB_MAX_BYTES) { /* (4) */
        kick();
        pthread_cond_wait(&wb.cond, &wb.lock);
    }
    struct item *it = calloc(1, sizeof *it);
    char *data = it ? buf_get(cap) : NULL;
    if (!data) {
        free(it);
        pthread_mutex_unlock(&wb.lock);
        return ENOMEM;
    }
    memcpy(data, buf, size);
    *it = (struct item){NULL, ino, off, size, cap, ++wb.queued, data};
    wb.held += cap;
    if (wb.tail)
        wb.tail->next = it;
    else
        wb.head = it;
    wb.tail = it;
    if (size >= WB_KICK || wb.head != it || wb.busy)
        kick(); /* (6) */
    else if (wb.idle)
        pthread_cond_signal(&wb.wakeup); /* (6) so that it looks again in a second */
queued:
    pthread_mutex_unlock(&wb.lock);
    /* (5) again once queued: a listing that drained the queue while this
     * write waited for the lock did not see it, and must not keep its size */
    ac_changed(ino, 0);
    return 0;
}

void wb_drain(void)
{
    pthread_mutex_lock(&wb.lock);
    uint64_t mine = wb.queued;
    while (wb.sent < mine) {
        if (wb.head && !wb.busy && wb.started)
            send_head(); /* (2) no hand-off: this thread would only wait */
        else
            pthread_cond_wait(&wb.cond, &wb.lock);
    }
    pthread_mutex_unlock(&wb.lock);
}

int wb_settle(fuse_ino_t ino, struct wb_marks *m, int fsync)
{
    wb_drain();
    pthread_mutex_lock(&wb.lock);
    struct failed *f = newer_failure(ino, m->synced);
    int err = f ? f->err : 0;
    if (f) {
        f->reported = f->told = 1;
        if (fsync) { /* (3) only an fsync moves the mark */
            m->synced = f->seq;
            if (m->written < f->seq)
                m->written = f->seq;
        }
    }
    pthread_mutex_unlock(&wb.lock);
    return err;
}
