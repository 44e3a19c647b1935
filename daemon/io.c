/*
 * io.c — owns the engine's system-call boundary for files (see io.h).
 *
 * Invariants: (1) every call passes its fault point first, so an injected
 * failure looks exactly like the system call failing; (2) EINTR and short
 * transfers are retried here and nowhere else; (3) a failed fsync/fdatasync
 * is returned, never retried: after one the page cache state is unknown, and
 * the caller must stop acknowledging (volume.c turns the volume read-only).
 */
#include "io.h"
#include "fault.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int io_open(const char *path, int flags, mode_t mode, int *fd_out)
{
    int rv = fault_check("open");
    if (rv)
        return rv;
    int fd;
    do
        fd = open(path, flags | O_CLOEXEC, mode);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return -errno;
    *fd_out = fd;
    return 0;
}

int io_pwrite(int fd, const void *buf, size_t n, uint64_t off)
{
    int rv = fault_check("pwrite");
    if (rv)
        return rv;
    /* tests: the first half of the bytes is written, then the error */
    int torn = fault_check("pwrite_torn");
    size_t stop = torn ? n - n / 2 : 0; /* bytes left unwritten when it fails */
    const char *p = buf;
    while (n > stop) {
        ssize_t w = pwrite(fd, p, n - stop, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (w == 0)
            return -EIO;
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return torn;
}

int io_pread(int fd, void *buf, size_t n, uint64_t off)
{
    int rv = fault_check("pread");
    if (rv)
        return rv;
    char *p = buf;
    while (n > 0) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            return -ENODATA;
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

int io_fdatasync(int fd)
{
    int rv = fault_check("fdatasync");
    if (rv)
        return rv;
    return fdatasync(fd) ? -errno : 0;
}

int io_fsync(int fd)
{
    int rv = fault_check("fsync");
    if (rv)
        return rv;
    return fsync(fd) ? -errno : 0;
}

int io_fsync_dir(const char *path)
{
    int fd = -1, rv;
    if ((rv = io_open(path, O_RDONLY | O_DIRECTORY, 0, &fd)) != 0)
        return rv;
    rv = io_fsync(fd);
    close(fd);
    return rv;
}

int io_fsync_parent(const char *path)
{
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return -ENAMETOOLONG;
    char *slash = strrchr(dir, '/');
    if (!slash)
        return io_fsync_dir(".");
    if (slash == dir) /* "/name": the root itself */
        slash++;
    *slash = '\0';
    return io_fsync_dir(dir);
}

void io_writeback(int fd, uint64_t off, uint64_t n)
{
    (void)sync_file_range(fd, (off_t)off, (off_t)n, SYNC_FILE_RANGE_WRITE);
}

int io_ftruncate(int fd, uint64_t size)
{
    int rv = fault_check("ftruncate");
    if (rv)
        return rv;
    return ftruncate(fd, (off_t)size) ? -errno : 0;
}

int io_publish(const char *from, const char *to)
{
    int rv = fault_check("link"); /* tests: a file system without hard links */
    if (rv == 0) {
        if (link(from, to) == 0) {
            unlink(from);
            return 0;
        }
        rv = -errno;
    }
    if (rv != -EPERM && rv != -EOPNOTSUPP) /* (ENOTSUP is EOPNOTSUPP on Linux) */
        return rv;
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -errno;
    /* neither: the names are random ids, so nothing races for TO */
    if (access(to, F_OK) == 0)
        return -EEXIST;
    return rename(from, to) == 0 ? 0 : -errno;
}

int io_write_file_atomic(const char *path, const void *buf, size_t n)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    int fd = -1, rv;
    if ((rv = io_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600, &fd)) != 0)
        return rv;
    if ((rv = io_pwrite(fd, buf, n, 0)) == 0)
        rv = io_fsync(fd);
    close(fd);
    if (rv == 0 && rename(tmp, path) != 0)
        rv = -errno;
    if (rv == 0)
        rv = io_fsync_parent(path);
    if (rv != 0)
        unlink(tmp);
    return rv;
}
