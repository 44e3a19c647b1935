/*
 * fuzz_driver.c — a standalone main() for the fuzz targets (fuzz.h), so they
 * build with gcc and run under ctest where clang/libFuzzer is not installed.
 * With clang, link the targets with -fsanitize=fuzzer instead of this file
 * (tests/CMakeLists.txt says how).
 *
 *   fuzz_X [-runs=N] [-max_total_time=S] [-seed=N] [-max_len=N] [-dict=FILE]
 *          [FILE|DIR]...
 * (a) every FILE, and every regular file in each DIR, is run once as it is;
 * (b) then N generated inputs (default 20000): fresh random bytes, or a file
 *     from (a) or an earlier input mutated (bit flips, random and boundary
 *     bytes, little-endian boundary integers, inserted, deleted, duplicated
 *     and spliced ranges, dictionary tokens); at most S seconds (default
 *     300), the time bound wins. The flags are spelled as libFuzzer's.
 * There is no coverage feedback: this is a smoke fuzzer that keeps the
 * targets honest in every ctest run; libFuzzer does the deep runs.
 *
 * Invariants: (1) the same seed and arguments give the same inputs (the
 * seed comes from -seed, CAIRN_SEED or the clock and is printed); (2) each
 * input is handed over in a heap buffer of exactly its size, so a read past
 * its end is caught by ASan; (3) when a target crashes (signal, or an
 * ASan/UBSan report), the input is written to crash-<target>-<seed>-<n> in
 * $CAIRN_FUZZ_OUT (default: the current directory) and the path printed.
 * Threads: one.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define POOL_MAX 256 /* inputs kept for mutation: the files, then a ring */
#define DICT_MAX 256
#define DEFAULT_RUNS 20000ul
#define DEFAULT_SECONDS 300.0
#define DEFAULT_MAX_LEN 4096u

struct buf {
    uint8_t *p;
    size_t n;
};

static struct buf pool[POOL_MAX];
static size_t pool_n, pool_files, pool_next;
static struct buf dict[DICT_MAX];
static size_t dict_n;
static uint64_t rng;
static size_t max_len = DEFAULT_MAX_LEN;

/* The input being run, for the crash handlers (3). */
static const uint8_t *volatile cur_data;
static volatile size_t cur_size;
static char crash_path[4096];

/* Declared weak so the driver links with and without the sanitizers. */
extern void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

static uint64_t next_rand(void)
{
    uint64_t x = rng; /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static size_t below(size_t n)
{
    return n ? (size_t)(next_rand() % n) : 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *xrealloc_or_die(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "fuzz_driver: out of memory\n");
        abort();
    }
    return q;
}

/* ---- crash capture (3) ---- */

static void dump_input(void)
{
    const uint8_t *d = cur_data;
    size_t n = cur_size;
    if (!crash_path[0])
        return;
    int fd = open(crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        size_t off = 0;
        while (d && off < n) {
            ssize_t w = write(fd, d + off, n - off);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        close(fd);
    }
    static const char msg[] = "fuzz_driver: crashing input written to ";
    (void)!write(2, msg, sizeof msg - 1);
    (void)!write(2, crash_path, strlen(crash_path));
    (void)!write(2, "\n", 1);
}

static void on_signal(int sig)
{
    dump_input();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void run_one(const uint8_t *data, size_t n, const char *out_dir, const char *target,
                    uint64_t seed, unsigned long iter)
{
    /* (2): an exactly-sized copy (malloc(0) too, as libFuzzer passes a
     * pointer even for an empty input) */
    uint8_t *copy = malloc(n);
    if (!copy && n)
        abort();
    if (n)
        memcpy(copy, data, n);
    snprintf(crash_path, sizeof crash_path, "%s/crash-%s-%llu-%lu", out_dir, target,
             (unsigned long long)seed, iter);
    cur_data = copy;
    cur_size = n;
    LLVMFuzzerTestOneInput(copy, n);
    cur_data = NULL;
    cur_size = 0;
    crash_path[0] = '\0';
    free(copy);
}

/* ---- inputs ---- */

static void pool_add(const uint8_t *p, size_t n, int is_file)
{
    struct buf *b;
    if (pool_n < POOL_MAX) {
        b = &pool[pool_n++];
    } else {
        /* the ring: never evict the files */
        if (pool_files >= POOL_MAX)
            return;
        b = &pool[pool_files + pool_next++ % (POOL_MAX - pool_files)];
        free(b->p);
    }
    b->p = xrealloc_or_die(NULL, n);
    if (n)
        memcpy(b->p, p, n);
    b->n = n;
    if (is_file)
        pool_files = pool_n;
}

static int read_file(const char *path, struct buf *out)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -errno;
    out->p = NULL;
    out->n = 0;
    size_t cap = 0;
    for (;;) {
        if (out->n == cap) {
            cap = cap ? cap * 2 : 4096;
            out->p = xrealloc_or_die(out->p, cap);
        }
        size_t got = fread(out->p + out->n, 1, cap - out->n, fp);
        out->n += got;
        if (got == 0)
            break;
    }
    int err = ferror(fp) ? -EIO : 0;
    fclose(fp);
    return err;
}

/* libFuzzer dictionary lines: [name=]"token", with \\ \" and \xNN escapes. */
static void load_dict(const char *path)
{
    struct buf f;
    if (read_file(path, &f) != 0) {
        fprintf(stderr, "fuzz_driver: cannot read dictionary %s\n", path);
        exit(2);
    }
    char *line = (char *)xrealloc_or_die(f.p, f.n + 1);
    line[f.n] = '\0';
    for (char *s = line, *nl; s && *s && dict_n < DICT_MAX; s = nl ? nl + 1 : NULL) {
        nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '#' || !*s)
            continue;
        char *q = strchr(s, '"');
        if (!q)
            continue;
        uint8_t tok[256];
        size_t n = 0;
        for (q++; *q && *q != '"' && n < sizeof tok; q++) {
            if (*q == '\\' && q[1] == 'x' && q[2] && q[3]) {
                char hex[3] = {q[2], q[3], 0};
                tok[n++] = (uint8_t)strtoul(hex, NULL, 16);
                q += 3;
            } else if (*q == '\\' && q[1]) {
                tok[n++] = (uint8_t) * ++q;
            } else {
                tok[n++] = (uint8_t)*q;
            }
        }
        dict[dict_n].p = xrealloc_or_die(NULL, n);
        memcpy(dict[dict_n].p, tok, n);
        dict[dict_n++].n = n;
    }
    free(line);
}

static const uint8_t interesting8[] = {0,    1,   2,   0x7f, 0x80, 0xfe, 0xff, '\n',
                                       '\r', ' ', '=', ':',  ';',  '#',  '[',  ']',
                                       '0',  '9', '-', '+',  '.',  '/',  '\\', '"'};
static const uint64_t interesting64[] = {
    0,
    1,
    2,
    8,
    12,
    16,
    44,
    48,
    255,
    256,
    0x7fff,
    0x8000,
    0xffff,
    0x10000,
    0x7fffffff,
    0x80000000u,
    0xffffffffu,
    0x100000000ull,
    0x7fffffffffffffffull,
    0xffffffffffffffffull,
};

/* Inserts N bytes from SRC (NULL: random) at AT. */
static void insert(struct buf *b, size_t at, const uint8_t *src, size_t n)
{
    if (b->n + n > max_len)
        n = max_len > b->n ? max_len - b->n : 0;
    if (!n)
        return;
    b->p = xrealloc_or_die(b->p, b->n + n);
    memmove(b->p + at + n, b->p + at, b->n - at);
    for (size_t i = 0; i < n; i++)
        b->p[at + i] = src ? src[i] : (uint8_t)next_rand();
    b->n += n;
}

static void mutate_once(struct buf *b)
{
    size_t at = below(b->n + 1);
    switch (below(11)) {
    case 0: /* flip a bit */
        if (b->n)
            b->p[below(b->n)] ^= (uint8_t)(1u << below(8));
        break;
    case 1: /* random byte */
        if (b->n)
            b->p[below(b->n)] = (uint8_t)next_rand();
        break;
    case 2: /* boundary byte */
        if (b->n)
            b->p[below(b->n)] = interesting8[below(sizeof interesting8)];
        break;
    case 3: /* insert random bytes */
        insert(b, at, NULL, 1 + below(8));
        break;
    case 4: { /* delete a range */
        if (!b->n)
            break;
        size_t from = below(b->n), n = 1 + below(b->n - from < 16 ? b->n - from : 16);
        memmove(b->p + from, b->p + from + n, b->n - from - n);
        b->n -= n;
        break;
    }
    case 5: { /* duplicate a range somewhere */
        if (!b->n)
            break;
        size_t from = below(b->n), n = 1 + below(b->n - from < 32 ? b->n - from : 32);
        uint8_t tmp[32];
        memcpy(tmp, b->p + from, n);
        insert(b, at, tmp, n);
        break;
    }
    case 6: { /* a little-endian boundary integer over 1, 2, 4 or 8 bytes */
        static const size_t widths[] = {1, 2, 4, 8};
        size_t w = widths[below(4)];
        if (b->n < w)
            break;
        uint64_t v = below(4) ? interesting64[below(sizeof interesting64 / 8)] : b->n;
        if (below(2))
            v = (uint64_t)0 - v;
        size_t pos = below(b->n - w + 1);
        for (size_t i = 0; i < w; i++)
            b->p[pos + i] = (uint8_t)(v >> (8 * i));
        break;
    }
    case 7: { /* splice: our head, another input's tail */
        if (!pool_n)
            break;
        const struct buf *o = &pool[below(pool_n)];
        size_t keep = below(b->n + 1), from = below(o->n + 1);
        size_t n = o->n - from;
        if (keep + n > max_len)
            n = max_len - keep;
        b->p = xrealloc_or_die(b->p, keep + n);
        memcpy(b->p + keep, o->p + from, n);
        b->n = keep + n;
        break;
    }
    case 8: /* truncate */
        b->n = below(b->n + 1);
        break;
    case 9: /* a dictionary token, inserted or written over */
    case 10:
        if (dict_n) {
            const struct buf *t = &dict[below(dict_n)];
            if (below(2) || b->n < t->n) {
                insert(b, at, t->p, t->n);
            } else {
                memcpy(b->p + below(b->n - t->n + 1), t->p, t->n);
            }
        } else if (b->n) {
            b->p[below(b->n)] = interesting8[below(sizeof interesting8)];
        }
        break;
    }
}

/* The next generated input into B (1). */
static void generate(struct buf *b)
{
    if (!pool_n || below(4) == 0) { /* fresh random bytes, mostly short */
        size_t r = below(10), n;
        n = r < 5 ? below(65) : r < 8 ? below(513) : below(max_len + 1);
        b->p = xrealloc_or_die(b->p, n);
        for (size_t i = 0; i < n; i++)
            b->p[i] = (uint8_t)next_rand();
        b->n = n;
        return;
    }
    /* files twice as often as earlier inputs */
    size_t pick = pool_files && below(3) ? below(pool_files) : below(pool_n);
    const struct buf *src = &pool[pick];
    b->p = xrealloc_or_die(b->p, src->n);
    if (src->n)
        memcpy(b->p, src->p, src->n);
    b->n = src->n > max_len ? max_len : src->n;
    for (size_t k = 1 + below(4); k > 0; k--)
        mutate_once(b);
}

/* ---- main ---- */

static int flag(const char *arg, const char *name, const char **val)
{
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0 || arg[n] != '=')
        return 0;
    *val = arg + n + 1;
    return 1;
}

static void run_path(const char *path, const char *out_dir, const char *target, uint64_t seed,
                     unsigned long *files)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "fuzz_driver: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    if (S_ISDIR(st.st_mode)) {
        struct dirent **ents;
        int n = scandir(path, &ents, NULL, alphasort); /* sorted: (1) */
        for (int i = 0; i < n; i++) {
            if (ents[i]->d_name[0] != '.') {
                char sub[4096];
                snprintf(sub, sizeof sub, "%s/%s", path, ents[i]->d_name);
                struct stat s2;
                if (stat(sub, &s2) == 0 && S_ISREG(s2.st_mode))
                    run_path(sub, out_dir, target, seed, files);
            }
            free(ents[i]);
        }
        free(ents);
        return;
    }
    struct buf b;
    if (read_file(path, &b) != 0) {
        fprintf(stderr, "fuzz_driver: cannot read %s\n", path);
        exit(2);
    }
    run_one(b.p, b.n, out_dir, target, seed, 0);
    pool_add(b.p, b.n, 1);
    free(b.p);
    (*files)++;
}

int main(int argc, char **argv)
{
    unsigned long runs = DEFAULT_RUNS;
    double seconds = DEFAULT_SECONDS;
    uint64_t seed = 0;
    const char *target = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    const char *out_dir = getenv("CAIRN_FUZZ_OUT");
    if (!out_dir || !*out_dir)
        out_dir = ".";
    const char *s = getenv("CAIRN_SEED");
    if (s && *s)
        seed = strtoull(s, NULL, 0);

    int first_path = argc;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (flag(argv[i], "-runs", &v))
            runs = strtoul(v, NULL, 0);
        else if (flag(argv[i], "-max_total_time", &v))
            seconds = strtod(v, NULL);
        else if (flag(argv[i], "-seed", &v))
            seed = strtoull(v, NULL, 0);
        else if (flag(argv[i], "-max_len", &v))
            max_len = strtoul(v, NULL, 0);
        else if (flag(argv[i], "-dict", &v))
            load_dict(v);
        else if (argv[i][0] == '-') {
            fprintf(stderr,
                    "usage: %s [-runs=N] [-max_total_time=S] [-seed=N] [-max_len=N] "
                    "[-dict=FILE] [FILE|DIR]...\n",
                    target);
            return 2;
        } else {
            first_path = i;
            break;
        }
    }
    if (seed == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
        if (seed == 0)
            seed = 1;
    }
    rng = seed;
    printf("# %s: seed %llu (rerun with -seed=%llu), %lu runs, at most %.0f s\n", target,
           (unsigned long long)seed, (unsigned long long)seed, runs, seconds);
    fflush(stdout);

    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], on_signal);
    if (__sanitizer_set_death_callback)
        __sanitizer_set_death_callback(dump_input);

    double start = now_s();
    unsigned long files = 0, done = 0;
    for (int i = first_path; i < argc; i++) /* (a) */
        run_path(argv[i], out_dir, target, seed, &files);

    struct buf b = {NULL, 0}; /* (b) */
    for (; done < runs; done++) {
        if ((done & 63) == 0 && now_s() - start > seconds)
            break;
        generate(&b);
        run_one(b.p, b.n, out_dir, target, seed, done + 1);
        if (below(8) == 0)
            pool_add(b.p, b.n, 0);
    }
    free(b.p);
    for (size_t i = 0; i < pool_n; i++)
        free(pool[i].p);
    for (size_t i = 0; i < dict_n; i++)
        free(dict[i].p);
    printf("# %s: %lu files and %lu generated inputs in %.1f s%s\n", target, files, done,
           now_s() - start, done < runs ? " (time bound reached)" : "");
    return 0;
}
