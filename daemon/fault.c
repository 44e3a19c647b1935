/*
 * fault.c — owns the table of armed fault points (CAIRN_FAULT builds only).
 *
 * Invariants: (1) a point that was never armed never fails; while no point
 * is armed a check is one atomic load (no lock: the I/O paths of a fault
 * build's cairnd check on every call), otherwise one lock and a table scan
 * of at most FAULT_MAX entries; (2) while some point is armed, hits are
 * counted for every named point that was armed or checked since the last
 * reset. Threads: any; the table is guarded by fault_lock.
 */
#ifdef CAIRN_FAULT
#include "fault.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define FAULT_MAX 16

struct fault_point {
    char name[24];
    unsigned long hits;
    unsigned long nth; /* 0 = not armed */
    int err;
    int sticky;
};

static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fault_point fault_tab[FAULT_MAX];
static _Atomic int fault_any_armed; /* (1) set under fault_lock */

static struct fault_point *lookup(const char *name, int create)
{
    for (int i = 0; i < FAULT_MAX; i++)
        if (fault_tab[i].name[0] && strcmp(fault_tab[i].name, name) == 0)
            return &fault_tab[i];
    if (!create)
        return NULL;
    for (int i = 0; i < FAULT_MAX; i++)
        if (!fault_tab[i].name[0]) {
            strncpy(fault_tab[i].name, name, sizeof fault_tab[i].name - 1);
            return &fault_tab[i];
        }
    return NULL;
}

void fault_arm(const char *name, unsigned long nth, int err, int sticky)
{
    pthread_mutex_lock(&fault_lock);
    struct fault_point *f = lookup(name, 1);
    if (f) {
        f->hits = 0;
        f->nth = nth;
        f->err = err;
        f->sticky = sticky;
        fault_any_armed = 1;
    }
    pthread_mutex_unlock(&fault_lock);
}

void fault_reset(void)
{
    pthread_mutex_lock(&fault_lock);
    memset(fault_tab, 0, sizeof fault_tab);
    fault_any_armed = 0;
    pthread_mutex_unlock(&fault_lock);
}

unsigned long fault_hits(const char *name)
{
    pthread_mutex_lock(&fault_lock);
    struct fault_point *f = lookup(name, 0);
    unsigned long n = f ? f->hits : 0;
    pthread_mutex_unlock(&fault_lock);
    return n;
}

int fault_check(const char *name)
{
    if (!atomic_load_explicit(&fault_any_armed, memory_order_acquire))
        return 0; /* (1) */
    int rv = 0;
    pthread_mutex_lock(&fault_lock);
    if (fault_any_armed) {
        struct fault_point *f = lookup(name, 0);
        if (f) {
            f->hits++;
            if (f->nth && (f->hits == f->nth || (f->sticky && f->hits > f->nth)))
                rv = f->err;
        }
    }
    pthread_mutex_unlock(&fault_lock);
    return rv;
}
int fault_arm_spec(const char *spec)
{
    const char *c = spec ? strchr(spec, ':') : NULL;
    if (!c || c == spec || (size_t)(c - spec) >= sizeof fault_tab[0].name)
        return -EINVAL;
    char name[sizeof fault_tab[0].name], *end;
    memcpy(name, spec, (size_t)(c - spec));
    name[c - spec] = '\0';
    if (c[1] < '0' || c[1] > '9') /* strtoul would take " 1", "+1", "-1" */
        return -EINVAL;
    errno = 0;
    unsigned long nth = strtoul(c + 1, &end, 10);
    if (errno || nth == 0 || (*end && strcmp(end, ":sticky") != 0))
        return -EINVAL;
    fault_arm(name, nth, -EIO, *end != '\0');
    return 0;
}
#endif
