/*
 * jobs.c — owns a pool of threads that run submitted jobs (jobs.h).
 * Invariants: (1) jobs start in the order they were submitted; (2) every job
 * submitted before jobs_stop runs before jobs_stop returns; (3) the queue is
 * intrusive: submitting never allocates and never fails; (4) a job waiting
 * in the queue always has a thread awake to take it or coming back for it
 * (a requeue wakes none only when its caller's thread is the one coming).
 * Threads: any may submit; jobs_start and jobs_stop belong to the owner.
 */
#include "jobs.h"

#include <pthread.h>
#include <stdlib.h>

struct jobs {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct job *head, *tail; /* under lock */
    int stopping;            /* under lock */
    int n;
    pthread_t threads[];
};

static void *jobs_thread(void *arg)
{
    struct jobs *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        struct job *j = p->head;
        if (!j) {
            if (p->stopping)
                break;
            pthread_cond_wait(&p->cond, &p->lock);
            continue;
        }
        p->head = j->next;
        if (!p->head)
            p->tail = NULL;
        pthread_mutex_unlock(&p->lock);
        j->run(j);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

struct jobs *jobs_start(int n)
{
    if (n < 1)
        n = 1;
    struct jobs *p = calloc(1, sizeof *p + (size_t)n * sizeof p->threads[0]);
    if (!p)
        abort();
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    while (p->n < n && pthread_create(&p->threads[p->n], NULL, jobs_thread, p) == 0)
        p->n++;
    if (p->n == 0) {
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
    }
    return p;
}

static void enqueue(struct jobs *p, struct job *j, int wake_if_alone)
{
    j->next = NULL;
    pthread_mutex_lock(&p->lock);
    int alone = !p->head;
    if (p->tail)
        p->tail->next = j;
    else
        p->head = j;
    p->tail = j;
    if (wake_if_alone || !alone)
        pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

void jobs_submit(struct jobs *p, struct job *j)
{
    enqueue(p, j, 1);
}

void jobs_requeue(struct jobs *p, struct job *j)
{
    enqueue(p, j, 0);
}

void jobs_stop(struct jobs *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1; /* (2) the threads leave once the queue is empty */
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->n; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
