/*
 * test_room.c — unit tests for daemon/room.c (the free space the volumes
 * append from), on the file system of $CAIRN_TEST_TMP.
 *
 * Covers room.c's invariants: (1) an append that would leave less than the
 * reserve free fails with -ENOSPC and says what was free and kept, the
 * reserve within 8 MiB .. 1 GiB; (2) after a read of the free space, takes
 * spend half of what was left beyond the reserve without reading it again,
 * and the next take past that budget reads it again. Two takers (two
 * volumes) spend the one budget: what one took, the other cannot.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "room.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/statvfs.h>
#include <unistd.h>

struct fx {
    char *dir;
    int fd;
    struct room room;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->dir = tu_tmpdir("room");
    char path[4096];
    snprintf(path, sizeof path, "%s/chunk", f->dir);
    f->fd = open(path, O_RDWR | O_CREAT, 0644);
    assert_true(f->fd >= 0);
    room_init(&f->room);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    room_fini(&f->room);
    close(f->fd);
    tu_rmrf(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static uint64_t free_bytes(int fd)
{
    struct statvfs st;
    assert_int_equal(fstatvfs(fd, &st), 0);
    return (uint64_t)st.f_bavail * st.f_frsize;
}

static void an_append_past_the_reserve_is_refused(void **state)
{
    struct fx *f = *state;
    uint64_t avail = 0, reserve = 0, total = free_bytes(f->fd);
    assert_int_equal(room_take(&f->room, f->fd, total, &avail, &reserve), -ENOSPC);
    assert_true(avail > 0 && avail <= total + (64u << 20)); /* what was free, give or take */
    assert_true(reserve >= 8u << 20 && reserve <= 1u << 30);
    assert_int_equal(f->room.left, 0);
    /* an append that leaves less than the reserve is refused (64 MiB less:
     * other tests on this disk may free some space meanwhile) */
    uint64_t a2 = 0, r2 = 0;
    assert_int_equal(room_take(&f->room, f->fd, avail - reserve + (64u << 20), &a2, &r2), -ENOSPC);
}

static void takes_spend_one_budget_before_reading_again(void **state)
{
    struct fx *f = *state;
    uint64_t avail = 0, reserve = 0;
    assert_int_equal(room_take(&f->room, f->fd, 4096, &avail, &reserve), 0);
    uint64_t left = f->room.left;
    assert_true(avail > reserve); /* the test needs a disk with room */
    assert_int_equal(left, (avail - reserve - 4096) / 2);
    /* a second taker (another volume) spends from the same budget, with no
     * new read: the values it is given stay untouched */
    uint64_t a2 = 1, r2 = 1;
    assert_int_equal(room_take(&f->room, f->fd, left - 100, &a2, &r2), 0);
    assert_int_equal(f->room.left, 100);
    assert_int_equal(a2, 1);
    assert_int_equal(r2, 1);
    /* past the budget: the free space is read again */
    assert_int_equal(room_take(&f->room, f->fd, 200, &a2, &r2), 0);
    assert_int_not_equal(a2, 1);
    assert_int_equal(r2, reserve);
    assert_true(f->room.left > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(an_append_past_the_reserve_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(takes_spend_one_budget_before_reading_again, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
