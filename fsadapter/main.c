/*
 * main.c — cairn-fuse: mounts a cairn volume with the libfuse low-level API.
 *
 *   cairn-fuse [--server ADDR] VOLUME MOUNTPOINT [-o OPTIONS] [-f] [-d]
 *
 * cairn options (-o): server=ADDR, snapshot=NAME or asof=TIME (a read-only
 * past view), timeout=SECONDS (how long a call waits for an absent or
 * unresponsive cairnd before failing with EIO; default 30), attr_timeout=,
 * entry_timeout= (kernel caching, default 1 s; a past view caches for an hour),
 * writeback_cache (the kernel gathers writes in its page cache and owns
 * mtime and size while the file is open: fast, but changes made through
 * other mounts show late), readahead_kb=KB (the mount's read-ahead window,
 * default 4096: FUSE mounts start at 128 KiB, which splits sequential reads
 * into 128 KiB requests; set through sysfs, so only when run as root),
 * spin_us=US (how long a call polls for cairnd's answer before its thread
 * sleeps; default 50, 0: never). Every
 * other option goes to FUSE; default_permissions is always on, so the
 * kernel enforces modes for non-root users (add allow_other to share).
 * Exit status: 0 after unmount, 1 when mounting fails, 2 for bad usage.
 *
 * Start-up order matters: gRPC's threads do not survive fork(), so in the
 * background case the process forks first, and the child connects, checks
 * the volume and mounts, then tells the waiting parent how it went (the
 * parent's exit status is what mount(8) and the user see).
 */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

struct opts {
    char *server, *snapshot, *asof;
    char *timeout, *attr_timeout, *entry_timeout, *readahead_kb, *spin_us; /* numbers: num_opt */
    int writeback;
    char *volume;
    int nonopts;
};

#define OPT(t, f)                                                                                  \
    {                                                                                              \
        t, offsetof(struct opts, f), 1                                                             \
    }
#define TIMEOUT_MAX 86400 /* timeout=, seconds (times 1000 must fit an int) */

/* The number option NAME=S (S NULL: not given, *OUT stays): all of S a
 * number from LO to HI, whole if WHOLE; else one line and -1. */
static int num_opt(const char *name, const char *s, double lo, double hi, int whole, double *out)
{
    if (!s)
        return 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi) || (whole && v != (double)(long long)v)) {
        fprintf(stderr, "cairn-fuse: %s= must be a%s number from %.15g to %.15g, not '%s'\n", name,
                whole ? " whole" : "", lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

static const struct fuse_opt cairn_opts[] = {
    OPT("server=%s", server),
    OPT("--server=%s", server),
    OPT("--server %s", server),
    OPT("snapshot=%s", snapshot),
    OPT("asof=%s", asof),
    OPT("timeout=%s", timeout),
    OPT("attr_timeout=%s", attr_timeout),
    OPT("entry_timeout=%s", entry_timeout),
    OPT("writeback_cache", writeback),
    OPT("readahead_kb=%s", readahead_kb),
    OPT("spin_us=%s", spin_us),
    FUSE_OPT_END,
};

/* The first non-option is the volume; the second (the mount point) is left
 * for fuse_parse_cmdline. */
static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
    (void)outargs;
    struct opts *o = data;
    if (key == FUSE_OPT_KEY_NONOPT && o->nonopts++ == 0) {
        o->volume = strdup(arg);
        return 0;
    }
    return 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cairn-fuse [--server ADDR] VOLUME MOUNTPOINT [-o OPTIONS] [-f] [-d]\n"
            "cairn options:\n"
            "  -o server=ADDR         unix:PATH or HOST:PORT (default $CAIRN_SERVER or %s)\n"
            "  -o snapshot=NAME       mount the volume as of a snapshot (read-only)\n"
            "  -o asof=TIME           mount it as of a time: @SECONDS, ms, or\n"
            "                         2026-11-24T18:00:00Z (read-only)\n"
            "  -o timeout=SECONDS     wait this long for an absent or unresponsive cairnd, then "
            "EIO (30)\n"
            "  -o attr_timeout=S, entry_timeout=S  kernel caching (1)\n"
            "  -o writeback_cache     let the kernel gather writes (faster; for a\n"
            "                         volume that only this mount changes)\n"
            "  -o readahead_kb=KB     the mount's kernel read-ahead (4096; 0: the\n"
            "                         kernel's 128, which caps reads at 128 KiB)\n"
            "  -o spin_us=US          poll this long for cairnd's answer before\n"
            "                         sleeping (50; 0: never; at most %d)\n",
            CAIRN_DEFAULT_ADDR, CAIRN_SPIN_MAX_US);
}

/* Sets the read-ahead window of the FUSE mount at MNT (absolute) through
 * /sys/class/bdi/MAJ:MIN/read_ahead_kb. The device comes from mountinfo:
 * stat(MNT) would wait for the session loop, which is not running yet.
 * Best effort: 0 or -1 (not root, no sysfs), with the reason on stderr. */
static int set_readahead(const char *mnt, unsigned kb)
{
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (!f)
        return -1;
    char line[4096], dev[32] = "";
    while (fgets(line, sizeof line, f)) {
        char d[32], point[PATH_MAX], *sep = strstr(line, " - fuse");
        /* id parent MAJ:MIN root point ...; paths with spaces are escaped */
        if (sep && sscanf(line, "%*u %*u %31s %*s %4095s", d, point) == 2 &&
            strcmp(point, mnt) == 0)
            snprintf(dev, sizeof dev, "%s", d); /* the last (newest) wins */
    }
    fclose(f);
    char path[96];
    snprintf(path, sizeof path, "/sys/class/bdi/%s/read_ahead_kb", dev);
    f = dev[0] ? fopen(path, "w") : NULL;
    int ok = f && fprintf(f, "%u\n", kb) > 0;
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok)
        fprintf(stderr, "cairn-fuse: read-ahead left at the kernel's (%s: %s)\n",
                dev[0] ? path : "mount not in mountinfo", dev[0] ? strerror(errno) : "");
    return ok ? 0 : -1;
}

/* Forks; the parent waits for the child's verdict and exits with it. In the
 * child, returns the write end of the report pipe (or -1 on failure). */
static int daemon_start(void)
{
    int p[2];
    if (pipe(p) != 0) {
        perror("cairn-fuse: pipe");
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("cairn-fuse: fork");
        return -1;
    }
    if (pid > 0) {
        close(p[1]);
        char ok = 0;
        ssize_t n;
        do
            n = read(p[0], &ok, 1);
        while (n < 0 && errno == EINTR);
        _exit(n == 1 && ok == 1 ? 0 : 1);
    }
    close(p[0]);
    if (setsid() < 0)
        perror("cairn-fuse: setsid");
    return p[1];
}

/* libfuse's log levels are syslog's priorities. */
static void log_to_syslog(enum fuse_log_level level, const char *fmt, va_list ap)
{
    vsyslog((int)level, fmt, ap);
}

/* Detached: stderr goes to /dev/null, so what the mount logs (a late write
 * error nobody could be told of, wbehind.c (3)) goes to syslog instead. */
static void daemon_ready(int report)
{
    openlog("cairn-fuse", LOG_PID, LOG_DAEMON);
    fuse_set_log_func(log_to_syslog);
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO)
            close(fd);
    }
    if (chdir("/") != 0) {
        /* nothing depends on the working directory */
    }
    char ok = 1;
    if (write(report, &ok, 1) != 1) {
        /* the parent is gone; keep serving the mount */
    }
    close(report);
}

int main(int argc, char **argv)
{
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    struct opts o;
    memset(&o, 0, sizeof o);
    if (fuse_opt_parse(&args, &o, cairn_opts, opt_proc) != 0)
        return 2;
    struct fuse_cmdline_opts co;
    if (fuse_parse_cmdline(&args, &co) != 0)
        return 2;
    int status = 2;
    struct fsctx fs;
    memset(&fs, 0, sizeof fs);
    struct fuse_session *se = NULL;
    int report = -1; /* background: the pipe to the waiting parent */
    if (co.show_help) {
        usage(stdout);
        fuse_cmdline_help();
        fuse_lowlevel_help();
        status = 0;
        goto out;
    }
    if (co.show_version) {
        printf("cairn-fuse, FUSE %s\n", fuse_pkgversion());
        status = 0;
        goto out;
    }
    if (!o.volume || !co.mountpoint) {
        usage(stderr);
        goto out;
    }
    if (o.snapshot && o.asof) {
        fprintf(stderr, "cairn-fuse: snapshot= and asof= exclude each other\n");
        goto out;
    }
    double timeout = 30, attr_timeout = -1, entry_timeout = -1, readahead_kb = 4096, spin_us = -1;
    if (num_opt("timeout", o.timeout, 0, TIMEOUT_MAX, 1, &timeout) != 0 ||
        num_opt("attr_timeout", o.attr_timeout, 0, 86400, 0, &attr_timeout) != 0 ||
        num_opt("entry_timeout", o.entry_timeout, 0, 86400, 0, &entry_timeout) != 0 ||
        num_opt("readahead_kb", o.readahead_kb, 0, 1 << 20, 1, &readahead_kb) != 0 ||
        num_opt("spin_us", o.spin_us, 0, CAIRN_SPIN_MAX_US, 1, &spin_us) != 0)
        goto out;
    fs.volume = o.volume;
    if (o.snapshot)
        fs.at.snapshot = o.snapshot;
    if (o.asof && (cairn_parse_at(o.asof, &fs.at) != 0 || fs.at.snapshot)) {
        fprintf(stderr, "cairn-fuse: asof=%s is not a time (@SECONDS, ms or ISO-8601 UTC)\n",
                o.asof);
        goto out;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (o.asof && fs.at.time_ms > (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000) {
        /* a view of a time to come would change under its hour-long caches */
        fprintf(stderr, "cairn-fuse: asof=%s is in the future (mount the volume itself)\n", o.asof);
        goto out;
    }
    fs.readonly = o.snapshot || o.asof;
    fs.writeback = o.writeback && !fs.readonly;
    fs.readahead_kb = (unsigned)readahead_kb;
    fs.attr_timeout = attr_timeout >= 0 ? attr_timeout : fs.readonly ? 3600 : 1;
    fs.entry_timeout = entry_timeout >= 0 ? entry_timeout : fs.readonly ? 3600 : 1;
    status = 1;
    if (!co.foreground && (report = daemon_start()) < 0)
        goto out;
    if (cairn_tune_malloc() != 0)
        fprintf(stderr, "cairn-fuse: malloc refused the piece-buffer settings (slower)\n");
    int rv = cairn_connect(&fs.c, o.server);
    if (rv != 0) {
        fprintf(stderr, "cairn-fuse: %s\n", cairn_strerror(rv));
        goto out;
    }
    /* Check the volume (and the view) before mounting: a clear error now is
     * better than EIO on every call later. */
    cairn_set_timeout(fs.c, 10000);
    cairn_attr_t root;
    if ((rv = cairn_getattr(fs.c, fs.volume, CAIRN_ROOT_INO, &fs.at, &root)) != 0) {
        const char *why = cairn_last_error();
        if (strcmp(why, cairn_strerror(rv)) == 0)
            why = "";
        fprintf(stderr, "cairn-fuse: volume %s%s%s: %s%s%s\n", fs.volume,
                o.snapshot ? " snapshot " : "", o.snapshot ? o.snapshot : "", cairn_strerror(rv),
                why[0] ? ": " : "", why);
        goto out;
    }
    cairn_set_timeout(fs.c, (int)(timeout > 0 ? timeout : 1) * 1000);
    cairn_set_wait_for_ready(fs.c, timeout > 0);
    cairn_set_relatime(fs.c, !fs.readonly); /* POSIX atime, the relatime way */
    if (spin_us >= 0)
        cairn_set_spin(fs.c, (int)spin_us);

    char extra[512];
    snprintf(extra, sizeof extra, "-odefault_permissions,fsname=cairn:%s,subtype=cairn%s",
             fs.volume, fs.readonly ? ",ro" : "");
    fuse_opt_add_arg(&args, extra);
    wb_init(&fs);
    se = fuse_session_new(&args, &fs_ops, sizeof fs_ops, &fs);
    if (!se)
        goto out;
    if (fuse_set_signal_handlers(se) != 0)
        goto out;
    char *mnt_abs = realpath(co.mountpoint, NULL);
    if (fuse_session_mount(se, co.mountpoint) != 0) {
        free(mnt_abs);
        fuse_remove_signal_handlers(se);
        goto out;
    }
    if (fs.readahead_kb && mnt_abs && set_readahead(mnt_abs, fs.readahead_kb) != 0) {
        /* reads still work, in 128 KiB requests */
    }
    free(mnt_abs);
    if (!fs.readonly && wb_start() != 0)
        fprintf(stderr, "cairn-fuse: no write-behind thread: writes go through one by one\n");
    if (report >= 0) { /* mounted: release the parent, detach from the terminal */
        daemon_ready(report);
        report = -1;
    }
    if (co.singlethread) {
        rv = fuse_session_loop(se);
    } else {
        struct fuse_loop_config *lc = fuse_loop_cfg_create();
        fuse_loop_cfg_set_clone_fd(lc, co.clone_fd);
        /* libfuse leaves max_threads at UINT_MAX when -o max_threads is absent */
        unsigned mt = co.max_threads;
        fuse_loop_cfg_set_max_threads(lc, mt && mt <= 100000 ? mt : 16);
        fuse_loop_cfg_set_idle_threads(lc, co.max_idle_threads);
        rv = fuse_session_loop_mt(se, lc);
        fuse_loop_cfg_destroy(lc);
    }
    fuse_session_unmount(se);
    wb_stop(); /* what was answered still goes to cairnd */
    fuse_remove_signal_handlers(se);
    status = rv < 0 ? 1 : 0; /* > 0: the signal that ended the loop, a clean unmount */
out:
    if (report >= 0) /* the child failed before mounting: the parent exits 1 */
        close(report);
    if (se)
        fuse_session_destroy(se);
    cairn_disconnect(fs.c);
    free(co.mountpoint);
    free(o.server);
    free(o.snapshot);
    free(o.asof);
    free(o.timeout);
    free(o.attr_timeout);
    free(o.entry_timeout);
    free(o.spin_us);
    free(o.readahead_kb);
    free(o.volume);
    fuse_opt_free_args(&args);
    return status;
}
