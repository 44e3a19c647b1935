/*
 * io.h — every file I/O call the storage engine makes goes through here, so
 * tests can fail the Nth call of a kind by name ("pwrite", "pread",
 * "fdatasync", "fsync", "open") with fault.h.
 *
 * All functions return 0 or a negative errno, retry EINTR and short
 * transfers, and may block on disk. Thread-safe.
 */
#ifndef CAIRN_IO_H
#define CAIRN_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

int io_open(const char *path, int flags, mode_t mode, int *fd_out);
/* Writes all N bytes at OFF. A failure may leave part of them written. */
int io_pwrite(int fd, const void *buf, size_t n, uint64_t off);
/* Reads exactly N bytes at OFF; a read that ends early is -ENODATA. */
int io_pread(int fd, void *buf, size_t n, uint64_t off);
int io_fdatasync(int fd);
int io_fsync(int fd);
/* fsync the directory at PATH (makes created or renamed entries durable). */
int io_fsync_dir(const char *path);
/* io_fsync_dir of the directory that holds PATH ("." for a bare name). */
int io_fsync_parent(const char *path);
/* Starts (does not wait for) writeback of [OFF, OFF+N); errors are ignored
 * by design: the later fdatasync reports them. */
void io_writeback(int fd, uint64_t off, uint64_t n);
int io_ftruncate(int fd, uint64_t size);
/* Gives the file at FROM the name TO, which must not exist (-EEXIST), and
 * removes FROM: a hard link where the file system has them, else a rename
 * that does not replace. */
int io_publish(const char *from, const char *to);
/* Writes BUF to PATH atomically: temp file, fsync, rename, fsync dir. */
int io_write_file_atomic(const char *path, const void *buf, size_t n);

#endif
