/*
 * config.h — cairnd's configuration: an INI file read with libinih, every
 * option with a default that works on one machine.
 *
 *   [node]    name, data_dir, listen, socket, metrics_listen
 *   [cluster] seeds, key_file
 *   [chunks]  size
 *   [rpc]     threads, pollers, spin_us, sessions
 *   [log]     level
 * Called once at start-up by one thread.
 */
#ifndef CAIRN_CONFIG_H
#define CAIRN_CONFIG_H

#include "log.h"

#include <stddef.h>
#include <stdint.h>

struct config {
    char *name;           /* default: the host name */
    char *data_dir;       /* default: /var/lib/cairn */
    char *listen;         /* TCP "HOST:PORT"; NULL = off. default 127.0.0.1:7420 */
    char *socket;         /* unix socket path; NULL = off. default /run/cairn/cairnd.sock */
    char *metrics_listen; /* "HOST:PORT"; NULL = off. default 127.0.0.1:9420 */
    char *seeds;          /* comma-separated HOST:PORT list (later stages) */
    char *key_file;       /* cluster key (later stages) */
    uint64_t chunk_size;  /* default size of new chunks, default 8 GiB */
    int rpc_threads;      /* default 2 */
    int rpc_pollers;      /* threads waiting in the completion queue at once; default 1 */
    int rpc_spin_us;      /* polling before a thread sleeps in the queue; default 200 */
    int rpc_no_sessions;  /* [rpc] sessions = no; default 0 */
    enum log_level log_level;
};

/* Defaults, then PATH (NULL: defaults only). On error returns -EINVAL (or
 * -errno when the file cannot be read) and writes one line naming the file,
 * line and key into ERR. */
int config_load(struct config *c, const char *path, char *err, size_t errlen);
void config_free(struct config *c);
/* 1 when ADDR ("HOST:PORT", as [node] listen takes it) can be reached from
 * this machine only: 127.0.0.0/8, [::1] or localhost. */
int config_addr_is_loopback(const char *addr);

#endif
