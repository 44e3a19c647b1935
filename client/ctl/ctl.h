/*
 * ctl.h — cairnctl internals: the command table type, the shared context and
 * output helpers (output.c). Each noun lives in cmd_<noun>.c.
 */
#ifndef CAIRN_CTL_H
#define CAIRN_CTL_H

#include "cairn.h"

#include <stdint.h>
#include <stdio.h>

struct ctl {
    cairn_t *c;
    const char *server;
    int json;
    int operands;   /* in the command's ARGV, where "--" ended the options */
    int timeout_ms; /* --timeout; 0: libcairn's default */
};

#define CTL_TIMEOUT_MAX_S 86400 /* --timeout's largest (its ms fit an int) */

struct cmd {
    const char *noun, *verb;                         /* verb NULL: the noun is the whole command */
    const char *args;                                /* usage after "NOUN VERB" */
    const char *help;                                /* one line */
    int (*fn)(struct ctl *x, int argc, char **argv); /* argv[0] is the first argument */
};

/* Command tables of each file, ended by a zeroed entry. */
extern const struct cmd cmd_node[], cmd_cluster[], cmd_chunk[], cmd_volume[], cmd_file[],
    cmd_snapshot[];

/* Prints "cairnctl: WHAT: <error text>" and returns 1 (the exit status). */
int ctl_fail(const char *what, int rv);
/* Prints "cairnctl: usage: ..." for CMD and returns 2. */
int ctl_usage(const struct cmd *c);
/* Connects lazily (first use); returns 0 or prints the failure. */
int ctl_connect(struct ctl *x);
/* Splits "VOL:/PATH"; VOL is copied into VOL (256 bytes); *PATH points into S. */
int ctl_volpath(const char *s, char vol[256], const char **path);
/* Human size ("1.5G") and time ("2026-11-24 18:00:00") into BUF. */
const char *ctl_size(uint64_t n, char buf[16]);
const char *ctl_time(int64_t ns, char buf[32]);
/* JSON string (quoted, escaped) to F. */
void ctl_json_str(FILE *f, const char *s);
const char *ctl_type(uint32_t mode); /* "file", "dir", ... */
/* Removes "--NAME VALUE" (or "--NAME=VALUE") from ARGV, before the operands
 * that "--" began (x->operands): 1 found (*VAL set), 0 absent, -1 present
 * without a value. */
int ctl_opt(struct ctl *x, int *argc, char **argv, const char *name, const char **val);

#endif
