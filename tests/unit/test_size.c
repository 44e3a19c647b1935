/*
 * test_size.c — unit tests for client/size.c (cairn_size.h), the byte-size
 * parser that cairnd's configuration, cairnctl and the benchmarks share:
 * K/M/G/T/P suffixes with iB/B forms in any case, a plain "B", the largest
 * value of each suffix that fits in 64 bits and the first that does not,
 * negative numbers (also after white space, which strtoull would take), and
 * garbage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cairn_size.h"

#include <errno.h>

static void cairn_parse_size_accepts_numbers_and_suffixes(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        uint64_t v;
    } t[] = {
        {"0", 0},
        {"1", 1},
        {"4096", 4096},
        {"1k", 1024},
        {"1K", 1024},
        {"1KB", 1024},
        {"1kib", 1024},
        {"3M", 3ull << 20},
        {"3MiB", 3ull << 20},
        {"5g", 5ull << 30},
        {"5GiB", 5ull << 30},
        {"5GB", 5ull << 30},
        {"2t", 2ull << 40},
        {"2TiB", 2ull << 40},
        {"1P", 1ull << 50},
        {"1PiB", 1ull << 50},
        {"18446744073709551615", UINT64_MAX},
        {"16777215T", 16777215ull << 40},
        {"17179869183G", 17179869183ull << 30},
        {"17592186044415M", 17592186044415ull << 20},
        {"18014398509481983K", 18014398509481983ull << 10},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint64_t v = 12345;
        if (cairn_parse_size(t[i].s, &v) != 0)
            fail_msg("\"%s\" rejected", t[i].s);
        if (v != t[i].v)
            fail_msg("\"%s\" -> %llu, want %llu", t[i].s, (unsigned long long)v,
                     (unsigned long long)t[i].v);
    }
}

static void cairn_parse_size_accepts_a_plain_byte_suffix(void **state)
{
    (void)state;
    /* cairn_parse_size has a branch for "B" without a multiplier ("4096B");
     * the K/M/G/T switch in front of it must let it through */
    static const char *t[] = {"7b", "7B", "4096B"};
    static const uint64_t want[] = {7, 7, 4096};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint64_t v = 12345;
        int rv = cairn_parse_size(t[i], &v);
        if (rv != 0 || v != want[i])
            fail_msg("\"%s\" -> rv %d, value %llu; want 0, %llu", t[i], rv, (unsigned long long)v,
                     (unsigned long long)want[i]);
    }
}

/* Each of the N sizes at T is refused with -EINVAL. */
static void expect_invalid(const char *const *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 12345;
        int rv = cairn_parse_size(t[i], &v);
        if (rv != -EINVAL)
            fail_msg("\"%s\" -> rv %d, value %llu; want -EINVAL", t[i], rv, (unsigned long long)v);
    }
}

static void cairn_parse_size_rejects_overflow(void **state)
{
    (void)state;
    static const char *t[] = {
        "18446744073709551616",  "99999999999999999999999", "16777216T",
        "17179869184G",          "17592186044416M",         "18014398509481984K",
        "18446744073709551615K",
    };
    expect_invalid(t, sizeof t / sizeof t[0]);
}

static void cairn_parse_size_rejects_negative_numbers(void **state)
{
    (void)state;
    /* strtoull accepts a sign after leading white space and negates: " -1"
     * would become 2^64-1 */
    static const char *t[] = {"-1", "-0", "-4M", " -1", "\t-1", "  -4G", "- 1"};
    expect_invalid(t, sizeof t / sizeof t[0]);
}

static void cairn_parse_size_rejects_garbage(void **state)
{
    (void)state;
    static const char *t[] = {"",    "M",    "KiB",   "abc",   "4X",   "4 M",
                              "4M ", "4Mi",  "4iB",   "4MiBx", "4MBB", "0x10",
                              "1e3", "1.5G", "4,096", "4KK",   "4bb",  "4Mb2"};
    expect_invalid(t, sizeof t / sizeof t[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cairn_parse_size_accepts_numbers_and_suffixes),
        cmocka_unit_test(cairn_parse_size_accepts_a_plain_byte_suffix),
        cmocka_unit_test(cairn_parse_size_rejects_overflow),
        cmocka_unit_test(cairn_parse_size_rejects_negative_numbers),
        cmocka_unit_test(cairn_parse_size_rejects_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
