/*
 * cmd_file.c — file commands: put, cat, ls, rm, history (VOLUME:/PATH forms).
 *
 * put writes the new bytes over the file, cuts it to their length and fsyncs
 * the volume before it returns: a put that succeeded is durable.
 */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IO_PIECE (4u << 20)

/* Splits PATH into its parent directory inode (creating missing directories
 * when CREATE) and the last name. */
static int walk_parent(cairn_t *c, const char *vol, const char *path, int create, uint64_t *parent,
                       char name[256])
{
    uint64_t cur = CAIRN_ROOT_INO;
    const char *p = path;
    for (;;) {
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "/");
        if (n == 0)
            return -EINVAL; /* "/": no name */
        if (n > 255)
            return -ENAMETOOLONG;
        const char *rest = p + n;
        while (*rest == '/')
            rest++; /* "a/" names "a" (callers check what a trailing slash implies) */
        memcpy(name, p, n);
        name[n] = '\0';
        if (*rest == '\0') {
            *parent = cur;
            return 0;
        }
        cairn_attr_t a;
        int rv = cairn_lookup(c, vol, cur, name, NULL, &a);
        if (rv == -ENOENT && create) {
            rv = cairn_mknod(c, vol, cur, name, S_IFDIR | 0755, 0, getuid(), getgid(), &a);
            if (rv == -EEXIST)
                rv = cairn_lookup(c, vol, cur, name, NULL, &a);
        }
        if (rv != 0)
            return rv;
        if (!S_ISDIR(a.mode))
            return -ENOTDIR;
        cur = a.ino;
        p = rest;
    }
}

static int put(struct ctl *x, int argc, char **argv)
{
    if (argc < 1 || argc > 2)
        return ctl_usage(&cmd_file[0]);
    char vol[256], name[256];
    const char *path;
    int rv = ctl_volpath(argv[0], vol, &path);
    if (rv != 0)
        return rv;
    if (path[strlen(path) - 1] == '/')
        return ctl_fail(argv[0], -EISDIR); /* a trailing slash names a directory */
    const char *src = argc == 2 ? argv[1] : "-";
    int fd = strcmp(src, "-") == 0 ? STDIN_FILENO : open(src, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ctl_fail(src, -errno);
    uint32_t mode = 0644;
    struct stat st;
    rv = fstat(fd, &st) != 0 ? -errno : S_ISDIR(st.st_mode) ? -EISDIR : 0;
    if (rv != 0) { /* before anything is made */
        if (fd != STDIN_FILENO)
            close(fd);
        return ctl_fail(src, rv);
    }
    if (fd != STDIN_FILENO && S_ISREG(st.st_mode))
        mode = st.st_mode & 0777;
    uint8_t *buf = NULL;
    uint64_t parent, off = 0;
    cairn_attr_t a;
    if ((rv = ctl_connect(x)) != 0)
        goto out_fd;
    if ((rv = walk_parent(x->c, vol, path, 1, &parent, name)) != 0)
        goto fail;
    rv = cairn_lookup(x->c, vol, parent, name, NULL, &a);
    if (rv == -ENOENT)
        rv = cairn_mknod(x->c, vol, parent, name, S_IFREG | mode, 0, getuid(), getgid(), &a);
    if (rv == -EEXIST) /* another put created it since: store over it, as over any file */
        rv = cairn_lookup(x->c, vol, parent, name, NULL, &a);
    if (rv != 0)
        goto fail;
    if (!S_ISREG(a.mode)) {
        rv = S_ISDIR(a.mode) ? -EISDIR : -EINVAL;
        goto fail;
    }
    buf = malloc(IO_PIECE);
    if (!buf) {
        rv = -ENOMEM;
        goto fail;
    }
    for (;;) {
        ssize_t n = read(fd, buf, IO_PIECE);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rv = -errno;
            free(buf);
            if (fd != STDIN_FILENO)
                close(fd);
            return ctl_fail(src, rv);
        }
        if (n == 0)
            break;
        if ((rv = cairn_write(x->c, vol, a.ino, off, buf, (size_t)n, NULL)) != 0)
            goto fail;
        off += (uint64_t)n;
    }
    struct stat st2; /* a file that changed while it was read: its copy is no state of it */
    if (S_ISREG(st.st_mode) && fstat(fd, &st2) == 0 &&
        (st2.st_size != st.st_size || st2.st_mtim.tv_sec != st.st_mtim.tv_sec ||
         st2.st_mtim.tv_nsec != st.st_mtim.tv_nsec || st2.st_ctim.tv_sec != st.st_ctim.tv_sec ||
         st2.st_ctim.tv_nsec != st.st_ctim.tv_nsec)) {
        fprintf(stderr, "cairnctl: %s changed while it was read: put it again\n", src);
        free(buf);
        if (fd != STDIN_FILENO)
            close(fd);
        return 1;
    }
    /* the old contents, or another put's since, were longer */
    if ((rv = cairn_getattr(x->c, vol, a.ino, NULL, &a)) != 0)
        goto fail;
    if (a.size > off) {
        cairn_setattr_t sa = {CAIRN_SET_SIZE, 0, 0, 0, off, 0, 0, 0};
        if ((rv = cairn_setattr(x->c, vol, a.ino, &sa, NULL)) != 0)
            goto fail;
    }
    if ((rv = cairn_fsync(x->c, vol)) != 0)
        goto fail;
    free(buf);
    if (fd != STDIN_FILENO)
        close(fd);
    return 0;
fail:
    free(buf);
    rv = ctl_fail(argv[0], rv);
out_fd:
    if (fd != STDIN_FILENO)
        close(fd);
    return rv;
}

static int at_option(struct ctl *x, int *argc, char **argv, cairn_at_t *at, const struct cmd *c)
{
    const char *s = NULL;
    memset(at, 0, sizeof *at);
    int r = ctl_opt(x, argc, argv, "--at", &s);
    if (r < 0)
        return ctl_usage(c);
    if (r == 1 && cairn_parse_at(s, at) != 0) {
        fprintf(stderr, "cairnctl: --at '%s' is neither a time after 1970 nor a snapshot name\n",
                s);
        return 2;
    }
    return 0;
}

/* The common start of cat and ls: "VOL:/PATH [--at X]" resolved. Returns 0
 * or the exit status to return. */
static int resolve_arg(struct ctl *x, int argc, char **argv, const struct cmd *c, char vol[256],
                       const char **path, cairn_at_t *at, cairn_attr_t *a)
{
    int rv;
    if ((rv = at_option(x, &argc, argv, at, c)) != 0)
        return rv;
    if (argc != 1)
        return ctl_usage(c);
    if ((rv = ctl_volpath(argv[0], vol, path)) != 0 || (rv = ctl_connect(x)) != 0)
        return rv;
    if ((rv = cairn_resolve(x->c, vol, *path, at, a)) != 0)
        return ctl_fail(argv[0], rv);
    return 0;
}

static int cat(struct ctl *x, int argc, char **argv)
{
    cairn_at_t at;
    char vol[256];
    const char *path;
    cairn_attr_t a = {0}; /* filled by resolve_arg on success */
    int rv;
    if ((rv = resolve_arg(x, argc, argv, &cmd_file[1], vol, &path, &at, &a)) != 0)
        return rv;
    if (!S_ISREG(a.mode))
        return ctl_fail(argv[0], S_ISDIR(a.mode) ? -EISDIR : -EINVAL);
    uint8_t *buf = malloc(IO_PIECE);
    if (!buf)
        return ctl_fail(argv[0], -ENOMEM);
    uint64_t off = 0;
    for (;;) {
        size_t got;
        if ((rv = cairn_read(x->c, vol, a.ino, off, IO_PIECE, buf, &at, &got)) != 0)
            break;
        if (got == 0)
            break;
        if (fwrite(buf, 1, got, stdout) != got) {
            rv = -EIO;
            break;
        }
        off += got;
    }
    free(buf);
    if ((fflush(stdout) != 0 || ferror(stdout)) && rv == 0)
        rv = -EIO;
    return rv ? ctl_fail(argv[0], rv) : 0;
}

struct listing {
    struct ctl *x;
    int n;
};

static void ls_row(struct listing *l, const char *name, const cairn_attr_t *a)
{
    if (l->x->json) {
        printf("%s{\"name\":", l->n ? "," : "[");
        ctl_json_str(stdout, name);
        printf(",\"ino\":\"%llu\",\"type\":\"%s\",\"mode\":\"%04o\",\"uid\":%u,\"gid\":%u,"
               "\"nlink\":%u,\"size\":%llu,\"mtime_ns\":%lld}",
               (unsigned long long)a->ino, ctl_type(a->mode), a->mode & 07777, a->uid, a->gid,
               a->nlink, (unsigned long long)a->size, (long long)a->mtime_ns);
    } else {
        char tb[32];
        printf("%-8s %04o %5u %5u %12llu  %s  %s\n", ctl_type(a->mode), a->mode & 07777, a->uid,
               a->gid, (unsigned long long)a->size, ctl_time(a->mtime_ns, tb), name);
    }
    l->n++;
}

static int ls_entry(void *ctx, const char *name, uint64_t ino, uint32_t type,
                    const cairn_attr_t *attr)
{
    cairn_attr_t a;
    if (!attr) {
        memset(&a, 0, sizeof a);
        a.ino = ino;
        a.mode = type;
        attr = &a;
    }
    ls_row(ctx, name, attr);
    return 0;
}

static int ls(struct ctl *x, int argc, char **argv)
{
    cairn_at_t at;
    char vol[256];
    const char *path = "";
    cairn_attr_t a = {0}; /* filled by resolve_arg on success */
    int rv;
    if ((rv = resolve_arg(x, argc, argv, &cmd_file[2], vol, &path, &at, &a)) != 0)
        return rv;
    struct listing l = {x, 0};
    if (S_ISDIR(a.mode)) {
        rv = cairn_readdir(x->c, vol, a.ino, &at, NULL, 1, ls_entry, &l);
    } else {
        const char *slash = strrchr(path, '/');
        ls_row(&l, slash ? slash + 1 : path, &a);
    }
    if (x->json)
        printf(l.n ? "]\n" : "[]\n");
    return rv ? ctl_fail(argv[0], rv) : 0;
}

static int rm(struct ctl *x, int argc, char **argv)
{
    if (argc != 1)
        return ctl_usage(&cmd_file[3]);
    char vol[256], name[256];
    const char *path;
    int rv;
    if ((rv = ctl_volpath(argv[0], vol, &path)) != 0)
        return rv;
    if ((rv = ctl_connect(x)) != 0)
        return rv;
    uint64_t parent;
    cairn_attr_t a;
    if ((rv = walk_parent(x->c, vol, path, 0, &parent, name)) != 0 ||
        (rv = cairn_lookup(x->c, vol, parent, name, NULL, &a)) != 0)
        return ctl_fail(argv[0], rv);
    if (path[strlen(path) - 1] == '/' && !S_ISDIR(a.mode))
        return ctl_fail(argv[0], -ENOTDIR); /* a trailing slash names a directory */
    rv = S_ISDIR(a.mode) ? cairn_rmdir(x->c, vol, parent, name)
                         : cairn_unlink(x->c, vol, parent, name);
    return rv ? ctl_fail(argv[0], rv) : 0;
}

static int version_row(void *ctx, const cairn_version_t *v)
{
    struct listing *l = ctx;
    if (l->x->json) {
        printf("%s{\"time_ms\":%lld,\"hlc\":\"%llu\",\"origin\":%u,\"seq\":%llu,\"size\":%llu,"
               "\"mode\":\"%04o\",\"nlink\":%u,\"mtime_ns\":%lld}",
               l->n ? "," : "[", (long long)v->time_ms, (unsigned long long)v->hlc, v->origin,
               (unsigned long long)v->seq, (unsigned long long)v->attr.size, v->attr.mode & 07777,
               v->attr.nlink, (long long)v->attr.mtime_ns);
    } else {
        char tb[32], dot[48];
        if (l->n == 0)
            printf("%-23s %-22s %12s %5s %s\n", "TIME (UTC)", "VERSION", "SIZE", "LINKS", "MODE");
        snprintf(dot, sizeof dot, "%u:%llu", v->origin, (unsigned long long)v->seq);
        printf("%s.%03lld %-22s %12llu %5u %04o\n", ctl_time(v->time_ms * 1000000, tb),
               (long long)(v->time_ms % 1000), dot, (unsigned long long)v->attr.size, v->attr.nlink,
               v->attr.mode & 07777);
    }
    l->n++;
    return 0;
}

static int history(struct ctl *x, int argc, char **argv)
{
    if (argc != 1)
        return ctl_usage(&cmd_file[4]);
    char vol[256];
    const char *path;
    int rv;
    if ((rv = ctl_volpath(argv[0], vol, &path)) != 0)
        return rv;
    if ((rv = ctl_connect(x)) != 0)
        return rv;
    struct listing l = {x, 0};
    rv = cairn_history(x->c, vol, path, version_row, &l);
    if (x->json)
        printf(l.n ? "]\n" : "[]\n");
    return rv ? ctl_fail(argv[0], rv) : 0;
}

const struct cmd cmd_file[] = {
    {"put", NULL, "VOLUME:/PATH [FILE|-]", "store FILE (or stdin) at PATH, durably", put},
    {"cat", NULL, "VOLUME:/PATH [--at SNAPSHOT|TIME]", "print a file, now or as of a past point",
     cat},
    {"ls", NULL, "VOLUME:/PATH [--at SNAPSHOT|TIME]", "list a directory (or show a file)", ls},
    {"rm", NULL, "VOLUME:/PATH", "remove a file or an empty directory", rm},
    {"history", NULL, "VOLUME:/PATH", "every version of a file, newest first", history},
    {NULL, NULL, NULL, NULL, NULL},
};
