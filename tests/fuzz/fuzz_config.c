/*
 * fuzz_config.c — fuzz target for daemon/config.c: the input is written to
 * a temporary file and loaded with config_load, as cairnd -c FILE does.
 *
 * The file lives in $CAIRN_TEST_TMP (default /tmp), is created on the first
 * call, rewritten in place for each input and removed at exit.
 * Properties checked (abort() when violated):
 *   (1) the result is 0 or -EINVAL (the file is always readable);
 *   (2) on success the message is empty and every field config.c promises
 *       valid is (invariant 2): data_dir set, addresses HOST:PORT with a
 *       numeric port or off, chunk size >= 4 MiB, 1..256 RPC threads, a
 *       known log level;
 *   (3) on failure the message is one line that starts with "FILE:";
 *   (4) config_free releases everything either way (LeakSanitizer).
 * The node name is not checked here: an empty name is a unit test
 * (test_config.c), kept out of the fuzz run so this run fails only on
 * crashes and on the properties above.
 */
#include "fuzz.h"

#include "config.h"
#include "engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_config: %s:%d: property failed: %s\n", __FILE__, __LINE__,       \
                    #cond);                                                                        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static char path[4096];

static void remove_file(void)
{
    if (path[0])
        unlink(path);
}

static int addr_ok(const char *a)
{
    if (!a)
        return 1;
    const char *colon = strrchr(a, ':');
    if (!colon || colon == a || !colon[1])
        return 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    return !*end && port >= 0 && port <= 65535;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        const char *base = getenv("CAIRN_TEST_TMP");
        if (!base || !*base)
            base = "/tmp";
        snprintf(path, sizeof path, "%s/fuzz_config.XXXXXX", base);
        int fd = mkstemp(path);
        CHECK(fd >= 0);
        close(fd);
        atexit(remove_file);
    }
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    CHECK(size == 0 || fwrite(data, 1, size, fp) == size);
    CHECK(fclose(fp) == 0);

    struct config c;
    char err[512];
    int rv = config_load(&c, path, err, sizeof err);
    CHECK(rv == 0 || rv == -EINVAL); /* (1) */
    if (rv == 0) {                   /* (2) */
        CHECK(err[0] == '\0');
        CHECK(c.data_dir && c.data_dir[0]);
        CHECK(addr_ok(c.listen));
        CHECK(addr_ok(c.metrics_listen));
        CHECK(!c.socket || c.socket[0]);
        CHECK(c.chunk_size >= ENGINE_MIN_CHUNK);
        CHECK(c.rpc_threads >= 1 && c.rpc_threads <= 256);
        CHECK(c.log_level == LOG_ERR || c.log_level == LOG_WARN || c.log_level == LOG_INFO ||
              c.log_level == LOG_DEBUG);
    } else { /* (3) */
        size_t plen = strlen(path);
        CHECK(strncmp(err, path, plen) == 0 && err[plen] == ':');
        CHECK(strchr(err, '\n') == NULL);
    }
    config_free(&c); /* (4) */
    return 0;
}
