/*
 * fill_engine.c — fault-test helper: puts many records into a stopped node's
 * data directory fast, through the engine in-process (a stop during a long
 * index rebuild needs a data directory whose rebuild takes a while).
 *
 *   fill_engine DATA_DIR VOLUME FILES
 *
 * Opens the engine on DATA_DIR (cairnd must not be running on it), creates
 * FILES empty files in VOLUME (which must exist, with room) spread over
 * directories /fill/dN of 1000 files each, writes "last file\n" into the last
 * one, syncs and closes. Exit status 0, or 1 with the failing step on stderr.
 */
#include "attr.h"
#include "cairn_err.h"
#include "engine.h"
#include "fsops.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PER_DIR 1000

static int failed(const char *what, int rv)
{
    fprintf(stderr, "fill_engine: %s: %s\n", what, cairn_strerror(rv));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 4 || atol(argv[3]) < 1) {
        fprintf(stderr, "usage: fill_engine DATA_DIR VOLUME FILES\n");
        return 2;
    }
    long files = atol(argv[3]);
    log_set_level(LOG_WARN);
    struct engine_opts o = {.data_dir = argv[1]};
    struct engine *e;
    struct volume *v;
    int rv;
    if ((rv = engine_open(&e, &o)) != 0)
        return failed("engine_open", rv);
    if ((rv = engine_volume(e, argv[2], &v)) != 0)
        return failed("engine_volume", rv);
    uint64_t top, dir = 0, ino = 0;
    if ((rv = fs_mknod(v, ROOT_INO, "fill", S_IFDIR | 0755, 0, 0, 0, NULL, &top, NULL)) != 0)
        return failed("mkdir /fill", rv);
    char name[32];
    for (long i = 0; i < files; i++) {
        if (i % PER_DIR == 0) {
            snprintf(name, sizeof name, "d%ld", i / PER_DIR);
            if ((rv = fs_mknod(v, top, name, S_IFDIR | 0755, 0, 0, 0, NULL, &dir, NULL)) != 0)
                return failed("mkdir", rv);
        }
        snprintf(name, sizeof name, "f%ld", i);
        if ((rv = fs_mknod(v, dir, name, S_IFREG | 0644, 0, 0, 0, NULL, &ino, NULL)) != 0)
            return failed("create", rv);
    }
    static const char last[] = "last file\n";
    if ((rv = fs_write(v, ino, 0, last, sizeof last - 1, NULL)) != 0 || (rv = fs_fsync(v)) != 0)
        return failed("write the last file", rv);
    if ((rv = engine_close(e)) != 0)
        return failed("engine_close", rv);
    printf("fill_engine: %ld files in %s:/fill\n", files, argv[2]);
    return 0;
}
