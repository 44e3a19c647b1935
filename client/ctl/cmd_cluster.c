/*
 * cmd_cluster.c — `cairnctl cluster init --out FILE`: a new cluster key
 * (32 random bytes from libsodium, base64), written 0600 and never printed.
 */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

static int cluster_init(struct ctl *x, int argc, char **argv)
{
    (void)x;
    const char *out = NULL;
    if (ctl_opt(x, &argc, argv, "--out", &out) != 1 || argc != 0)
        return ctl_usage(&cmd_cluster[0]);
    if (sodium_init() < 0)
        return ctl_fail("cluster init", -ENOSYS);
    unsigned char key[32];
    char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    randombytes_buf(key, sizeof key);
    sodium_bin2base64(b64, sizeof b64, key, sizeof key, sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(key, sizeof key);
    int fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return ctl_fail(out, -errno);
    char text[128];
    int n = snprintf(text, sizeof text, "# cairn cluster key, format 1: keep secret\n%s\n", b64);
    sodium_memzero(b64, sizeof b64);
    errno = 0;
    int rv = write(fd, text, (size_t)n) == n && fsync(fd) == 0 ? 0 : -(errno ? errno : EIO);
    sodium_memzero(text, sizeof text);
    close(fd);
    if (rv != 0) {
        unlink(out);
        return ctl_fail(out, rv);
    }
    fprintf(stderr, "cluster key written to %s\n", out);
    return 0;
}

const struct cmd cmd_cluster[] = {
    {"cluster", "init", "--out FILE", "create a new cluster key in FILE (mode 0600)", cluster_init},
    {NULL, NULL, NULL, NULL, NULL},
};
