/*
 * size.c — owns the text form of byte sizes (cairn_size.h): the one parser
 * that cairnd's configuration, cairnctl and the benchmarks share.
 * Pure; thread-safe.
 */
#include "cairn_size.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int cairn_parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (s[0] < '0' || s[0] > '9') /* no sign, no space: strtoull takes both */
        return -EINVAL;
    if (errno || end == s)
        return -EINVAL;
    unsigned shift = 0;
    switch (*end) {
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    case 't':
    case 'T':
        shift = 40;
        break;
    case 'p':
    case 'P':
        shift = 50;
        break;
    case 'b':
    case 'B':
    case '\0':
        break;
    default:
        return -EINVAL;
    }
    if (shift) {
        end++;
        if (strcasecmp(end, "ib") == 0 || strcasecmp(end, "b") == 0)
            end += strlen(end);
    } else if (strcasecmp(end, "b") == 0) {
        end++; /* plain bytes: "4096B" */
    }
    if (*end != '\0' || (shift && v > (UINT64_MAX >> shift)))
        return -EINVAL;
    *out = (uint64_t)v << shift;
    return 0;
}
