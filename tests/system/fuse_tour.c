/*
 * fuse_tour.c — runs one sequence of POSIX calls in two directories, a cairn
 * mount and a local directory, and compares what each call did there.
 *
 *   fuse_tour CAIRN_DIR LOCAL_DIR      (as root; the mount needs allow_other)
 *
 * Every call runs first in CAIRN_DIR, then in LOCAL_DIR (the reference), and
 * the two results must agree: the same return value (or, for descriptors,
 * the same success) and the same errno. Where the errno is what the test is
 * about (ENAMETOOLONG, ELOOP, ...) it is also checked against the value
 * POSIX/Linux gives, so an unexpected local result shows up too. After the
 * calls, stat fields that must match are compared (type, mode, nlink, uid,
 * gid, size except for directories, rdev), file contents are compared, and
 * times are compared as behaviour: which of mtime/ctime (and, for reads and
 * listings, atime under relatime rules) a call changed on each side (a call
 * is preceded by a 20 ms pause so even a coarse clock ticks), and that a
 * write's mtime is not earlier than the create before it; never absolute
 * values. A few checks look at the cairn side alone (statfs figures,
 * SEEK_DATA/SEEK_HOLE answers, times near the wall clock).
 *
 * Each group of checks works in its own subdirectory (named after the group)
 * of both directories and prints "ok - GROUP: N calls agree" or, after
 * "# MISMATCH fuse_tour.c:LINE ..." lines, "not ok - GROUP". The group
 * "permissions as nobody" runs in a forked child with uid/gid 65534.
 * Exit status: 0 when every group agreed, 1 otherwise, 2 on bad usage.
 *
 * Single-threaded; every loop runs over a fixed count.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#define KIB 1024L
#define MIB (1024L * KIB)
#define GIB (1024L * MIB)
#define BUFSZ (4 * MIB)
#define NFD 8
#define NOBODY 65534
#define SGID_GROUP 4242

static const char *side_name[2] = {"cairn", "local"};
static int root_fd[2];  /* the two directories */
static int group_fd[2]; /* the current group's subdirectory in each */
static int side;        /* 0 = cairn, 1 = local: the side a call runs on */
static int fds[2][NFD]; /* descriptors the calls open, per side */
static char *bufs[2];   /* BUFSZ each: what reads put there, per side */
static long last_r[2];  /* the last call's results */
static const char *group = "start";
static int calls, mismatches, failed_groups, groups;

#define FD(i) fds[side][i]
#define BUF (bufs[side])

static void die(const char *what)
{
    fprintf(stderr, "FAIL: fuse_tour: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void enter(int s)
{
    side = s;
    if (fchdir(group_fd[s]) != 0)
        die("fchdir");
}

static const char *ename(int e)
{
    const char *n = e ? strerrorname_np(e) : "0";
    return n ? n : "?";
}

static void mismatch(int line, const char *fmt, ...)
{
    va_list ap;
    printf("# MISMATCH fuse_tour.c:%d [%s] ", line, group);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    mismatches++;
}

static void group_begin(const char *name)
{
    group = name;
    calls = mismatches = 0;
    for (int s = 0; s < 2; s++) {
        if (fchdir(root_fd[s]) != 0)
            die("fchdir root");
        if (mkdir(name, 0755) != 0 && errno != EEXIST)
            die(name);
        if (group_fd[s] > 0)
            close(group_fd[s]);
        if ((group_fd[s] = open(name, O_RDONLY | O_DIRECTORY)) < 0)
            die(name);
        for (int i = 0; i < NFD; i++)
            fds[s][i] = -1;
    }
    enter(0);
}

/* Goes on in the current group's directories under a new name (the nobody
 * child cannot make directories at the top). */
static void group_continue(const char *name)
{
    group = name;
    calls = mismatches = 0;
    enter(0);
}

static void group_end(void)
{
    groups++;
    if (mismatches) {
        printf("not ok - %s: %d of %d checks differ (lines above)\n", group, mismatches, calls);
        failed_groups++;
    } else {
        printf("ok - %s: %d calls and checks agree with the local directory\n", group, calls);
    }
    fflush(stdout);
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < NFD; i++)
            if (fds[s][i] >= 0) {
                close(fds[s][i]);
                fds[s][i] = -1;
            }
}

/* want: ANY (only agreement), 0 (both must succeed) or an errno both give. */
#define ANY (-1)
static void agree(int line, const char *expr, int exact, int want, const long r[2], const int e[2])
{
    calls++;
    last_r[0] = r[0];
    last_r[1] = r[1];
    const char *why = NULL;
    char w[64] = "";
    if ((r[0] >= 0) != (r[1] >= 0) || e[0] != e[1] || (exact && r[0] != r[1]))
        why = "differ";
    else if (want == 0 && r[1] < 0)
        why = "both failed, want success";
    else if (want > 0 && (r[1] >= 0 || e[1] != want))
        snprintf(w, sizeof w, "want %s", ename(want)), why = w;
    if (why)
        mismatch(line, "%s: %s: cairn %ld (%s), local %ld (%s)", expr, why, r[0], ename(e[0]), r[1],
                 ename(e[1]));
}

#define DO(exact, want, expr)                                                                      \
    do {                                                                                           \
        long r_[2];                                                                                \
        int e_[2];                                                                                 \
        for (int s_ = 0; s_ < 2; s_++) {                                                           \
            enter(s_);                                                                             \
            errno = 0;                                                                             \
            r_[s_] = (long)(expr);                                                                 \
            e_[s_] = r_[s_] < 0 ? errno : 0;                                                       \
        }                                                                                          \
        agree(__LINE__, #expr, exact, want, r_, e_);                                               \
    } while (0)
#define CALL(expr) DO(1, ANY, expr)  /* same value, same errno */
#define CALLF(expr) DO(0, ANY, expr) /* same success (descriptors), same errno */
#define OK(expr) DO(1, 0, expr)      /* same value, and success */
#define OKF(expr) DO(0, 0, expr)     /* success on both */
#define ERR(e, expr) DO(1, e, expr)  /* both fail with e */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        calls++;                                                                                   \
        if (!(cond))                                                                               \
            mismatch(__LINE__, "cairn side: %s is false", #cond);                                  \
    } while (0)

/* The buffers the last call read into hold the same bytes. */
static void same_buf(int line)
{
    calls++;
    if (last_r[0] != last_r[1] || last_r[0] < 0) {
        mismatch(line, "buffer lengths differ: cairn %ld, local %ld", last_r[0], last_r[1]);
        return;
    }
    for (long i = 0; i < last_r[0]; i++)
        if (bufs[0][i] != bufs[1][i]) {
            mismatch(line, "buffers differ at byte %ld of %ld: cairn 0x%02x, local 0x%02x", i,
                     last_r[0], (unsigned char)bufs[0][i], (unsigned char)bufs[1][i]);
            return;
        }
}
#define SAME_BUF() same_buf(__LINE__)

static int do_stat(int s, const char *path, struct stat *st)
{
    enter(s);
    return fstatat(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno;
}

static void cmp_stat(int line, const char *what, const struct stat *a, const struct stat *b)
{
#define FIELD(f, fmt)                                                                              \
    if (a->f != b->f)                                                                              \
        mismatch(line, "%s: " #f " cairn " fmt ", local " fmt, what, a->f, b->f);
    FIELD(st_mode, "0%o")
    FIELD(st_nlink, "%lu")
    FIELD(st_uid, "%u")
    FIELD(st_gid, "%u")
    if (!S_ISDIR(a->st_mode) && !S_ISDIR(b->st_mode))
        FIELD(st_size, "%ld")
    if (S_ISCHR(a->st_mode) || S_ISBLK(a->st_mode))
        FIELD(st_rdev, "0x%lx")
#undef FIELD
}

/* lstat of PATH agrees on both sides (or fails alike). */
static void same_stat(int line, const char *path)
{
    struct stat st[2];
    int e[2];
    calls++;
    for (int s = 0; s < 2; s++)
        e[s] = do_stat(s, path, &st[s]);
    if (e[0] || e[1]) {
        if (e[0] != e[1])
            mismatch(line, "lstat(%s): cairn %s, local %s", path, ename(e[0]), ename(e[1]));
        return;
    }
    cmp_stat(line, path, &st[0], &st[1]);
}
#define SAME(path) same_stat(__LINE__, path)

static void same_fstat(int line, int slot)
{
    struct stat st[2];
    int e[2];
    calls++;
    for (int s = 0; s < 2; s++)
        e[s] = fstat(fds[s][slot], &st[s]) == 0 ? 0 : errno;
    if (e[0] || e[1]) {
        if (e[0] != e[1])
            mismatch(line, "fstat(fd %d): cairn %s, local %s", slot, ename(e[0]), ename(e[1]));
        return;
    }
    char what[32];
    snprintf(what, sizeof what, "fstat(fd %d)", slot);
    cmp_stat(line, what, &st[0], &st[1]);
}
#define SAME_FSTAT(slot) same_fstat(__LINE__, slot)

/* st_ino of A and B are equal (want 1) or different (want 0), on both sides. */
static void same_ino(int line, const char *a, const char *b, int want)
{
    calls++;
    for (int s = 0; s < 2; s++) {
        struct stat sa, sb;
        if (do_stat(s, a, &sa) || do_stat(s, b, &sb)) {
            mismatch(line, "%s: lstat %s or %s failed", side_name[s], a, b);
            continue;
        }
        if ((sa.st_ino == sb.st_ino) != want)
            mismatch(line, "%s: st_ino of %s (%lu) and %s (%lu) should %s", side_name[s], a,
                     sa.st_ino, b, sb.st_ino, want ? "be equal" : "differ");
    }
}
#define SAME_INO(a, b, want) same_ino(__LINE__, a, b, want)

/* Reads a whole file (up to BUFSZ) into BUF; returns its length. */
static long readall(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    long n = 0;
    for (int i = 0; i < 1024 && n < BUFSZ; i++) {
        ssize_t k = read(fd, BUF + n, (size_t)(BUFSZ - n));
        if (k < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        if (k == 0)
            break;
        n += k;
    }
    close(fd);
    return n;
}
#define SAME_DATA(path)                                                                            \
    do {                                                                                           \
        OK(readall(path));                                                                         \
        SAME_BUF();                                                                                \
    } while (0)

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted "name type" lines of a directory listing into BUF; its length. */
static long listdir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    enum { MAXN = 4096 };
    char **names = calloc(MAXN, sizeof *names);
    size_t n = 0;
    struct dirent *de;
    errno = 0;
    while (n < MAXN && (de = readdir(d)) != NULL) {
        char line[300];
        snprintf(line, sizeof line, "%s %d\n", de->d_name, de->d_type);
        names[n++] = strdup(line);
    }
    int e = errno;
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    long len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(names[i]);
        if (len + (long)k < BUFSZ) {
            memcpy(BUF + len, names[i], k);
            len += (long)k;
        }
        free(names[i]);
    }
    free(names);
    if (e) {
        errno = e;
        return -1;
    }
    return len;
}

/* Sorted, NUL-separated xattr names of PATH into BUF; its length. */
static long listx(const char *path)
{
    char raw[4096];
    ssize_t n = llistxattr(path, raw, sizeof raw);
    if (n < 0)
        return -1;
    char *names[256];
    size_t k = 0;
    for (ssize_t i = 0; i < n && k < 256; i += (ssize_t)strlen(raw + i) + 1)
        names[k++] = raw + i;
    qsort(names, k, sizeof *names, cmp_str);
    long len = 0;
    for (size_t i = 0; i < k; i++) {
        size_t l = strlen(names[i]) + 1;
        memcpy(BUF + len, names[i], l);
        len += (long)l;
    }
    return len;
}

static int mkfile(const char *path, const char *data, mode_t mode)
{
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, mode);
    if (fd < 0)
        return -1;
    size_t len = strlen(data);
    ssize_t n = write(fd, data, len);
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)len ? 0 : -1;
}

/* Creates PATH, waits 20 ms, writes DATA. */
static int mkfile_later(const char *path, const char *data)
{
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd < 0)
        return -1;
    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
    size_t len = strlen(data);
    ssize_t n = write(fd, data, len);
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)len ? 0 : -1;
}

static long rename2(const char *a, const char *b, unsigned flags)
{
    return syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);
}

/* Writes a pattern through a shared mapping, msyncs and unmaps. */
static int mm_write(const char *path, long len)
{
    int fd = open(path, O_CREAT | O_RDWR, 0644);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, len) != 0)
        return close(fd), -1;
    char *p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return close(fd), -1;
    for (long i = 0; i < len; i++)
        p[i] = (char)('a' + i % 23);
    int rv = msync(p, (size_t)len, MS_SYNC);
    munmap(p, (size_t)len);
    close(fd);
    return rv;
}

/* A listening AF_UNIX socket bound at PATH (relative); returns its fd. */
static int sock_bind(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Connects to the socket at PATH, sends a byte the listener accepts and
 * reads back; returns the byte read through the accepted connection. */
static int sock_roundtrip(int lfd, const char *path)
{
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (connect(c, (struct sockaddr *)&sa, sizeof sa) != 0)
        return close(c), -1;
    int a = accept(lfd, NULL, NULL);
    char ch = 'Z', got = 0;
    int rv = -1;
    if (a >= 0 && write(c, &ch, 1) == 1 && read(a, &got, 1) == 1)
        rv = got;
    close(a);
    close(c);
    return rv;
}

/* ---- times: which of mtime/ctime a call changed, per side ---- */

#define M 1
#define C 2
#define A 4 /* atime: compared only by TCHECK_ATIME */
static struct stat tbefore[2][4];

static void sleep_ms(int ms)
{
    struct timespec ts = {0, (long)ms * 1000000};
    nanosleep(&ts, NULL);
}

static int ts_eq(struct timespec a, struct timespec b)
{
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static void tsnap(int line, int slot, const char *path)
{
    for (int s = 0; s < 2; s++)
        if (do_stat(s, path, &tbefore[s][slot]) != 0)
            mismatch(line, "%s: lstat(%s) before a time check failed", side_name[s], path);
    sleep_ms(20); /* so a coarse clock ticks before the call */
}

/* want: M|C (|A with atime) bits that must change (ANY: only agreement). */
static void tcheck(int line, int slot, const char *path, int want, int atime)
{
    int ch[2] = {0, 0};
    calls++;
    for (int s = 0; s < 2; s++) {
        struct stat st;
        if (do_stat(s, path, &st) != 0) {
            mismatch(line, "%s: lstat(%s) after a time check failed", side_name[s], path);
            return;
        }
        ch[s] = (ts_eq(st.st_mtim, tbefore[s][slot].st_mtim) ? 0 : M) |
                (ts_eq(st.st_ctim, tbefore[s][slot].st_ctim) ? 0 : C) |
                (!atime || ts_eq(st.st_atim, tbefore[s][slot].st_atim) ? 0 : A);
    }
    static const char *nm[8] = {"none",  "mtime",       "ctime",       "mtime+ctime",
                                "atime", "atime+mtime", "atime+ctime", "all three times"};
    if (ch[0] != ch[1] || (want != ANY && ch[1] != want))
        mismatch(line, "%s: changed %s on cairn, %s on local%s%s", path, nm[ch[0]], nm[ch[1]],
                 want == ANY ? "" : ", want ", want == ANY ? "" : nm[want]);
}
#define TSNAP(slot, path) tsnap(__LINE__, slot, path)
#define TCHECK(slot, path, want) tcheck(__LINE__, slot, path, want, 0)
/* The same with atime too: the local directory is on a relatime mount, so
 * atime moves on the first access after a change and not again. */
#define TCHECK_ATIME(slot, path, want) tcheck(__LINE__, slot, path, want, 1)

/* ================================ groups ================================ */

static void g_files(void)
{
    group_begin("regular files");
    CALLF(FD(0) = open("f", O_CREAT | O_RDWR, 0640));
    SAME("f");
    OK(write(FD(0), "hello world", 11));
    SAME("f");
    OK(pread(FD(0), BUF, 100, 0));
    SAME_BUF();
    OK(pread(FD(0), BUF, 100, 6));
    SAME_BUF();
    OK(pread(FD(0), BUF, 100, 50)); /* past the end: 0 */
    OK(lseek(FD(0), 0, SEEK_END));
    OK(lseek(FD(0), 0, SEEK_CUR));
    OK(fsync(FD(0)));
    OK(fdatasync(FD(0)));
    SAME_FSTAT(0);
    OK(close(FD(0)));
    SAME_DATA("f");

    /* O_EXCL, O_CREAT without O_EXCL on an existing file, O_TRUNC */
    ERR(EEXIST, open("f", O_CREAT | O_EXCL | O_WRONLY, 0600));
    CALLF(FD(1) = open("g", O_CREAT | O_EXCL | O_WRONLY, 0600));
    SAME("g");
    OK(close(FD(1)));
    CALLF(FD(1) = open("f", O_CREAT | O_WRONLY, 0600)); /* exists: opened, mode kept */
    OK(close(FD(1)));
    SAME("f");
    TSNAP(0, "f");
    CALLF(FD(1) = open("f", O_WRONLY | O_TRUNC));
    OK(close(FD(1)));
    TCHECK(0, "f", M | C);
    SAME("f");
    SAME_DATA("f");

    /* O_APPEND: every write lands at the end, pwrite too (Linux) */
    OK(mkfile("ap", "abc", 0644));
    CALLF(FD(2) = open("ap", O_WRONLY | O_APPEND));
    OK(lseek(FD(2), 0, SEEK_SET));
    OK(write(FD(2), "XYZ", 3));
    OK(lseek(FD(2), 0, SEEK_CUR));
    OK(pwrite(FD(2), "QQ", 2, 0));
    OK(close(FD(2)));
    SAME("ap");
    SAME_DATA("ap");

    /* two descriptors on one file see each other's writes */
    CALLF(FD(3) = open("two", O_CREAT | O_RDWR, 0644));
    CALLF(FD(4) = open("two", O_RDWR));
    OK(pwrite(FD(3), "0123456789", 10, 0));
    OK(pread(FD(4), BUF, 64, 0));
    SAME_BUF();
    OK(pwrite(FD(4), "ab", 2, 4));
    OK(pread(FD(3), BUF, 64, 0));
    SAME_BUF();
    OK(close(FD(3)));
    OK(close(FD(4)));

    /* an unlinked open file stays readable and writable through its fd */
    OK(mkfile("u", "still here", 0644));
    CALLF(FD(5) = open("u", O_RDWR));
    OK(unlink("u"));
    ERR(ENOENT, access("u", F_OK));
    SAME_FSTAT(5);
    OK(pread(FD(5), BUF, 64, 0));
    SAME_BUF();
    OK(pwrite(FD(5), "!", 1, 10));
    OK(pread(FD(5), BUF, 64, 0));
    SAME_BUF();
    OK(close(FD(5)));

    /* mmap shared writes reach the file */
    OK(mm_write("mm", 3 * 4096 + 100));
    SAME("mm");
    SAME_DATA("mm");

    /* mknod(S_IFREG) makes a plain file */
    OK(mknod("viamknod", S_IFREG | 0600, 0));
    SAME("viamknod");

    /* failures */
    ERR(ENOENT, open("nope", O_RDONLY));
    ERR(ENOENT, access("nope", F_OK));
    ERR(ENOENT, unlink("nope"));
    ERR(ENOENT, open("nodir/x", O_CREAT | O_WRONLY, 0644));
    ERR(ENOTDIR, open("f/x", O_RDONLY));
    ERR(ENOTDIR, open("f/x", O_CREAT | O_WRONLY, 0644));
    ERR(ENOTDIR, mkdir("f/x", 0755));
    ERR(ENOTDIR, access("f/", F_OK));
    ERR(EISDIR, open(".", O_WRONLY));
    OK(mkdir("d", 0755));
    ERR(EISDIR, open("d", O_RDWR));
    ERR(EISDIR, open("d", O_WRONLY | O_CREAT, 0644));
    ERR(EISDIR, unlink("d"));
    CALLF(FD(6) = open("d", O_RDONLY));
    ERR(EISDIR, read(FD(6), BUF, 10));
    OK(close(FD(6)));
    ERR(EEXIST, mkdir("f", 0755));
    ERR(EEXIST, mkdir("d", 0755));
    ERR(EEXIST, symlink("x", "f"));
    ERR(EEXIST, link("f", "g"));
    ERR(EEXIST, mknod("f", S_IFIFO | 0644, 0));
    CALLF(FD(7) = open("f", O_RDONLY));
    ERR(EBADF, write(FD(7), "x", 1));
    ERR(EINVAL, ftruncate(FD(7), 0));
    OK(close(FD(7)));
    group_end();
}

static int make_many(const char *dir, int n)
{
    char p[64];
    for (int i = 0; i < n; i++) {
        snprintf(p, sizeof p, "%s/entry-%05d", dir, i);
        int fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
        if (fd < 0)
            return -1;
        close(fd);
    }
    return n;
}

/* A directory empty when first read lists what was made in it after a
 * rewinddir: 1 when "new" shows then (and nothing showed before). */
static long rewind_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int before = 0, after = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        before += de->d_name[0] != '.';
    char p[256];
    snprintf(p, sizeof p, "%s/new", dir);
    int fd = open(p, O_CREAT | O_WRONLY, 0644);
    if (fd < 0) {
        closedir(d);
        return -1;
    }
    close(fd);
    rewinddir(d);
    while ((de = readdir(d)) != NULL)
        after += strcmp(de->d_name, "new") == 0;
    closedir(d);
    return before == 0 && after == 1;
}

/* seekdir back to a telldir position pages (of the adapter's 1000) past
 * what the handle holds after a rewinddir and one readdir: 1 when the entry
 * after the position is the one that came after it the first time. */
static long seek_far(const char *dir, int at)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    long pos = -1;
    char want[256] = "";
    struct dirent *de;
    for (int i = 0; (de = readdir(d)) != NULL; i++) {
        if (i == at)
            snprintf(want, sizeof want, "%s", de->d_name);
        if (i == at - 1)
            pos = telldir(d);
    }
    rewinddir(d);
    de = readdir(d); /* the handle starts afresh, one page in */
    seekdir(d, pos);
    de = readdir(d);
    long r = pos >= 0 && de && strcmp(de->d_name, want) == 0;
    closedir(d);
    return r;
}

/* A name renamed away while a listing of its directory was under way must
 * not come back from that listing as a name of the file (READDIRPLUS hands
 * the kernel entries): read DIR up to the entry NEAR before FROM, rename
 * FROM to TO (a name on the first page, so the next listing caches its
 * attributes), list DIR through another handle, look up PROBE, a name the
 * kernel has not seen (a found name makes it ask for the next entries with
 * attributes), read the first handle to its end, then stat FROM (want
 * ENOENT). */
static long plus_after_rename(const char *dir, const char *near, const char *from, const char *to,
                              const char *probe)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    char buf[512], a[256], b[256];
    int seen = 0;
    for (int i = 0; i < 10000 && !seen; i++) {
        long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (long k = 0; k < n;) {
            struct dirent64 *de = (struct dirent64 *)(buf + k);
            seen |= strcmp(de->d_name, near) == 0;
            k += de->d_reclen;
        }
    }
    snprintf(a, sizeof a, "%s/%s", dir, from);
    snprintf(b, sizeof b, "%s/%s", dir, to);
    if (!seen || rename(a, b) != 0) {
        close(fd);
        return -1;
    }
    DIR *d = opendir(dir);
    if (d) {
        while (readdir(d) != NULL)
            ;
        closedir(d);
    }
    struct stat st;
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, probe);
    stat(p, &st);
    for (int i = 0; i < 10000 && syscall(SYS_getdents64, fd, buf, sizeof buf) > 0; i++)
        ;
    close(fd);
    return stat(a, &st);
}

static void g_dirs(void)
{
    group_begin("directories");
    TSNAP(0, ".");
    OK(mkdir("a", 0750));
    TCHECK(0, ".", M | C);
    SAME(".");
    SAME("a");
    OK(mkdir("a/b", 0755));
    OK(mkdir("a/b/c", 0700));
    SAME("a");
    SAME("a/b");
    SAME("a/b/c");
    SAME_INO("a/b/c/..", "a/b", 1);
    SAME_INO("a/b/..", "a", 1);
    ERR(ENOTEMPTY, rmdir("a"));
    ERR(EINVAL, rmdir("."));
    CALL(rmdir("a/b/.."));
    OK(mkfile("a/file", "x", 0644));
    ERR(ENOTDIR, rmdir("a/file"));
    ERR(ENOENT, rmdir("a/none"));
    TSNAP(0, "a/b");
    OK(rmdir("a/b/c/"));
    TCHECK(0, "a/b", M | C);
    SAME("a/b");
    ERR(ENOENT, access("a/b/c", F_OK));
    OK(rmdir("a/b"));
    SAME("a");

    /* a listing of every kind of entry */
    OK(mkdir("ls", 0755));
    OK(mkfile("ls/f1", "1", 0644));
    OK(mkfile("ls/f2", "22", 0600));
    OK(mkdir("ls/sub", 0755));
    OK(symlink("f1", "ls/link"));
    OK(mkfifo("ls/fifo", 0644));
    OK(mknod("ls/sock", S_IFSOCK | 0644, 0));
    OK(mknod("ls/chr", S_IFCHR | 0644, makedev(1, 3)));
    OK(listdir("ls"));
    SAME_BUF();
    OK(unlink("ls/f2"));
    OK(listdir("ls"));
    SAME_BUF();

    /* more entries than one page of the adapter's listing (1000) */
    OK(mkdir("many", 0755));
    OK(make_many("many", 2345));
    OK(listdir("many"));
    SAME_BUF();
    SAME("many");

    /* directory handles: rewinddir of one read empty; seekdir pages away */
    OK(mkdir("empty", 0755));
    OK(rewind_empty("empty") - 1);
    OK(seek_far("many", 2200) - 1);
    /* a name renamed away during a listing stays gone */
    ERR(ENOENT,
        plus_after_rename("many", "entry-00895", "entry-00900", "a-renamed-00900", "entry-02300"));
    group_end();
}

static void g_symlinks(void)
{
    group_begin("symlinks");
    OK(mkfile("target", "target bytes", 0644));
    TSNAP(0, ".");
    OK(symlink("target", "l1"));
    TCHECK(0, ".", M | C);
    SAME("l1");
    OK(readlink("l1", BUF, 4096));
    SAME_BUF();
    OK(readlink("l1", BUF, 3)); /* truncated, no NUL */
    SAME_BUF();
    SAME_DATA("l1"); /* open follows */
    SAME_INO("l1", "target", 0);
    OK(symlink("nowhere", "dangling"));
    SAME("dangling");
    ERR(ENOENT, open("dangling", O_RDONLY));
    ERR(EEXIST, open("dangling", O_CREAT | O_EXCL | O_WRONLY, 0644));
    CALLF(FD(0) = open("dangling", O_CREAT | O_WRONLY, 0644)); /* creates "nowhere" */
    OK(close(FD(0)));
    SAME("nowhere");
    ERR(EINVAL, readlink("target", BUF, 100));
    ERR(ELOOP, open("l1", O_RDONLY | O_NOFOLLOW));
    OK(mkdir("sub", 0755));
    OK(symlink("../target", "sub/up"));
    SAME_DATA("sub/up");
    OK(symlink("sub", "dirlink"));
    SAME_DATA("dirlink/up");
    ERR(ENOTDIR, rmdir("dirlink"));
    OK(unlink("dirlink"));
    SAME("sub");

    /* loops */
    OK(symlink("loop2", "loop1"));
    OK(symlink("loop1", "loop2"));
    OK(symlink("self", "self"));
    ERR(ELOOP, open("loop1", O_RDONLY));
    ERR(ELOOP, access("loop2", F_OK));
    ERR(ELOOP, open("self", O_CREAT | O_WRONLY, 0644));
    ERR(ELOOP, mkdir("self/x", 0755));

    /* long targets: 1000 and 4095 bytes (the most Linux allows) */
    static char longt[4096];
    memset(longt, 'x', 4095);
    longt[1000] = '\0';
    OK(symlink(longt, "long1000"));
    SAME("long1000");
    OK(readlink("long1000", BUF, 8192));
    SAME_BUF();
    longt[1000] = 'x';
    OK(symlink(longt, "long4095"));
    SAME("long4095");
    OK(readlink("long4095", BUF, 8192));
    SAME_BUF();

    /* owner and times of the link itself */
    OK(lchown("l1", 1234, 5678));
    SAME("l1");
    SAME("target");
    struct timespec t[2] = {{1000000000, 0}, {1100000000, 500}};
    OK(utimensat(AT_FDCWD, "l1", t, AT_SYMLINK_NOFOLLOW));
    SAME("l1");
    CALL(fchmodat(AT_FDCWD, "l1", 0600, AT_SYMLINK_NOFOLLOW));
    SAME("l1");
    OK(unlink("l1"));
    SAME("target");
    group_end();
}

static void g_links(void)
{
    group_begin("hard links");
    OK(mkfile("f", "linked", 0644));
    TSNAP(0, "f");
    TSNAP(1, ".");
    OK(link("f", "g"));
    TCHECK(0, "f", C);
    TCHECK(1, ".", M | C);
    SAME("f");
    SAME("g");
    SAME_INO("f", "g", 1);
    OK(mkdir("d", 0755));
    OK(link("g", "d/h"));
    SAME("d/h");
    SAME_INO("f", "d/h", 1);
    CALLF(FD(0) = open("d/h", O_WRONLY | O_APPEND));
    OK(write(FD(0), " more", 5));
    OK(close(FD(0)));
    SAME_DATA("f");
    SAME_DATA("g");
    TSNAP(0, "g");
    OK(unlink("f"));
    TCHECK(0, "g", C);
    SAME("g");
    SAME("d/h");
    OK(rename("g", "d/h")); /* two names of one inode: nothing happens */
    SAME("g");
    SAME("d/h");
    ERR(EPERM, link("d", "dlink"));
    ERR(ENOENT, link("none", "x"));
    ERR(ENOENT, link("g", "nodir/x"));
    ERR(EEXIST, link("g", "d/h"));
    OK(symlink("g", "sym"));
    OK(linkat(AT_FDCWD, "sym", AT_FDCWD, "sym2", 0)); /* links the symlink itself */
    SAME("sym");
    SAME("sym2");
    SAME_INO("sym", "sym2", 1);
    OK(linkat(AT_FDCWD, "sym", AT_FDCWD, "followed", AT_SYMLINK_FOLLOW));
    SAME("followed");
    SAME_INO("followed", "g", 1);
    SAME("g");
    OK(unlink("d/h"));
    OK(unlink("followed"));
    SAME("g");
    group_end();
}

static void g_rename(void)
{
    group_begin("rename");
    OK(mkfile("a", "aaa", 0644));
    OK(mkfile("b", "bbbbbb", 0600));
    OK(mkdir("d1", 0755));
    OK(mkdir("d2", 0755));

    TSNAP(0, "a");
    TSNAP(1, ".");
    OK(rename("a", "a2"));
    TCHECK(0, "a2", C); /* Linux updates the moved inode's ctime */
    TCHECK(1, ".", M | C);
    ERR(ENOENT, access("a", F_OK));
    SAME("a2");

    OK(rename("a2", "b")); /* over a file */
    SAME("b");
    SAME_DATA("b");
    ERR(ENOENT, access("a2", F_OK));

    OK(mkfile("d1/x", "in d1", 0644));
    TSNAP(0, "d1");
    TSNAP(1, "d2");
    OK(rename("d1/x", "d2/x")); /* across directories: never EXDEV */
    TCHECK(0, "d1", M | C);
    TCHECK(1, "d2", M | C);
    SAME("d2/x");
    SAME_DATA("d2/x");

    /* directories */
    OK(mkdir("d1/sub", 0755));
    OK(mkdir("empty", 0755));
    OK(rename("d1/sub", "empty")); /* over an empty directory */
    SAME("empty");
    SAME("d1");
    SAME(".");
    OK(mkdir("d1/sub2", 0755));
    OK(rename("d1/sub2", "d2/sub2")); /* a directory across directories */
    SAME("d1");
    SAME("d2");
    SAME_INO("d2/sub2/..", "d2", 1);
    ERR(ENOTEMPTY, rename("empty", "d2"));
    ERR(EISDIR, rename("b", "empty"));
    ERR(ENOTDIR, rename("empty", "b"));
    ERR(EINVAL, rename("d2", "d2/sub2/inside"));
    ERR(ENOENT, rename("none", "x"));
    ERR(ENOENT, rename("b", "none/x"));
    OK(rename("b", "b"));
    SAME("b");

    /* renameat2 */
    OK(mkfile("p", "ppp", 0644));
    OK(mkfile("q", "qqqqq", 0600));
    ERR(EEXIST, rename2("p", "q", RENAME_NOREPLACE));
    OK(rename2("p", "p2", RENAME_NOREPLACE));
    OK(rename2("p2", "q", RENAME_EXCHANGE));
    SAME("p2");
    SAME("q");
    SAME_DATA("p2");
    SAME_DATA("q");
    OK(rename2("q", "d2", RENAME_EXCHANGE)); /* a file and a directory swap */
    SAME("q");
    SAME("d2");
    SAME_DATA("d2");
    ERR(ENOENT, rename2("q", "none", RENAME_EXCHANGE));
    ERR(EINVAL, rename2("p2", "z", RENAME_EXCHANGE | RENAME_NOREPLACE));

    /* an open file keeps its contents across a rename */
    CALLF(FD(0) = open("p2", O_RDONLY));
    OK(rename("p2", "d1/p3"));
    OK(pread(FD(0), BUF, 64, 0));
    SAME_BUF();
    OK(close(FD(0)));
    OK(listdir("."));
    SAME_BUF();
    OK(listdir("d1"));
    SAME_BUF();
    group_end();
}

static void g_attrs(void)
{
    group_begin("chmod, chown, utimensat, truncate");
    OK(mkfile("f", "hello", 0644));
    TSNAP(0, "f");
    OK(chmod("f", 0751));
    TCHECK(0, "f", C);
    SAME("f");
    OK(chmod("f", 06755));
    SAME("f");
    TSNAP(0, "f");
    OK(chown("f", 1234, 5678));
    TCHECK(0, "f", C);
    SAME("f"); /* chown of an executable clears set-id bits */
    OK(chown("f", (uid_t)-1, 99));
    SAME("f");
    OK(chown("f", 0, 0));
    CALLF(FD(0) = open("f", O_RDWR));
    OK(fchmod(FD(0), 0600));
    OK(fchown(FD(0), 7, 8));
    SAME_FSTAT(0);

    /* explicit times, UTIME_NOW, UTIME_OMIT */
    struct timespec t[2] = {{1000000000, 123456789}, {1100000000, 987654321}};
    TSNAP(0, "f");
    OK(utimensat(AT_FDCWD, "f", t, 0));
    TCHECK(0, "f", M | C);
    for (int s = 0; s < 2; s++) {
        struct stat st;
        calls++;
        if (do_stat(s, "f", &st) != 0 || !ts_eq(st.st_atim, t[0]) || !ts_eq(st.st_mtim, t[1]))
            mismatch(__LINE__, "%s: utimensat: atime %ld.%09ld mtime %ld.%09ld", side_name[s],
                     st.st_atim.tv_sec, st.st_atim.tv_nsec, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    }
    struct timespec omit[2] = {{0, UTIME_OMIT}, {1200000000, 0}};
    OK(utimensat(AT_FDCWD, "f", omit, 0));
    for (int s = 0; s < 2; s++) {
        struct stat st;
        calls++;
        if (do_stat(s, "f", &st) != 0 || !ts_eq(st.st_atim, t[0]) ||
            st.st_mtim.tv_sec != 1200000000)
            mismatch(__LINE__, "%s: UTIME_OMIT: atime %ld.%09ld mtime %ld", side_name[s],
                     st.st_atim.tv_sec, st.st_atim.tv_nsec, st.st_mtim.tv_sec);
    }
    TSNAP(0, "f");
    OK(futimens(FD(0), NULL));
    TCHECK(0, "f", M | C);
    {
        struct stat st;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        calls++;
        if (do_stat(0, "f", &st) != 0 || st.st_mtim.tv_sec < now.tv_sec - 5 ||
            st.st_mtim.tv_sec > now.tv_sec + 5)
            mismatch(__LINE__, "cairn: mtime after UTIME_NOW is %ld, the clock says %ld",
                     st.st_mtim.tv_sec, now.tv_sec);
    }

    /* write and read change what POSIX says */
    TSNAP(0, "f");
    OK(pwrite(FD(0), "J", 1, 0));
    TCHECK(0, "f", M | C);
    TSNAP(0, "f");
    OK(pread(FD(0), BUF, 10, 0));
    TCHECK(0, "f", 0);
    TSNAP(0, "f");
    OK(write(FD(0), "", 0));
    TCHECK(0, "f", ANY);

    /* truncate up (zeros), down, and up again (the cut bytes read as zeros) */
    TSNAP(0, "f");
    OK(truncate("f", 100000));
    TCHECK(0, "f", M | C);
    SAME("f");
    SAME_DATA("f");
    OK(pwrite(FD(0), "0123456789abcdef", 16, 99990));
    OK(ftruncate(FD(0), 3));
    SAME_FSTAT(0);
    OK(ftruncate(FD(0), 99999));
    OK(pread(FD(0), BUF, 200000, 0));
    SAME_BUF();
    SAME_DATA("f");
    TSNAP(0, "f");
    OK(ftruncate(FD(0), 99999)); /* the same size */
    TCHECK(0, "f", ANY);
    OK(pwrite(FD(0), "end", 3, 300000)); /* past the end: a hole between */
    SAME_FSTAT(0);
    SAME_DATA("f");
    ERR(EINVAL, truncate("f", -1));
    OK(mkdir("d", 0755));
    ERR(EISDIR, truncate("d", 0));
    ERR(ENOENT, truncate("none", 0));
    OK(close(FD(0)));

    /* directory attributes */
    OK(chmod("d", 01777));
    OK(chown("d", 11, 12));
    SAME("d");
    TSNAP(0, "d");
    OK(chmod("d", 0700));
    TCHECK(0, "d", C);
    group_end();
}

/* SEEK_DATA/SEEK_HOLE on the cairn side alone: any answer POSIX allows
 * (the whole file may count as data), consistent with the bytes. */
static void check_seek(int fd, off_t data_at, off_t size)
{
    off_t d = lseek(fd, 0, SEEK_DATA);
    calls++;
    if (d < 0 || d > data_at)
        mismatch(__LINE__, "cairn: SEEK_DATA from 0 = %ld (%s), want 0..%ld", (long)d,
                 ename(d < 0 ? errno : 0), (long)data_at);
    off_t h = lseek(fd, data_at, SEEK_HOLE);
    calls++;
    if (h <= data_at || h > size)
        mismatch(__LINE__, "cairn: SEEK_HOLE from %ld = %ld (%s), want %ld..%ld", (long)data_at,
                 (long)h, ename(h < 0 ? errno : 0), (long)data_at + 1, (long)size);
}

static void g_sparse(void)
{
    group_begin("sparse files and files over 4 GiB");
    CALLF(FD(0) = open("s", O_CREAT | O_RDWR, 0644));
    OK(pwrite(FD(0), "data", 4, 1 * MIB));
    OK(pwrite(FD(0), "tail", 4, 5 * GIB));
    SAME_FSTAT(0);
    OK(lseek(FD(0), 0, SEEK_END));
    OK(pread(FD(0), BUF, 4, 5 * GIB));
    SAME_BUF();
    OK(pread(FD(0), BUF, 100, 5 * GIB - 50)); /* hole then tail, then EOF */
    SAME_BUF();
    OK(pread(FD(0), BUF, 10, 1 * MIB - 6));
    SAME_BUF();
    OK(pread(FD(0), BUF, 256 * KIB, 4 * GIB - 100)); /* a hole across 4 GiB */
    SAME_BUF();
    OK(pread(FD(0), BUF, 64 * KIB, 0));
    SAME_BUF();
    OK(pwrite(FD(0), "crossing", 8, 4 * GIB - 4)); /* bytes across the 32-bit boundary */
    OK(pread(FD(0), BUF, 16, 4 * GIB - 8));
    SAME_BUF();
    for (long i = 0; i < 3 * MIB; i++)
        bufs[0][i] = bufs[1][i] = (char)(i * 7 + i / 4096);
    OK(pwrite(FD(0), BUF, 3 * MIB, 4 * GIB + 12345)); /* big writes above 4 GiB */
    OK(fsync(FD(0)));
    memset(bufs[0], 0, BUFSZ);
    memset(bufs[1], 0, BUFSZ);
    OK(pread(FD(0), BUF, 3 * MIB + 100, 4 * GIB + 12345 - 50));
    SAME_BUF();
    check_seek(fds[0][0], 1 * MIB, 5 * GIB + 4);
    ERR(ENXIO, lseek(FD(0), 5 * GIB + 10, SEEK_DATA));
    OK(ftruncate(FD(0), 6 * GIB));
    SAME_FSTAT(0);
    OK(pread(FD(0), BUF, 100, 5 * GIB));
    SAME_BUF();
    OK(ftruncate(FD(0), 4 * GIB + 1));
    SAME_FSTAT(0);
    OK(pread(FD(0), BUF, 100, 4 * GIB - 10));
    SAME_BUF();
    OK(ftruncate(FD(0), 5 * GIB)); /* up again: the cut bytes are zeros */
    OK(pread(FD(0), BUF, 64 * KIB, 4 * GIB));
    SAME_BUF();
    OK(close(FD(0)));
    SAME("s");
    OK(unlink("s"));
    group_end();
}

static void g_statfs(void)
{
    group_begin("statfs");
    struct statfs a, b;
    calls++;
    if (statfs(".", &a) != 0) {
        mismatch(__LINE__, "cairn: statfs: %s", ename(errno));
        group_end();
        return;
    }
    CHECK(a.f_namelen == 255);
    CHECK(a.f_bsize > 0);
    CHECK(a.f_blocks > 0);
    CHECK(a.f_bfree <= a.f_blocks);
    CHECK(a.f_bavail <= a.f_bfree);
    CHECK(a.f_files >= a.f_ffree);
    CALLF(FD(0) = open("fill", O_CREAT | O_WRONLY, 0644));
    for (long i = 0; i < 8 * MIB; i++)
        bufs[0][i % BUFSZ] = bufs[1][i % BUFSZ] = (char)(i * 131 + (i >> 12));
    OK(write(FD(0), BUF, 4 * MIB));
    OK(write(FD(0), BUF, 4 * MIB));
    OK(fsync(FD(0)));
    calls++;
    if (fstatfs(fds[0][0], &b) != 0) {
        mismatch(__LINE__, "cairn: fstatfs: %s", ename(errno));
    } else {
        unsigned long used = (a.f_bfree - b.f_bfree) * (unsigned long)a.f_bsize;
        if (b.f_bfree > a.f_bfree || used < 4 * MIB)
            mismatch(__LINE__,
                     "cairn: free space went from %lu to %lu blocks of %ld after 8 "
                     "MiB were written and fsynced",
                     (unsigned long)a.f_bfree, (unsigned long)b.f_bfree, (long)a.f_bsize);
        CHECK(b.f_type == a.f_type);
    }
    OK(close(FD(0)));
    OK(unlink("fill"));
    group_end();
}

static void g_special(void)
{
    group_begin("FIFOs, sockets and device nodes");
    OK(mkfifo("fifo", 0640));
    SAME("fifo");
    OK(mknod("fifo2", S_IFIFO | 0600, 0));
    SAME("fifo2");
    CALLF(FD(0) = open("fifo", O_RDWR | O_NONBLOCK));
    OK(write(FD(0), "through the pipe", 16));
    OK(read(FD(0), BUF, 100));
    SAME_BUF();
    ERR(EAGAIN, read(FD(0), BUF, 100));
    OK(close(FD(0)));
    OK(mknod("sock", S_IFSOCK | 0755, 0));
    SAME("sock");
    CALLF(FD(1) = sock_bind("bound"));
    SAME("bound");
    OK(sock_roundtrip(FD(1), "bound"));
    OK(close(FD(1)));
    ERR(EADDRINUSE, sock_bind("bound"));
    OK(mknod("chr", S_IFCHR | 0600, makedev(1, 3)));
    SAME("chr");
    OK(mknod("blk", S_IFBLK | 0660, makedev(7, 0)));
    SAME("blk");
    OK(mknod("big", S_IFCHR | 0600, makedev(300, 70000)));
    SAME("big");
    CALL(mknod("dir", S_IFDIR | 0755, 0));
    ERR(EEXIST, mknod("chr", S_IFCHR | 0600, makedev(1, 5)));
    OK(rename("chr", "chr2"));
    SAME("chr2");
    OK(chmod("fifo", 0600));
    SAME("fifo");
    OK(listdir("."));
    SAME_BUF();
    group_end();
}

static void g_names(void)
{
    group_begin("names and path lengths");
    char n255[256], n256[257], m255[256];
    memset(n255, 'n', 255);
    n255[255] = '\0';
    memset(m255, 'm', 255);
    m255[255] = '\0';
    memset(n256, 'n', 256);
    n256[256] = '\0';
    OK(mkfile(n255, "255", 0644));
    SAME(n255);
    SAME_DATA(n255);
    OK(rename(n255, m255));
    SAME(m255);
    OK(mkdir(n255, 0755));
    OK(symlink(n255, "short"));
    SAME("short");
    OK(listdir("."));
    SAME_BUF();
    ERR(ENAMETOOLONG, open(n256, O_CREAT | O_WRONLY, 0644));
    ERR(ENAMETOOLONG, access(n256, F_OK));
    ERR(ENAMETOOLONG, mkdir(n256, 0755));
    ERR(ENAMETOOLONG, symlink("x", n256));
    ERR(ENAMETOOLONG, rename(m255, n256));
    ERR(ENAMETOOLONG, link(m255, n256));
    ERR(ENAMETOOLONG, mknod(n256, S_IFIFO | 0644, 0));

    /* odd bytes: spaces, a newline, UTF-8, control characters, bytes that
     * are not UTF-8, a leading dash */
    static const char *odd[] = {"with space",  "new\nline",        "caf\xc3\xa9 \xe2\x82\xac",
                                "ctl\x01\x1f", "bad\xff\xfe utf8", "-dash",
                                "..dots",      "a:b;c*d?e\\f",     " "};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        OK(mkfile(odd[i], odd[i], 0644));
        SAME(odd[i]);
        SAME_DATA(odd[i]);
    }
    OK(listdir("."));
    SAME_BUF();

    /* a path of PATH_MAX - 1 bytes works; PATH_MAX does not */
    char path[4200];
    size_t len = 0;
    int depth = 0;
    for (; depth < 20; depth++) { /* 20 * 201 = 4020 bytes of directories */
        memset(path + len, 'd', 200);
        path[len + 200] = '\0';
        OK(mkdir(path, 0755));
        path[len + 200] = '/';
        len += 201;
    }
    memset(path + len, 'f', 4095 - len);
    path[4095] = '\0';
    OK(mkfile(path, "deep", 0644));
    SAME_DATA(path);
    SAME(path);
    path[4095] = 'f';
    path[4096] = '\0';
    ERR(ENAMETOOLONG, open(path, O_CREAT | O_WRONLY, 0644));
    group_end();
}

static void g_xattr(void)
{
    group_begin("extended attributes (user.*)");
    OK(mkfile("f", "x", 0644));
    TSNAP(0, "f");
    OK(setxattr("f", "user.a", "v1", 2, 0));
    TCHECK(0, "f", C);
    OK(getxattr("f", "user.a", NULL, 0));
    OK(getxattr("f", "user.a", BUF, 100));
    SAME_BUF();
    ERR(ERANGE, getxattr("f", "user.a", BUF, 1));
    ERR(EEXIST, setxattr("f", "user.a", "v2", 2, XATTR_CREATE));
    ERR(ENODATA, setxattr("f", "user.b", "v2", 2, XATTR_REPLACE));
    OK(setxattr("f", "user.a", "value two", 9, XATTR_REPLACE));
    OK(getxattr("f", "user.a", BUF, 100));
    SAME_BUF();
    OK(setxattr("f", "user.empty", "", 0, XATTR_CREATE));
    OK(getxattr("f", "user.empty", BUF, 100));
    static char big[4000];
    for (int i = 0; i < 4000; i++)
        big[i] = (char)i;
    OK(setxattr("f", "user.big", big, sizeof big, 0));
    OK(getxattr("f", "user.big", BUF, 8192));
    SAME_BUF();
    OK(listxattr("f", NULL, 0));
    OK(listx("f"));
    SAME_BUF();
    ERR(ERANGE, listxattr("f", BUF, 3));
    CALLF(FD(0) = open("f", O_RDONLY));
    OK(fgetxattr(FD(0), "user.a", BUF, 100));
    SAME_BUF();
    OK(fsetxattr(FD(0), "user.viafd", "1", 1, 0));
    OK(close(FD(0)));
    OK(removexattr("f", "user.a"));
    ERR(ENODATA, getxattr("f", "user.a", BUF, 100));
    ERR(ENODATA, removexattr("f", "user.a"));
    OK(listx("f"));
    SAME_BUF();
    OK(mkdir("d", 0755));
    OK(setxattr("d", "user.dir", "yes", 3, 0));
    OK(getxattr("d", "user.dir", BUF, 100));
    SAME_BUF();
    OK(symlink("f", "l"));
    CALL(lsetxattr("l", "user.x", "1", 1, 0)); /* Linux: EPERM on symlinks */
    OK(getxattr("l", "user.big", BUF, 8192));  /* follows the link */
    SAME_BUF();
    ERR(ENODATA, getxattr("f", "user.never", BUF, 100));
    ERR(ENOENT, getxattr("none", "user.a", BUF, 100));
    OK(link("f", "f2")); /* attributes belong to the inode */
    OK(getxattr("f2", "user.big", BUF, 8192));
    SAME_BUF();
    OK(rename("f", "f3"));
    OK(listx("f3"));
    SAME_BUF();
    group_end();
}

/* As uid/gid 65534 in a child: the kernel enforces modes for non-root users
 * on the mount (default_permissions, allow_other). */
static void nobody_checks(void)
{
    group_continue("permissions as nobody");
    ERR(EACCES, open("nb/secret", O_RDONLY));
    ERR(EACCES, access("nb/secret", R_OK));
    CALLF(FD(0) = open("nb/pub", O_RDONLY));
    OK(read(FD(0), BUF, 100));
    SAME_BUF();
    ERR(EACCES, open("nb/pub", O_WRONLY));
    ERR(EACCES, open("nb/closed/x", O_CREAT | O_WRONLY, 0644));
    ERR(EACCES, mkdir("nb/closed/y", 0755));
    ERR(EACCES, readlink("nb/closed/l", BUF, 100));
    ERR(EACCES, access("nb/closed/f", F_OK)); /* no search permission */
    ERR(EPERM, unlink("nb/pub"));             /* sticky directory */
    ERR(EPERM, rename("nb/pub", "nb/mine-now"));
    ERR(EPERM, chmod("nb/secret", 0644));
    ERR(EPERM, chown("nb/pub", NOBODY, NOBODY));
    ERR(EACCES, utimensat(AT_FDCWD, "nb/pub", NULL, 0));
    struct timespec t[2] = {{1, 0}, {2, 0}};
    ERR(EPERM, utimensat(AT_FDCWD, "nb/pub", t, 0));
    ERR(EACCES, truncate("nb/pub", 0));
    CALL(setxattr("nb/pub", "user.x", "1", 1, 0));

    /* new objects belong to the caller */
    CALLF(FD(1) = open("nb/new", O_CREAT | O_EXCL | O_RDWR, 0666));
    SAME("nb/new");
    OK(write(FD(1), "mine", 4));
    OK(close(FD(1)));
    OK(mkdir("nb/newdir", 0777));
    SAME("nb/newdir");
    OK(symlink("new", "nb/newlink"));
    SAME("nb/newlink");
    OK(mkfifo("nb/newfifo", 0666));
    SAME("nb/newfifo");
    OK(link("nb/new", "nb/newdir/hard"));
    SAME("nb/newdir/hard");
    OK(chmod("nb/new", 0600));
    SAME("nb/new");
    ERR(EPERM, chown("nb/new", 0, NOBODY));
    OK(utimensat(AT_FDCWD, "nb/new", t, 0));
    SAME("nb/new");
    OK(setxattr("nb/new", "user.mine", "1", 1, 0));
    OK(rename("nb/new", "nb/newdir/moved"));
    SAME("nb/newdir/moved");

    /* setgid directory: the group comes from the directory, subdirectories
     * inherit the bit */
    CALLF(FD(2) = open("nb/sg/f", O_CREAT | O_WRONLY, 0664));
    OK(close(FD(2)));
    SAME("nb/sg/f");
    OK(mkdir("nb/sg/d", 0775));
    SAME("nb/sg/d");
    OK(mkdir("nb/sg/d/deeper", 0775));
    SAME("nb/sg/d/deeper");
    OK(mknod("nb/sg/fifo", S_IFIFO | 0644, 0));
    SAME("nb/sg/fifo");

    /* set-id bits: a write by a non-root owner clears them; chmod g+s by a
     * non-member is silently dropped */
    CALLF(FD(3) = open("nb/suid", O_WRONLY));
    OK(write(FD(3), "x", 1));
    OK(close(FD(3)));
    SAME("nb/suid");
    OK(chmod("nb/othergroup", 02755));
    SAME("nb/othergroup");
    group_end();
}

static void g_nobody(void)
{
    group_begin("permissions: set-up as root");
    OK(mkdir("nb", 0755));
    OK(chmod("nb", 01777));
    OK(mkfile("nb/secret", "root only", 0600));
    OK(mkfile("nb/pub", "everyone reads", 0644));
    OK(mkdir("nb/closed", 0700));
    OK(mkfile("nb/closed/f", "", 0644));
    OK(symlink("f", "nb/closed/l"));
    OK(mkdir("nb/sg", 0755));
    OK(chown("nb/sg", 0, SGID_GROUP));
    OK(chmod("nb/sg", 02777));
    SAME("nb/sg");
    OK(mkfile("nb/suid", "set-id", 0644));
    OK(chown("nb/suid", NOBODY, NOBODY));
    OK(chmod("nb/suid", 06755));
    SAME("nb/suid");
    OK(mkfile("nb/othergroup", "", 0644));
    OK(chown("nb/othergroup", NOBODY, SGID_GROUP));
    SAME("nb/othergroup");
    group_end();

    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
            die("dropping to nobody");
        nobody_checks();
        fflush(stdout);
        _exit(mismatches ? 1 : 0);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        die("waitpid");
    groups++;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        failed_groups++;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 1)
            printf("not ok - permissions as nobody: the child ended with status 0x%x\n", st);
    }
}

static void g_times(void)
{
    group_begin("times");
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    OK(mkfile("f", "x", 0644));
    {
        struct stat st;
        calls++;
        if (do_stat(0, "f", &st) != 0 || st.st_mtim.tv_sec < now.tv_sec - 5 ||
            st.st_mtim.tv_sec > now.tv_sec + 5 || st.st_ctim.tv_sec < now.tv_sec - 5 ||
            st.st_ctim.tv_sec > now.tv_sec + 5)
            mismatch(__LINE__, "cairn: a new file's mtime %ld / ctime %ld, the clock says %ld",
                     st.st_mtim.tv_sec, st.st_ctim.tv_sec, now.tv_sec);
    }
    /* the mount's root directory (..) is a directory like the others */
    TSNAP(0, "..");
    OK(mkdir("../times-in-root", 0755));
    TCHECK(0, "..", M | C);
    TSNAP(0, "..");
    OK(rmdir("../times-in-root"));
    TCHECK(0, "..", M | C);

    TSNAP(0, ".");
    OK(unlink("f"));
    TCHECK(0, ".", M | C);
    TSNAP(0, ".");
    OK(mkfifo("p", 0644));
    TCHECK(0, ".", M | C);
    OK(mkfile("g", "gg", 0644));
    TSNAP(0, "g");
    CALLF(FD(0) = open("g", O_WRONLY | O_APPEND));
    TSNAP(0, "g");
    OK(write(FD(0), "more", 4));
    OK(fsync(FD(0)));
    TCHECK(0, "g", M | C);
    OK(close(FD(0)));
    TSNAP(0, "g");
    SAME_DATA("g"); /* open, read, close */
    TCHECK(0, "g", 0);
    TSNAP(0, "g");
    OK(mm_write("g", 8192));
    TCHECK(0, "g", M | C);
    OK(mkdir("d", 0755));
    TSNAP(0, "d");
    OK(chmod("d", 0700));
    TCHECK(0, "d", C);
    TSNAP(0, "d");
    OK(mkfile("d/x", "", 0644));
    TCHECK(0, "d", M | C);

    /* atime (relatime): a read after a write moves it, a second read not;
     * listing a directory after a change moves the directory's. The write
     * comes 20 ms after the create, so a coarse kernel clock has ticked. */
    OK(mkfile_later("at", "atime"));
    TSNAP(0, "at");
    SAME_DATA("at");
    TCHECK_ATIME(0, "at", A);
    TSNAP(0, "at");
    SAME_DATA("at");
    TCHECK_ATIME(0, "at", 0);
    TSNAP(0, "d");
    OK(listdir("d"));
    TCHECK_ATIME(0, "d", A);
    TSNAP(0, "at");
    OK(mkfile("at", "again", 0644)); /* O_TRUNC and a write: no read */
    TCHECK_ATIME(0, "at", M | C);

    /* a write right after a create: mtime is never earlier than the ctime
     * the create reported (a clock must not run backwards); 20 files, so a
     * race is not missed */
    int back[2] = {0, 0};
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < 20; i++) {
            char p[32];
            snprintf(p, sizeof p, "w%02d", i);
            enter(s);
            struct stat c0, m1;
            int fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
            if (fd < 0 || fstat(fd, &c0) != 0 || write(fd, "x", 1) != 1 || close(fd) != 0 ||
                lstat(p, &m1) != 0) {
                mismatch(__LINE__, "%s: create, write, close %s: %s", side_name[s], p,
                         ename(errno));
                continue;
            }
            if (m1.st_mtim.tv_sec < c0.st_ctim.tv_sec ||
                (m1.st_mtim.tv_sec == c0.st_ctim.tv_sec &&
                 m1.st_mtim.tv_nsec < c0.st_ctim.tv_nsec)) {
                if (back[s]++ == 0)
                    printf("# %s: %s: ctime at create %ld.%09ld, mtime after the write "
                           "%ld.%09ld\n",
                           side_name[s], p, c0.st_ctim.tv_sec, c0.st_ctim.tv_nsec,
                           m1.st_mtim.tv_sec, m1.st_mtim.tv_nsec);
            }
        }
    calls++;
    if (back[0] || back[1])
        mismatch(__LINE__,
                 "mtime after the first write is earlier than the create's ctime for "
                 "%d of 20 files on cairn, %d on local",
                 back[0], back[1]);
    group_end();
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fuse_tour CAIRN_DIR LOCAL_DIR\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    umask(022);
    for (int s = 0; s < 2; s++) {
        if ((root_fd[s] = open(argv[1 + s], O_RDONLY | O_DIRECTORY)) < 0)
            die(argv[1 + s]);
        if (!(bufs[s] = malloc(BUFSZ)))
            die("malloc");
        group_fd[s] = -1;
    }
    g_files();
    g_dirs();
    g_symlinks();
    g_links();
    g_rename();
    g_attrs();
    g_sparse();
    g_statfs();
    g_special();
    g_names();
    g_xattr();
    g_times();
    g_nobody();
    printf("# fuse_tour: %d groups, %d differ\n", groups, failed_groups);
    return failed_groups ? 1 : 0;
}
