/*
 * output.c — owns cairnctl's shared helpers: errors, the VOL:/PATH argument,
 * and human/JSON formatting.
 */
#include "ctl.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int ctl_fail(const char *what, int rv)
{
    const char *srv = cairn_last_error();
    if (rv == CAIRN_EUNAVAIL)
        fprintf(stderr, "cairnctl: %s: cannot reach cairnd (%s)\n", what,
                srv[0] ? srv : cairn_strerror(rv));
    else
        fprintf(stderr, "cairnctl: %s: %s\n", what, cairn_strerror(rv));
    return 1;
}

int ctl_usage(const struct cmd *c)
{
    fprintf(stderr, "usage: cairnctl %s%s%s %s\n", c->noun, c->verb ? " " : "",
            c->verb ? c->verb : "", c->args);
    return 2;
}

int ctl_connect(struct ctl *x)
{
    if (x->c)
        return 0;
    int rv = cairn_connect(&x->c, x->server);
    if (rv != 0)
        return ctl_fail("connect", rv);
    if (x->timeout_ms)
        cairn_set_timeout(x->c, x->timeout_ms);
    return 0;
}

int ctl_volpath(const char *s, char vol[256], const char **path)
{
    const char *colon = strchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) > 255 || colon[1] != '/') {
        fprintf(stderr, "cairnctl: '%s' is not VOLUME:/PATH\n", s);
        return 2;
    }
    memcpy(vol, s, (size_t)(colon - s));
    vol[colon - s] = '\0';
    *path = colon + 1;
    return 0;
}

const char *ctl_size(uint64_t n, char buf[16])
{
    static const char units[] = "BKMGTP";
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 5)
        v /= 1024, u++;
    if (u == 0)
        snprintf(buf, 16, "%llu", (unsigned long long)n);
    else
        snprintf(buf, 16, "%.1f%c", v, units[u]);
    return buf;
}

const char *ctl_time(int64_t ns, char buf[32])
{
    time_t t = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

/* Length of the well-formed UTF-8 sequence at P (1-4), or 0 (RFC 3629:
 * no overlong forms, no surrogates, nothing past U+10FFFF). */
static int utf8_len(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    int n = p[0] >= 0xc2 && p[0] <= 0xdf   ? 2
            : p[0] >= 0xe0 && p[0] <= 0xef ? 3
            : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4
                                           : 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0) ||
        (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))
        return 0;
    return n;
}

/* Names are bytes: a byte that is not part of well-formed UTF-8 is written
 * as the lone surrogate U+DC80+byte (PEP 383 "surrogateescape"), so the
 * output is always valid JSON and the exact bytes can be recovered. */
void ctl_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int n = utf8_len(p);
        if (n == 0)
            fprintf(f, "\\u%04x", 0xdc00 + *p);
        else if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\u%04x", *p);
        else
            fwrite(p, 1, (size_t)n, f);
        p += n ? n : 1;
    }
    fputc('"', f);
}

const char *ctl_type(uint32_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG:
        return "file";
    case S_IFDIR:
        return "dir";
    case S_IFLNK:
        return "symlink";
    case S_IFIFO:
        return "fifo";
    case S_IFSOCK:
        return "socket";
    case S_IFCHR:
        return "char";
    case S_IFBLK:
        return "block";
    default:
        return "?";
    }
}

int ctl_opt(struct ctl *x, int *argc, char **argv, const char *name, const char **val)
{
    size_t n = strlen(name);
    int end = x->operands < *argc ? x->operands : *argc;
    for (int i = 0; i < end; i++) {
        if (strncmp(argv[i], name, n) != 0 || (argv[i][n] != '\0' && argv[i][n] != '='))
            continue;
        int take;
        if (argv[i][n] == '=') {
            *val = argv[i] + n + 1;
            take = 1;
        } else if (i + 1 < end) {
            *val = argv[i + 1];
            take = 2;
        } else {
            return -1;
        }
        memmove(&argv[i], &argv[i + take], (size_t)(*argc - i - take) * sizeof *argv);
        *argc -= take;
        x->operands -= take;
        return 1;
    }
    return 0;
}
