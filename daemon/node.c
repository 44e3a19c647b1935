/*
 * node.c — owns DATA_DIR/node.id and DATA_DIR/LOCK.
 *
 * node.id is a small INI file (NODE_FILE_VERSION, format.h):
 *   [node]
 *   format = 1
 *   id = <decimal node id>
 * Invariants: (1) the id never changes once written (written atomically,
 * fsync'ed); (2) while a struct node is open, no other process holds the
 * data directory (flock on LOCK, released by node_close or process exit).
 */
#include "node.h"

#include "alloc.h"
#include "cairn_err.h"
#include "format.h"
#include "io.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir of one path, its entry made durable in its parent (the chunks live
 * under it); an existing directory is fine, anything else is not. */
static int mkdir_one(const char *p)
{
    if (mkdir(p, 0700) == 0)
        return io_fsync_parent(p);
    if (errno != EEXIST)
        return -errno;
    struct stat st;
    if (stat(p, &st) != 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int node_mkdirs(const char *path)
{
    if (!path[0])
        return -ENOENT; /* as mkdir("") */
    char *p = xstrdup(path);
    int rv = 0;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if ((rv = mkdir_one(p)) != 0)
                break;
            *s = c;
            if (c == '\0')
                break;
        }
    }
    free(p);
    return rv;
}

struct idfile {
    long format;
    long long id;
    int bad;
};

static int idfile_kv(void *user, const char *section, const char *name, const char *value)
{
    struct idfile *f = user;
    char *end;
    if (strcmp(section, "node") != 0)
        return 1;
    if (strcmp(name, "format") == 0) {
        f->format = strtol(value, &end, 10);
        f->bad |= *end != '\0';
    } else if (strcmp(name, "id") == 0) {
        f->id = strtoll(value, &end, 10);
        f->bad |= *end != '\0';
    }
    return 1;
}

static int read_id(const char *path, uint32_t *id)
{
    struct idfile f = {0, 0, 0};
    int rv = ini_parse(path, idfile_kv, &f);
    if (rv == -1) {                      /* cannot open: only a missing file means "no id yet" */
        int err = errno ? -errno : -EIO; /* fopen's */
        struct stat st;
        if (stat(path, &st) != 0 && errno == ENOENT)
            return -ENOENT;
        log_err("node", "cannot read %s: %s", path, strerror(-err));
        return err;
    }
    if (rv != 0 || f.bad || f.format < 1 || f.format > (long)NODE_FILE_VERSION || f.id < 1 ||
        f.id > (long long)NODE_ID_MAX) {
        log_err("node", "%s is malformed (line %d)", path, rv);
        return CAIRN_EFORMAT;
    }
    *id = (uint32_t)f.id;
    return 0;
}

int node_open(struct node *n, const char *data_dir)
{
    memset(n, 0, sizeof *n);
    n->lock_fd = -1;
    int rv;
    if (sodium_init() < 0)
        return -ENOSYS;
    if ((rv = node_mkdirs(data_dir)) != 0) {
        log_err("node", "cannot create data directory %s: %s", data_dir, strerror(-rv));
        return rv;
    }
    n->dir = xstrdup(data_dir);
    char *lock = xasprintf("%s/LOCK", data_dir);
    rv = io_open(lock, O_RDWR | O_CREAT, 0600, &n->lock_fd);
    free(lock);
    if (rv != 0)
        goto out;
    if (flock(n->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        rv = errno == EWOULDBLOCK ? -EBUSY : -errno;
        log_err("node", "data directory %s is in use by another process", data_dir);
        goto out;
    }
    char *idpath = xasprintf("%s/node.id", data_dir);
    rv = read_id(idpath, &n->id);
    if (rv == -ENOENT) {
        n->id = 1 + randombytes_uniform(NODE_ID_MAX);
        char buf[128];
        int len = snprintf(buf, sizeof buf,
                           "# cairn node identity: never edit or copy to another node\n"
                           "[node]\nformat = %u\nid = %u\n",
                           NODE_FILE_VERSION, n->id);
        rv = io_write_file_atomic(idpath, buf, (size_t)len);
        if (rv == 0)
            log_info("node", "new node id %u in %s", n->id, data_dir);
    }
    free(idpath);
    if (rv == 0)
        return 0;
out:
    node_close(n);
    return rv;
}

void node_close(struct node *n)
{
    if (n->lock_fd >= 0)
        close(n->lock_fd);
    n->lock_fd = -1;
    free(n->dir);
    n->dir = NULL;
}
