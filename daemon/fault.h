/*
 * fault.h — named fault points for tests (habit 15).
 *
 * In builds with CAIRN_FAULT, fault_check("pwrite") counts hits of the point
 * named "pwrite" and returns the armed error on the Nth hit (once, or on every
 * hit from the Nth on). Without CAIRN_FAULT every check compiles to 0.
 * Threads: any (one global lock, only in fault builds).
 */
#ifndef CAIRN_FAULT_H
#define CAIRN_FAULT_H

#ifdef CAIRN_FAULT
/* Arm point NAME: its NTH hit (1-based) returns ERR; STICKY makes every later
 * hit fail too. Re-arming resets the hit count. */
void fault_arm(const char *name, unsigned long nth, int err, int sticky);
/* Disarm every point and reset every counter. */
void fault_reset(void);
/* Hits of NAME since it was last armed or reset. */
unsigned long fault_hits(const char *name);
/* 0, or the armed negative error when this hit is the one to fail. */
int fault_check(const char *name);
/* Arms from text "NAME:NTH[:sticky]" (the error is -EIO), as cairnd does on
 * SIGUSR2 from $CAIRN_FAULT_USR2 in fault builds; -EINVAL when SPEC is not
 * that. */
int fault_arm_spec(const char *spec);
#else
static inline int fault_check(const char *name)
{
    (void)name;
    return 0;
}
#endif

#endif
