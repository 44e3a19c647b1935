/*
 * test_status.c — unit tests for rpc/status.c, the one table between cairn
 * errors and gRPC status codes:
 *  - every error a handler returns comes back exactly through the status
 *    and its "cairn-errno" trailer, and maps to the standard code other
 *    clients see (ENOSPC is RESOURCE_EXHAUSTED, ENOENT NOT_FOUND, ...);
 *  - statuses without the trailer (gRPC's own, or another server's) map to
 *    what they mean for a caller: CANCELLED and UNAVAILABLE are "service
 *    unavailable", RESOURCE_EXHAUSTED is gRPC's message size limit
 *    (EMSGSIZE, never "no space"), unknown codes are EIO;
 *  - a trailer outside the cairn error range is ignored.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cairn_err.h"
#include "rpc.h"

#include <errno.h>
#include <grpc/status.h>

static void test_errors_round_trip(void **state)
{
    (void)state;
    static const int errs[] = {-ENOENT,       -EEXIST,         -EINVAL,        -ENOSPC,
                               -ENOTEMPTY,    -EISDIR,         -EACCES,        -ETIMEDOUT,
                               -ENAMETOOLONG, CAIRN_ECHECKSUM, CAIRN_EUNAVAIL, CAIRN_EPROTO,
                               CAIRN_ENEWER,  -EMSGSIZE};
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        int code = rpc_status_from_err(errs[i]);
        assert_int_not_equal(code, GRPC_STATUS_OK);
        assert_int_equal(rpc_err_from_status(code, errs[i]), errs[i]);
    }
    assert_int_equal(rpc_status_from_err(0), GRPC_STATUS_OK);
    assert_int_equal(rpc_err_from_status(GRPC_STATUS_OK, 0), 0);
    assert_int_equal(rpc_status_from_err(-ENOSPC), GRPC_STATUS_RESOURCE_EXHAUSTED);
    assert_int_equal(rpc_status_from_err(-EMSGSIZE), GRPC_STATUS_RESOURCE_EXHAUSTED);
    assert_int_equal(rpc_status_from_err(-ENOENT), GRPC_STATUS_NOT_FOUND);
    assert_int_equal(rpc_status_from_err(-EEXIST), GRPC_STATUS_ALREADY_EXISTS);
    assert_int_equal(rpc_status_from_err(CAIRN_ECHECKSUM), GRPC_STATUS_DATA_LOSS);
}

static void test_statuses_without_trailer(void **state)
{
    (void)state;
    assert_int_equal(rpc_err_from_status(GRPC_STATUS_NOT_FOUND, 0), -ENOENT);
    assert_int_equal(rpc_err_from_status(GRPC_STATUS_RESOURCE_EXHAUSTED, 0), -EMSGSIZE);
    assert_int_equal(rpc_err_from_status(GRPC_STATUS_CANCELLED, 0), CAIRN_EUNAVAIL);
    assert_int_equal(rpc_err_from_status(GRPC_STATUS_UNAVAILABLE, 0), CAIRN_EUNAVAIL);
    assert_int_equal(rpc_err_from_status(GRPC_STATUS_DEADLINE_EXCEEDED, 0), -ETIMEDOUT);
    assert_int_equal(rpc_err_from_status(GRPC_STATUS_ABORTED, 0), -EIO);
    assert_int_equal(rpc_err_from_status(GRPC_STATUS_INTERNAL, 0), -EIO);
    /* a trailer that is no cairn error is not believed */
    assert_int_equal(rpc_err_from_status(GRPC_STATUS_NOT_FOUND, 5), -ENOENT);
    assert_int_equal(rpc_err_from_status(GRPC_STATUS_NOT_FOUND, CAIRN_ERR_LAST - 1), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors_round_trip),
        cmocka_unit_test(test_statuses_without_trailer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
