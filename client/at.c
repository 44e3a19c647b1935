/*
 * at.c — owns the text form of a point in history (cairn_parse_at), so that
 * cairnctl's --at and the mount's asof= read the same text the same way.
 *
 * A time given to the second (@SECONDS, or ISO-8601 without a fraction)
 * means the end of that second: it shows every change stamped within it,
 * as a user reading second-precision times expects. Milliseconds, or a
 * fraction, mean that millisecond. Pure; thread-safe.
 */
#include "cairn.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cairn_parse_at(const char *s, cairn_at_t *at)
{
    memset(at, 0, sizeof *at);
    char *end;
    if (!*s)
        return -EINVAL;
    if (s[0] == '@') { /* never a snapshot name */
        errno = 0;
        long long secs = strtoll(s + 1, &end, 10);
        if (*end || end == s + 1 || errno == ERANGE || secs <= 0 || secs >= INT64_MAX / 1000)
            return -EINVAL;
        at->time_ms = secs * 1000 + 999; /* the whole second */
        return 0;
    }
    size_t n = strlen(s);
    if (n >= 12 && strspn(s, "0123456789") == n) {
        errno = 0;
        long long ms = strtoll(s, NULL, 10);
        if (errno == ERANGE || ms <= 0)
            return -EINVAL;
        at->time_ms = ms;
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        rest = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
    if (!rest) { /* a snapshot name, unless it starts as a date does */
        if (strspn(s, "0123456789") == 4 && s[4] == '-' && s[5] >= '0' && s[5] <= '9')
            return -EINVAL; /* 2026-13-01T00:00:00: a date that is not one */
        at->snapshot = s;
        return 0;
    }
    /* a date: what follows must be [.fraction][Z], and the fields real */
    long ms = 999; /* no fraction: the whole second */
    if (*rest == '.') {
        if (rest[1] < '0' || rest[1] > '9')
            return -EINVAL;
        errno = 0;
        ms = strtol(rest + 1, &end, 10);
        size_t digits = (size_t)(end - rest - 1);
        if (errno == ERANGE)
            return -EINVAL;
        while (digits > 3)
            ms /= 10, digits--;
        while (digits < 3)
            ms *= 10, digits++;
        rest = end;
    }
    if (*rest == 'Z')
        rest++;
    if (*rest)
        return -EINVAL;
    struct tm want = tm;
    time_t t = timegm(&tm);
    struct tm back;
    if (t <= 0 || t >= INT64_MAX / 1000 || !gmtime_r(&t, &back) || back.tm_year != want.tm_year ||
        back.tm_mon != want.tm_mon || back.tm_mday != want.tm_mday ||
        back.tm_hour != want.tm_hour || back.tm_min != want.tm_min || back.tm_sec != want.tm_sec)
        return -EINVAL; /* e.g. February 31st */
    at->time_ms = (int64_t)t * 1000 + ms;
    return 0;
}
