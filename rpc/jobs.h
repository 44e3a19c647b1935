/*
 * jobs.h — a fixed pool of threads that run submitted jobs in the order they
 * were submitted (jobs.c). Private to rpc/.
 */
#ifndef CAIRN_JOBS_H
#define CAIRN_JOBS_H

/* A job, embedded in its owner's struct; RUN gets it back. A job is
 * submitted again only after RUN has started. */
struct job {
    struct job *next;
    void (*run)(struct job *j);
};

struct jobs;

/* A pool of N threads (at least 1); NULL when not one could be started. */
struct jobs *jobs_start(int n);
/* Queues J to run on one of the pool's threads. */
void jobs_submit(struct jobs *p, struct job *j);
/* From inside a job's RUN: queues J (that job, or another) behind what
 * waits. The calling thread takes the queue's next job when RUN returns, so
 * another thread is woken only if other jobs wait too. */
void jobs_requeue(struct jobs *p, struct job *j);
/* Runs what is queued, then joins and frees the threads (NULL: nothing). */
void jobs_stop(struct jobs *p);

#endif
