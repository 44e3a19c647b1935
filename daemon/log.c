/*
 * log.c — owns the log sink and the current level.
 *
 * Invariants: (1) one line per call, written with a single write(2) so lines
 * from different threads never interleave; (2) when stderr is the journal
 * (JOURNAL_STREAM names its device and inode, as systemd's rule says: the
 * variable alone is inherited by anything started from such a service)
 * lines carry the "<N>" priority prefix and no timestamp, otherwise an
 * ISO-8601 UTC timestamp; (3) a line repeated within one second is counted,
 * not repeated, and the count is reported with the next different line.
 * Threads: any; the repeat state is guarded by log_lock.
 */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static enum log_level log_level = LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_last[512];
static time_t log_last_time;
static unsigned log_repeats;

void log_set_level(enum log_level lvl)
{
    log_level = lvl;
}

enum log_level log_get_level(void)
{
    return log_level;
}

int log_parse_level(const char *s, enum log_level *out)
{
    static const struct {
        const char *name;
        enum log_level lvl;
    } t[] = {{"error", LOG_ERR}, {"warn", LOG_WARN}, {"info", LOG_INFO}, {"debug", LOG_DEBUG}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcasecmp(s, t[i].name) == 0) {
            *out = t[i].lvl;
            return 0;
        }
    return -EINVAL;
}

static char level_char(enum log_level l)
{
    return l == LOG_ERR ? 'E' : l == LOG_WARN ? 'W' : l == LOG_INFO ? 'I' : 'D';
}

/* 1 when stderr is the journal's stream (2). */
static int to_journal(void)
{
    static _Atomic int known = -1; /* stderr does not change under us */
    int v = atomic_load(&known);
    if (v >= 0)
        return v;
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    v = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
        (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
    atomic_store(&known, v);
    return v;
}

static void emit(enum log_level lvl, const char *module, const char *text)
{
    char line[640];
    int n;
    if (to_journal()) {
        n = snprintf(line, sizeof line, "<%d>%s: %s\n", (int)lvl, module, text);
    } else {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %c %s: %s\n",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_char(lvl), module, text);
    }
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line) {
        n = sizeof line - 1;
        line[n - 1] = '\n';
    }
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w; /* nowhere left to report a failed log write */
}

void log_msg(enum log_level lvl, const char *module, const char *fmt, ...)
{
    if (lvl > log_level)
        return;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);

    time_t now = time(NULL);
    pthread_mutex_lock(&log_lock);
    if (strcmp(text, log_last) == 0 && now - log_last_time < 1) {
        log_repeats++;
        pthread_mutex_unlock(&log_lock);
        return;
    }
    if (log_repeats) {
        char rep[64];
        snprintf(rep, sizeof rep, "(previous line repeated %u times)", log_repeats);
        emit(lvl, module, rep);
        log_repeats = 0;
    }
    snprintf(log_last, sizeof log_last, "%s", text);
    log_last_time = now;
    emit(lvl, module, text);
    pthread_mutex_unlock(&log_lock);
}
