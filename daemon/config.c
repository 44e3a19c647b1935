/*
 * config.c — owns the configuration keys: their names, defaults and
 * validation (config.h). The only file that knows key names.
 *
 * Invariants: (1) an unknown section or key is an error naming it, never
 * silently ignored (a typo must not fall back to a default); (2) after a
 * successful load every field is valid for use, so modules do not re-check.
 */
#include "config.h"

#include "alloc.h"
#include "cairn_size.h"
#include "engine.h"
#include "rpc.h" /* RPC_SPIN_MAX_US */

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

/* The longest unix socket path (sun_path less its NUL). */
#define SOCKET_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

struct parse {
    struct config *c;
    FILE *f;
    int line;          /* lines read so far (the handler runs for the last one) */
    int err_line;      /* line of the first error found by us, 0 = none */
    char err[400];     /* "[section] key: why" */
    char seen[32][80]; /* "section\nkey" of every key given: no key twice */
    int n_seen;
    int read_errno; /* why the file could not be read to its end, 0 = it was */
};

/* inih's line reader, counting lines so errors name the right one,
 * refusing lines longer than inih's buffer (it would split them, and the
 * rest could pass for a continuation line: a value silently cut), and
 * ending a line at a '#' after a space or tab: an inline comment, as inih
 * itself takes one that starts with ';' (Debian's inih knows only those). */
static char *read_line(char *str, int num, void *stream)
{
    struct parse *p = stream;
    if (!fgets(str, num, p->f)) {
        if (ferror(p->f)) /* not the end: a directory, an I/O error */
            p->read_errno = errno ? errno : EIO;
        return NULL;
    }
    p->line++;
    size_t n = strlen(str);
    if (n == (size_t)num - 1 && str[n - 1] != '\n' && !feof(p->f)) {
        if (!p->err_line) {
            p->err_line = p->line;
            snprintf(p->err, sizeof p->err, "line longer than %d bytes", num - 2);
        }
        int ch;
        while ((ch = fgetc(p->f)) != EOF && ch != '\n')
            ; /* drop the rest of the line */
    }
    for (char *h = strchr(str, '#'); h; h = strchr(h + 1, '#'))
        if (h > str && (h[-1] == ' ' || h[-1] == '\t')) {
            strcpy(h, "\n");
            break;
        }
    return str;
}

/* What the LEN bytes at H name: HOST_BAD, or a host that HOST_LOOPBACK
 * names this machine only, or HOST_OTHER. An IPv4 literal (as
 * inet_aton reads it: "127.1" too), an IPv6 literal in brackets (a zone
 * "%lo" allowed), or a host name's characters (names are resolved when
 * bound; "localhost" counts as loopback). */
enum host_kind { HOST_BAD, HOST_LOOPBACK, HOST_OTHER };
static enum host_kind host_kind(const char *h, size_t len)
{
    char buf[256];
    if (len == 0 || len >= sizeof buf)
        return HOST_BAD;
    memcpy(buf, h, len);
    buf[len] = '\0';
    if (buf[0] == '[') {
        struct in6_addr a6;
        if (len < 3 || buf[len - 1] != ']')
            return HOST_BAD;
        buf[len - 1] = '\0';
        char *zone = strchr(buf, '%');
        if (zone)
            *zone = '\0';
        if (inet_pton(AF_INET6, buf + 1, &a6) != 1)
            return HOST_BAD;
        return IN6_IS_ADDR_LOOPBACK(&a6) ? HOST_LOOPBACK : HOST_OTHER;
    }
    if (strspn(buf, "0123456789.") == len) { /* looks like IPv4: must be one */
        struct in_addr a4;
        if (inet_aton(buf, &a4) == 0)
            return HOST_BAD;
        return (ntohl(a4.s_addr) >> 24) == 127 ? HOST_LOOPBACK : HOST_OTHER;
    }
    if (strspn(buf, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != len)
        return HOST_BAD;
    return strcasecmp(buf, "localhost") == 0 ? HOST_LOOPBACK : HOST_OTHER;
}

int config_addr_is_loopback(const char *addr)
{
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    return colon && host_kind(addr, (size_t)(colon - addr)) == HOST_LOOPBACK;
}

/* "HOST:PORT" with a numeric port 0..65535 (host_kind); "none" or "" turns
 * it off. */
static int parse_addr(const char *v, char **out)
{
    free(*out);
    *out = NULL;
    if (!*v || strcmp(v, "none") == 0)
        return 0;
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v || host_kind(v, (size_t)(colon - v)) == HOST_BAD)
        return -EINVAL;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || colon[1] == '\0' || port < 0 || port > 65535)
        return -EINVAL;
    *out = xstrdup(v);
    return 0;
}

/* The hosts metrics.c can listen on: an IPv4 literal or "localhost" (NULL:
 * off). */
static int metrics_host_ok(const char *addr)
{
    if (!addr)
        return 1;
    char host[64];
    size_t hl = (size_t)(strrchr(addr, ':') - addr);
    if (hl >= sizeof host)
        return 0;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    struct in_addr a;
    return strcmp(host, "localhost") == 0 || inet_pton(AF_INET, host, &a) == 1;
}

static void set_str(char **field, const char *v)
{
    free(*field);
    *field = *v && strcmp(v, "none") != 0 ? xstrdup(v) : NULL;
}

#define STR(x) #x
#define XSTR(x) STR(x) /* a macro's value as a string literal */

/* A whole number LO..HI into *OUT; -1 (OUT untouched) otherwise. */
static int parse_int(const char *value, long lo, long hi, int *out)
{
    char *end;
    long n = strtol(value, &end, 10);
    if (*end || end == value || n < lo || n > hi)
        return -1;
    *out = (int)n;
    return 0;
}

/* Sets one key; NULL, or why its section, name or value is refused. */
static const char *apply_key(struct config *c, const char *section, const char *name,
                             const char *value)
{
    const char *why = NULL;
    int rv = 0;
    if (strcmp(section, "node") == 0) {
        if (strcmp(name, "name") == 0) {
            set_str(&c->name, value);
            if (!c->name)
                why = "must not be empty";
        } else if (strcmp(name, "data_dir") == 0) {
            set_str(&c->data_dir, value);
            if (!c->data_dir)
                why = "must be a path";
        } else if (strcmp(name, "listen") == 0)
            rv = parse_addr(value, &c->listen), why = rv ? "must be HOST:PORT or none" : NULL;
        else if (strcmp(name, "socket") == 0) {
            set_str(&c->socket, value);
            if (c->socket && (c->socket[0] != '/' || strlen(c->socket) > SOCKET_PATH_MAX))
                why = "must be an absolute path of at most 107 bytes, or none";
        } else if (strcmp(name, "metrics_listen") == 0)
            rv = parse_addr(value, &c->metrics_listen),
            why = rv || !metrics_host_ok(c->metrics_listen)
                      ? "must be IPV4:PORT, localhost:PORT or none (metrics.c)"
                      : NULL;
        else
            why = "unknown key";
    } else if (strcmp(section, "cluster") == 0) {
        if (strcmp(name, "seeds") == 0)
            set_str(&c->seeds, value);
        else if (strcmp(name, "key_file") == 0)
            set_str(&c->key_file, value);
        else
            why = "unknown key";
    } else if (strcmp(section, "chunks") == 0) {
        if (strcmp(name, "size") == 0) {
            if (cairn_parse_size(value, &c->chunk_size) != 0 || c->chunk_size < ENGINE_MIN_CHUNK ||
                c->chunk_size > ENGINE_MAX_CHUNK)
                why = "must be a size from 4M to 1P (e.g. 64M, 8G)";
        } else
            why = "unknown key";
    } else if (strcmp(section, "rpc") == 0) {
        if (strcmp(name, "threads") == 0) {
            if (parse_int(value, 1, 256, &c->rpc_threads) != 0)
                why = "must be a number from 1 to 256";
        } else if (strcmp(name, "pollers") == 0) {
            if (parse_int(value, 1, 256, &c->rpc_pollers) != 0)
                why = "must be a number from 1 to 256 (at most [rpc] threads are used)";
        } else if (strcmp(name, "spin_us") == 0) {
            if (parse_int(value, 0, RPC_SPIN_MAX_US, &c->rpc_spin_us) != 0)
                why = "must be a number of microseconds from 0 to " XSTR(RPC_SPIN_MAX_US);
        } else if (strcmp(name, "sessions") == 0) {
            if (strcmp(value, "yes") == 0)
                c->rpc_no_sessions = 0;
            else if (strcmp(value, "no") == 0)
                c->rpc_no_sessions = 1;
            else
                why = "must be yes or no";
        } else
            why = "unknown key";
    } else if (strcmp(section, "log") == 0) {
        if (strcmp(name, "level") == 0) {
            if (log_parse_level(value, &c->log_level) != 0)
                why = "must be error, warn, info or debug";
        } else
            why = "unknown key";
    } else {
        why = "unknown section";
    }
    return why;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    struct parse *p = user;
    const char *why = NULL;
    char key[80];
    snprintf(key, sizeof key, "%s\n%s", section, name);
    for (int i = 0; i < p->n_seen; i++)
        if (strcmp(p->seen[i], key) == 0)
            why = "given twice (or continued on an indented line)";
    if (!why && p->n_seen < 32)
        snprintf(p->seen[p->n_seen++], sizeof p->seen[0], "%s", key);
    if (!why)
        why = apply_key(p->c, section, name, value);
    if (why) {
        if (!p->err_line) { /* report the first problem */
            p->err_line = p->line;
            snprintf(p->err, sizeof p->err, "[%s] %s: %s", section, name, why);
        }
        return 0;
    }
    return 1;
}

static void defaults(struct config *c)
{
    memset(c, 0, sizeof *c);
    char host[256];
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "cairn");
    host[sizeof host - 1] = '\0';
    c->name = xstrdup(host);
    c->data_dir = xstrdup("/var/lib/cairn");
    c->listen = xstrdup("127.0.0.1:7420");
    c->socket = xstrdup("/run/cairn/cairnd.sock");
    c->metrics_listen = xstrdup("127.0.0.1:9420");
    c->chunk_size = 8ull << 30;
    c->rpc_threads = 2;
    c->rpc_pollers = 1;
    c->rpc_spin_us = 200;
    c->log_level = LOG_INFO;
}

int config_load(struct config *c, const char *path, char *err, size_t errlen)
{
    defaults(c);
    err[0] = '\0';
    if (!path)
        return 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    struct parse *p = xcalloc(1, sizeof *p);
    p->c = c;
    p->f = f;
    errno = 0;
    int rv = ini_parse_stream(read_line, p, on_key, p);
    fclose(f);
    if (p->read_errno) {
        int e = p->read_errno;
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(e));
        free(p);
        return -e;
    }
    if (rv == 0 && !p->err_line && !c->socket && !c->listen) {
        snprintf(err, errlen,
                 "%s: [node] socket and listen: both none, nothing could reach the node", path);
        free(p);
        return -EINVAL;
    }
    if (rv == 0 && !p->err_line) {
        free(p);
        return 0;
    }
    /* inih's rv is its first bad line (a syntax error if we saw nothing
     * there); ours is the first key we refused: name whichever came first */
    if (rv > 0 && (!p->err_line || rv < p->err_line))
        snprintf(err, errlen, "%s:%d: syntax error", path, rv);
    else if (rv < 0 && !p->err_line)
        snprintf(err, errlen, "%s: cannot read", path);
    else
        snprintf(err, errlen, "%s:%d: %s", path, p->err_line, p->err);
    free(p);
    return -EINVAL;
}

void config_free(struct config *c)
{
    free(c->name);
    free(c->data_dir);
    free(c->listen);
    free(c->socket);
    free(c->metrics_listen);
    free(c->seeds);
    free(c->key_file);
    memset(c, 0, sizeof *c);
}
