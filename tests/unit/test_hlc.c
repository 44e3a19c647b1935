/*
 * test_hlc.c — unit tests for daemon/hlc.c (hybrid logical clock).
 *
 * The physical clock is injected (hlc_clock_fn) and stepped by hand, so every
 * case is deterministic. Covers hlc.c's invariants: (1) successive hlc_now
 * stamps strictly increase, with a frozen clock and with a clock that goes
 * backwards; (2) after hlc_update(r) every later stamp is > r; (3) the 16-bit
 * logical counter carries into the ms part instead of wrapping. Also: remote
 * stamps further ahead than max_drift_ms are refused with -ERANGE and leave
 * the clock untouched, the default real-time clock, and uniqueness of stamps
 * taken concurrently by several threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hlc.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

/* The hand-stepped physical clock. */
struct fake_clock {
    uint64_t ms;
    unsigned long calls;
};

static uint64_t fake_ms(void *ctx)
{
    struct fake_clock *fc = ctx;
    fc->calls++;
    return fc->ms;
}

static void hlc_now_follows_the_physical_clock_when_it_advances(void **state)
{
    (void)state;
    struct fake_clock fc = {.ms = 1000};
    struct hlc h;
    hlc_init(&h, fake_ms, &fc);
    assert_int_equal(hlc_now(&h), HLC_MAKE(1000, 0));
    fc.ms = 1001;
    assert_int_equal(hlc_now(&h), HLC_MAKE(1001, 0));
    fc.ms = 5000;
    assert_int_equal(hlc_now(&h), HLC_MAKE(5000, 0));
    assert_true(fc.calls >= 3); /* the injected clock is the one consulted */
    assert_int_equal(hlc_physical_ms(&h), 5000);
    hlc_fini(&h);
}

static void hlc_now_strictly_increases_with_a_frozen_clock(void **state)
{
    (void)state;
    struct fake_clock fc = {.ms = 1700000000000ull};
    struct hlc h;
    hlc_init(&h, fake_ms, &fc);
    uint64_t prev = hlc_now(&h);
    assert_int_equal(HLC_LOGICAL(prev), 0);
    for (unsigned i = 1; i < 1000; i++) {
        uint64_t s = hlc_now(&h);
        assert_true(s > prev);
        assert_int_equal(HLC_MS(s), fc.ms);
        assert_int_equal(HLC_LOGICAL(s), i);
        prev = s;
    }
    hlc_fini(&h);
}

static void hlc_now_never_goes_backwards_when_the_clock_does(void **state)
{
    (void)state;
    struct fake_clock fc = {.ms = 50000};
    struct hlc h;
    hlc_init(&h, fake_ms, &fc);
    uint64_t top = hlc_now(&h);
    fc.ms = 1000; /* the wall clock was stepped back */
    uint64_t prev = top;
    for (unsigned i = 1; i <= 100; i++) {
        uint64_t s = hlc_now(&h);
        assert_true(s > prev);
        assert_int_equal(HLC_MS(s), 50000); /* keeps the highest ms seen */
        assert_int_equal(HLC_LOGICAL(s), i);
        prev = s;
    }
    fc.ms = 49999; /* still behind */
    assert_true(hlc_now(&h) > prev);
    fc.ms = 50001; /* the physical clock catches up: counter resets */
    assert_int_equal(hlc_now(&h), HLC_MAKE(50001, 0));
    hlc_fini(&h);
}

static void hlc_logical_counter_overflow_carries_into_ms(void **state)
{
    (void)state;
    struct fake_clock fc = {.ms = 777};
    struct hlc h;
    hlc_init(&h, fake_ms, &fc);
    uint64_t prev = hlc_now(&h);
    assert_int_equal(prev, HLC_MAKE(777, 0));
    for (unsigned i = 1; i <= 0xffffu; i++) {
        uint64_t s = hlc_now(&h);
        assert_true(s > prev);
        prev = s;
    }
    assert_int_equal(prev, HLC_END_OF_MS(777));
    uint64_t s = hlc_now(&h); /* the 65537th stamp within one ms */
    assert_true(s > prev);
    assert_int_equal(HLC_MS(s), 778);
    assert_int_equal(HLC_LOGICAL(s), 0);
    assert_int_equal(hlc_now(&h), HLC_MAKE(778, 1));
    /* the physical clock reaching the borrowed ms does not repeat a stamp */
    fc.ms = 778;
    assert_int_equal(hlc_now(&h), HLC_MAKE(778, 2));
    hlc_fini(&h);
}

static void hlc_update_then_now_is_greater_than_remote(void **state)
{
    (void)state;
    struct fake_clock fc = {.ms = 10000};
    struct hlc h;
    hlc_init(&h, fake_ms, &fc);
    uint64_t local = hlc_now(&h);
    /* a remote stamp ahead of us (within the drift bound) */
    uint64_t remote = HLC_MAKE(10500, 42);
    assert_int_equal(hlc_update(&h, remote), 0);
    uint64_t s = hlc_now(&h);
    assert_true(s > remote);
    assert_true(s > local);
    assert_int_equal(s, HLC_MAKE(10500, 43));
    /* a remote stamp at the end of an ms carries */
    assert_int_equal(hlc_update(&h, HLC_END_OF_MS(10600)), 0);
    s = hlc_now(&h);
    assert_true(s > HLC_END_OF_MS(10600));
    assert_int_equal(s, HLC_MAKE(10601, 0));
    hlc_fini(&h);
}

static void hlc_update_with_an_older_remote_changes_nothing(void **state)
{
    (void)state;
    struct fake_clock fc = {.ms = 10000};
    struct hlc h;
    hlc_init(&h, fake_ms, &fc);
    uint64_t a = hlc_now(&h);
    assert_int_equal(hlc_update(&h, HLC_MAKE(20, 5)), 0);
    uint64_t b = hlc_now(&h);
    assert_true(b > a);
    assert_int_equal(b, HLC_MAKE(10000, 1));
    assert_int_equal(hlc_update(&h, b), 0); /* equal to the last stamp */
    assert_true(hlc_now(&h) > b);
    hlc_fini(&h);
}

static void hlc_update_refuses_a_remote_too_far_ahead(void **state)
{
    (void)state;
    struct fake_clock fc = {.ms = 1000000};
    struct hlc h;
    hlc_init(&h, fake_ms, &fc);
    uint64_t drift = h.max_drift_ms;
    assert_true(drift > 0);
    uint64_t before = hlc_now(&h);
    uint64_t far = HLC_MAKE(fc.ms + drift + 1, 0);
    assert_int_equal(hlc_update(&h, far), -ERANGE);
    assert_int_equal(hlc_update(&h, UINT64_MAX), -ERANGE);
    /* nothing was merged: the next stamp is the ordinary successor */
    uint64_t s = hlc_now(&h);
    assert_true(s < far);
    assert_int_equal(s, before + 1);
    /* exactly max_drift_ms ahead is still accepted */
    uint64_t edge = HLC_MAKE(fc.ms + drift, 3);
    assert_int_equal(hlc_update(&h, edge), 0);
    assert_true(hlc_now(&h) > edge);
    hlc_fini(&h);
}

static void hlc_update_honours_a_configured_drift_bound(void **state)
{
    (void)state;
    struct fake_clock fc = {.ms = 5000};
    struct hlc h;
    hlc_init(&h, fake_ms, &fc);
    h.max_drift_ms = 10;
    assert_int_equal(hlc_update(&h, HLC_MAKE(5011, 0)), -ERANGE);
    assert_int_equal(hlc_update(&h, HLC_MAKE(5010, 0)), 0);
    /* the bound is measured from the physical clock, which moves */
    fc.ms = 6000;
    assert_int_equal(hlc_update(&h, HLC_MAKE(6010, 0)), 0);
    assert_int_equal(hlc_update(&h, HLC_MAKE(6011, 0)), -ERANGE);
    hlc_fini(&h);
}

static void hlc_default_clock_is_real_time(void **state)
{
    (void)state;
    struct hlc h;
    hlc_init(&h, NULL, NULL);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t wall = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    uint64_t s = hlc_now(&h);
    assert_true(HLC_MS(s) + 5000 >= wall && HLC_MS(s) <= wall + 5000);
    uint64_t p = hlc_physical_ms(&h);
    assert_true(p + 5000 >= wall && p <= wall + 5000);
    assert_true(hlc_realtime_ms(NULL) >= wall);
    assert_true(hlc_now(&h) > s);
    hlc_fini(&h);
}

#define THREADS 4
#define PER_THREAD 20000

struct worker {
    struct hlc *h;
    uint64_t *out;
};

static uint64_t frozen_ms(void *ctx)
{
    (void)ctx;
    return 123456;
}

static void *take_stamps(void *arg)
{
    struct worker *w = arg;
    for (unsigned i = 0; i < PER_THREAD; i++)
        w->out[i] = hlc_now(w->h);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void hlc_now_is_unique_across_threads(void **state)
{
    (void)state;
    struct hlc h;
    hlc_init(&h, frozen_ms, NULL);
    uint64_t *all = calloc(THREADS * PER_THREAD, sizeof *all);
    assert_non_null(all);
    pthread_t t[THREADS];
    struct worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){&h, all + i * PER_THREAD};
        assert_int_equal(pthread_create(&t[i], NULL, take_stamps, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    /* each thread saw strictly increasing stamps ... */
    for (int i = 0; i < THREADS; i++)
        for (unsigned j = 1; j < PER_THREAD; j++)
            assert_true(w[i].out[j] > w[i].out[j - 1]);
    /* ... and no stamp was handed out twice */
    qsort(all, THREADS * PER_THREAD, sizeof *all, cmp_u64);
    for (unsigned j = 1; j < THREADS * PER_THREAD; j++)
        assert_true(all[j] > all[j - 1]);
    free(all);
    hlc_fini(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hlc_now_follows_the_physical_clock_when_it_advances),
        cmocka_unit_test(hlc_now_strictly_increases_with_a_frozen_clock),
        cmocka_unit_test(hlc_now_never_goes_backwards_when_the_clock_does),
        cmocka_unit_test(hlc_logical_counter_overflow_carries_into_ms),
        cmocka_unit_test(hlc_update_then_now_is_greater_than_remote),
        cmocka_unit_test(hlc_update_with_an_older_remote_changes_nothing),
        cmocka_unit_test(hlc_update_refuses_a_remote_too_far_ahead),
        cmocka_unit_test(hlc_update_honours_a_configured_drift_bound),
        cmocka_unit_test(hlc_default_clock_is_real_time),
        cmocka_unit_test(hlc_now_is_unique_across_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
