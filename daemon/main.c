/*
 * main.c — cairnd's lifecycle: configuration, modules up in order, systemd
 * notification and watchdog, signals, modules down in reverse.
 *
 *   cairnd -c FILE     run a node in the foreground (systemd supervises it)
 *
 * Exit status: 0 after a clean shutdown, 1 when the node cannot start, 2 for
 * a bad command line or configuration (one line on stderr naming the key).
 * Threads: the main thread owns start-up and shutdown and waits for signals;
 * SIGINT/SIGTERM are blocked before any other thread exists, so only it
 * receives them (and, in test builds with fault points, SIGUSR2).
 */
#include "alloc.h"
#include "cairn_err.h"
#include "config.h"
#include "engine.h"
#include "fault.h"
#include "log.h"
#include "methods.h"
#include "metrics.h"
#include "node.h"
#include "rpc.h"
#include "service.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#ifndef CAIRN_VERSION
#define CAIRN_VERSION "0"
#endif
#define DRAIN_GRACE_MS 5000

static void usage(FILE *f)
{
    fprintf(f, "usage: cairnd [-c FILE] [--check] [--version]\n"
               "  -c, --config FILE  configuration (INI); default: built-in defaults\n"
               "      --check        validate the configuration and exit\n"
               "  -h, --help         this text\n"
               "      --version      print the version\n");
}

static struct metrics *g_metrics;

static void observe(void *app, size_t method, int code, double seconds)
{
    (void)app;
    metrics_rpc(g_metrics, method, code, seconds);
}

static void on_session(void *app, int delta)
{
    (void)app;
    metrics_session(g_metrics, delta);
}

#ifdef CAIRN_FAULT
/* Test builds only (fault.h): each SIGUSR2 arms the fault point that
 * $CAIRN_FAULT_USR2 names ("NAME:NTH[:sticky]") or, when one is armed,
 * disarms every point; so a system test can make a live node's I/O fail. */
static void fault_usr2(void)
{
    static int armed;
    const char *spec = getenv("CAIRN_FAULT_USR2");
    if (armed) {
        fault_reset();
        armed = 0;
        log_warn("cairnd", "fault points disarmed (test build)");
    } else if (fault_arm_spec(spec) == 0) {
        armed = 1;
        log_warn("cairnd", "fault point %s armed (test build)", spec);
    } else {
        log_err("cairnd", "SIGUSR2: CAIRN_FAULT_USR2 is not NAME:NTH[:sticky]");
    }
}
#endif

/* engine_opts.stop while the index is rebuilt at start: a SIGTERM or SIGINT
 * waits (they are blocked until the main loop takes them). */
static int stop_pending(void *ctx)
{
    (void)ctx;
    sigset_t p;
    return sigpending(&p) == 0 && (sigismember(&p, SIGTERM) == 1 || sigismember(&p, SIGINT) == 1);
}

/* -EADDRINUSE when a live daemon answers on PATH, -EEXIST when something
 * that is not a socket is there; removes a stale socket, nothing else. */
static int claim_socket(const char *path)
{
    struct sockaddr_un sa;
    if (strlen(path) >= sizeof sa.sun_path)
        return -ENAMETOOLONG;
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        int rv = node_mkdirs(dir);
        if (rv != 0) {
            free(dir);
            return rv;
        }
    }
    free(dir);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int live = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    if (live)
        return -EADDRINUSE;
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode)) /* a typo must not delete someone's file */
        return -EEXIST;
    if (unlink(path) != 0 && errno != ENOENT)
        return -errno;
    return 0;
}

int main(int argc, char **argv)
{
    const char *cfg_path = NULL;
    int check_only = 0;
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"check", no_argument, NULL, 'C'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"version", no_argument, NULL, 'V'},
                                         {NULL, 0, NULL, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            cfg_path = optarg;
            break;
        case 'C':
            check_only = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("cairnd %s\n", CAIRN_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "cairnd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    struct config cfg;
    char err[512];
    if (config_load(&cfg, cfg_path, err, sizeof err) != 0) {
        fprintf(stderr, "cairnd: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    if (check_only) {
        printf("cairnd: configuration ok\n");
        config_free(&cfg);
        return 0;
    }
    log_set_level(cfg.log_level);
    if (rpc_tune_malloc() != 0)
        log_warn("main", "malloc refused the piece-buffer settings: streams will be slower");
    /* Every chunk keeps a file open: take all the descriptors allowed. */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &nofile) != 0)
            log_warn("main", "cannot raise the open-files limit: %s", strerror(errno));
    }

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
#ifdef CAIRN_FAULT
    sigaddset(&sigs, SIGUSR2); /* test builds: toggles $CAIRN_FAULT_USR2 (fault_usr2) */
#endif
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    int status = 1;
    long dropped = 0; /* requests a stop did not apply (rpc_server_stop) */
    struct engine *e = NULL;
    struct rpc_server *srv = NULL;
    struct engine_opts eo = {cfg.data_dir, NULL, NULL, stop_pending, NULL};
    int rv;
    if ((rv = engine_open(&e, &eo)) == -ECANCELED) {
        log_info("cairnd", "stopped during the index rebuild: the next start rebuilds it");
        status = 0;
        goto out;
    }
    if (rv != 0) {
        fprintf(stderr, "cairnd: cannot open data directory %s: %s\n", cfg.data_dir,
                cairn_strerror(rv));
        goto out;
    }
    g_metrics = metrics_new(e, rpc_method_names, M_COUNT);
    struct service svc = {e, g_metrics, &cfg, {0, 0}};
    clock_gettime(CLOCK_MONOTONIC, &svc.started); /* a wall-clock step keeps uptime right */
    struct rpc_method methods[M_COUNT];
    for (size_t i = 0; i < M_COUNT; i++) {
        methods[i] = service_methods[i];
        methods[i].path = rpc_method_paths[i];
    }
    if (cfg.socket && (rv = claim_socket(cfg.socket)) != 0) {
        fprintf(stderr, "cairnd: [node] socket %s: %s\n", cfg.socket,
                rv == -EADDRINUSE ? "another cairnd is listening there"
                : rv == -EEXIST   ? "a file that is not a socket is there (not removed)"
                                  : strerror(-rv));
        goto out;
    }
    struct rpc_server_opts so = {.unix_path = cfg.socket,
                                 .tcp_addr = cfg.listen,
                                 .threads = cfg.rpc_threads,
                                 .methods = methods,
                                 .n_methods = M_COUNT,
                                 .app = &svc,
                                 .observe = observe,
                                 .no_sessions = cfg.rpc_no_sessions,
                                 .session = on_session,
                                 .pollers = cfg.rpc_pollers,
                                 .spin_us = cfg.rpc_spin_us};
    mode_t old = umask(0117); /* the socket: owner and group only */
    rv = rpc_server_start(&srv, &so);
    umask(old);
    if (rv == -EADDRINUSE || rv == -EADDRNOTAVAIL) {
        fprintf(stderr, "cairnd: [node] %s %s: cannot listen there (address in use or invalid)\n",
                rv == -EADDRINUSE ? "socket" : "listen",
                rv == -EADDRINUSE ? cfg.socket : cfg.listen);
        goto out;
    } else if (rv != 0) {
        fprintf(stderr, "cairnd: cannot start serving: %s\n", strerror(-rv));
        goto out;
    }
    if (cfg.metrics_listen && (rv = metrics_start(g_metrics, cfg.metrics_listen)) != 0) {
        fprintf(stderr, "cairnd: [node] metrics_listen %s: cannot listen there\n",
                cfg.metrics_listen);
        goto out;
    }
    if (cfg.listen && !config_addr_is_loopback(cfg.listen))
        log_warn("cairnd",
                 "[node] listen %s is not a loopback address, and cairnd has no client "
                 "authentication yet: whoever reaches it can read and write every volume",
                 cfg.listen);
    log_info("cairnd", "node %u (%s) serving: socket %s, tcp %s (port %d), metrics %s",
             engine_node_id(e), cfg.name, cfg.socket ? cfg.socket : "off",
             cfg.listen ? cfg.listen : "off", srv ? rpc_server_port(srv) : 0,
             cfg.metrics_listen ? cfg.metrics_listen : "off");
    sd_notifyf(0, "READY=1\nSTATUS=serving node %u", engine_node_id(e));

    uint64_t wd_usec = 0;
    int wd = sd_watchdog_enabled(0, &wd_usec) > 0;
    for (;;) {
        struct timespec ts = {1, 0};
        if (wd) {
            ts.tv_sec = (time_t)(wd_usec / 2 / 1000000);
            ts.tv_nsec = (long)(wd_usec / 2 % 1000000) * 1000;
        }
        int sig = sigtimedwait(&sigs, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM) {
            log_info("cairnd", "signal %d: shutting down", sig);
            break;
        }
        if (sig == SIGHUP)
            log_info("cairnd", "SIGHUP ignored (restart to reload the configuration)");
#ifdef CAIRN_FAULT
        if (sig == SIGUSR2)
            fault_usr2();
#endif
        /* Petted from this loop: a cairnd whose main thread stops is
         * restarted. Calls stuck on a hung disk are not detected here (the
         * engine's only exclusive holder is a reindex): their clients time
         * out (channel.c (3)). */
        if (wd)
            sd_notify(0, "WATCHDOG=1");
    }
    sd_notify(0, "STOPPING=1");
    status = 0;
out:
    if (rpc_server_stop(srv, DRAIN_GRACE_MS, &dropped)) /* drain: in-flight calls finish first */
        log_warn("cairnd", "calls still running %d ms after the stop were cancelled",
                 DRAIN_GRACE_MS);
    if (dropped > 0)
        log_info("cairnd",
                 "%ld requests came on sessions the stop had ended: not applied, "
                 "their clients were told so",
                 dropped);
    metrics_free(g_metrics);
    int crv = engine_close(e); /* flushes every volume and closes the index */
    if (crv != 0) {
        log_err("cairnd",
                "closing the data directory failed (%s): writes not fsync'ed may be lost;"
                " the next start recovers from the chunk logs",
                cairn_strerror(crv));
        status = 1;
    }
    if (cfg.socket && srv)
        unlink(cfg.socket);
    if (status == 0)
        log_info("cairnd", "stopped cleanly");
    config_free(&cfg);
#if defined(__SANITIZE_ADDRESS__)
    if (srv)
        rpc_release(); /* sanitizer builds: tear gRPC down so leak checks mean something */
    return status;
#else
    /* Everything cairn owns is closed and flushed. gRPC's teardown can take
     * ~10 s in this version for no benefit to a process that is exiting. */
    fflush(NULL);
    _exit(status);
#endif
}
