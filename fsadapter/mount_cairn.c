/*
 * mount_cairn.c — mount.cairn, the helper mount(8) runs for `mount -t cairn`
 * and fstab lines:
 *
 *   mount.cairn VOLUME MOUNTPOINT [-sfnv] [-o server=ADDR,OPTIONS]
 *   fstab:  demo  /mnt/demo  cairn  server=unix:/run/cairn/cairnd.sock,_netdev  0 0
 *
 * It translates the call into `cairn-fuse VOLUME MOUNTPOINT -o OPTIONS`
 * (dropping mount(8)'s own options) and runs cairn-fuse from its own
 * directory or PATH; cairn-fuse daemonizes once the mount is up.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Options mount(8) understands and FUSE must not see. */
static int dropped(const char *o, size_t n)
{
    static const char *const drop[] = {"_netdev", "auto",     "noauto", "user",  "users",
                                       "nofail",  "defaults", "owner",  "group", "comment"};
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
        if (strlen(drop[i]) == n && strncmp(o, drop[i], n) == 0)
            return 1;
    return (n > 2 && strncmp(o, "x-", 2) == 0) || (n > 8 && strncmp(o, "comment=", 8) == 0);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: mount.cairn VOLUME MOUNTPOINT [-o server=ADDR,OPTIONS]\n");
        return 1; /* mount(8): incorrect invocation */
    }
    const char *volume = argv[1], *mnt = argv[2];
    char opts[4096] = "";
    int fake = 0;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            const char *p = argv[++i];
            while (*p) {
                size_t n = strcspn(p, ",");
                if (n && !dropped(p, n)) {
                    size_t used = strlen(opts);
                    if (used + n + 2 >= sizeof opts) {
                        fprintf(stderr, "mount.cairn: options too long\n");
                        return 1;
                    }
                    snprintf(opts + used, sizeof opts - used, "%s%.*s", used ? "," : "", (int)n, p);
                }
                p += n + (p[n] == ',');
            }
        } else if (strcmp(argv[i], "-f") == 0) {
            fake = 1;
        } else if (argv[i][0] == '-' && strspn(argv[i] + 1, "snvrw") == strlen(argv[i] + 1)) {
            /* sloppy, no-mtab, verbose, ro/rw flags: nothing to pass on */
        } else {
            fprintf(stderr, "mount.cairn: unexpected argument '%s'\n", argv[i]);
            return 1;
        }
    }
    if (fake)
        return 0;
    char self[PATH_MAX], prog[PATH_MAX + 16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    const char *exe = "cairn-fuse";
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            snprintf(prog, sizeof prog, "%s/cairn-fuse", self);
            if (access(prog, X_OK) == 0)
                exe = prog;
        }
    }
    char *args[7];
    int k = 0;
    args[k++] = "cairn-fuse";
    args[k++] = (char *)volume;
    args[k++] = (char *)mnt;
    if (opts[0]) {
        args[k++] = "-o";
        args[k++] = opts;
    }
    args[k] = NULL;
    execvp(exe, args);
    fprintf(stderr, "mount.cairn: cannot run %s: %s\n", exe, strerror(errno));
    return 32; /* mount(8): mount failure */
}
