/*
 * main.c — cairnctl: the admin CLI. `cairnctl [--server ADDR] [--json]
 * [--timeout SECONDS] NOUN VERB ...` dispatches through the tables of
 * cmd_<noun>.c.
 * Exit status: 0 ok, 1 the operation failed (one line on stderr), 2 usage.
 */
#include "ctl.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const struct cmd *const tables[] = {cmd_cluster, cmd_node,     cmd_chunk,
                                           cmd_volume,  cmd_snapshot, cmd_file};

static void help(FILE *f)
{
    fprintf(f,
            "usage: cairnctl [--server ADDR] [--json] [--timeout SECONDS] NOUN VERB [ARGS]\n\n"
            "  --server ADDR      unix:PATH or HOST:PORT (default $CAIRN_SERVER or %s)\n"
            "  --json             machine-readable output for listings\n"
            "  --timeout SECONDS  how long a call (a stream: each 1 MiB piece) waits for\n"
            "                     cairnd before it fails (default %d; node reindex: %d)\n"
            "\ncommands:\n",
            CAIRN_DEFAULT_ADDR, CAIRN_TIMEOUT_MS / 1000, CTL_TIMEOUT_MAX_S);
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const struct cmd *c = tables[t]; c->noun; c++) {
            char left[96];
            snprintf(left, sizeof left, "%s%s%s %s", c->noun, c->verb ? " " : "",
                     c->verb ? c->verb : "", c->args);
            fprintf(f, "  %-52s %s\n", left, c->help);
        }
}

static int noun_help(const char *noun, FILE *f)
{
    int found = 0;
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const struct cmd *c = tables[t]; c->noun; c++)
            if (strcmp(c->noun, noun) == 0) {
                if (!found)
                    fprintf(f, "usage:\n");
                found = 1;
                fprintf(f, "  cairnctl %s%s%s %s\n      %s\n", c->noun, c->verb ? " " : "",
                        c->verb ? c->verb : "", c->args, c->help);
            }
    return found;
}

/* --timeout's value: seconds, more than 0 and at most CTL_TIMEOUT_MAX_S
 * (a day: its milliseconds fit an int); into *MS, or one line and -1. */
static int timeout_opt(const char *s, int *ms)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v > 0 && v <= CTL_TIMEOUT_MAX_S) || v * 1000 < 1) {
        fprintf(stderr,
                "cairnctl: --timeout must be a number of seconds from 0.001 to %d, not '%s'\n",
                CTL_TIMEOUT_MAX_S, s);
        return -1;
    }
    *ms = (int)(v * 1000);
    return 0;
}

/* The options of every command; all but --help may also follow the command. */
static const struct option opts[] = {{"server", required_argument, NULL, 's'},
                                     {"json", no_argument, NULL, 'j'},
                                     {"timeout", required_argument, NULL, 't'},
                                     {"help", no_argument, NULL, 'h'},
                                     {NULL, 0, NULL, 0}};

/* Sets option OPT ('s', 'j' or 't' of opts) from VALUE; -1 (one line said)
 * for a bad value. */
static int global_opt(struct ctl *x, int opt, const char *value)
{
    if (opt == 's')
        x->server = value;
    else if (opt == 'j')
        x->json = 1;
    else
        return timeout_opt(value, &x->timeout_ms);
    return 0;
}

/* An option of opts at ARGV[I], after the command (the options end at
 * DD): how many words it takes ("--opt VALUE" 2, "--opt=VALUE" or a flag
 * 1, none 0), its letter in *OPT and its value in *VALUE. */
static int trailing_opt(char *const *argv, int i, int dd, int *opt, const char **value)
{
    for (const struct option *o = opts; o->name; o++) {
        size_t n = strlen(o->name);
        if (o->val == 'h' || strncmp(argv[i], "--", 2) != 0 ||
            strncmp(argv[i] + 2, o->name, n) != 0)
            continue;
        const char *rest = argv[i] + 2 + n;
        *opt = o->val;
        *value = NULL;
        if (*rest == '\0' && o->has_arg == no_argument)
            return 1;
        if (*rest == '\0' && i + 1 < dd) {
            *value = argv[i + 1];
            return 2;
        }
        if (*rest == '=' && o->has_arg == required_argument) {
            *value = rest + 1;
            return 1;
        }
    }
    return 0;
}

static int is_help_flag(const char *s)
{
    return strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0;
}

/* Where a noun or verb is expected, "help" asks for help too. */
static int is_help(const char *s)
{
    return is_help_flag(s) || strcmp(s, "help") == 0;
}

int main(int argc, char **argv)
{
    struct ctl x = {NULL, NULL, 0, 0, 0};
    if (cairn_tune_malloc() != 0) {
        /* only put and cat of big files are slower */
    }
    int ch;
    while ((ch = getopt_long(argc, argv, "+s:jt:h", opts, NULL)) != -1) {
        switch (ch) {
        case 's':
        case 'j':
        case 't':
            if (global_opt(&x, ch, optarg) != 0)
                return 2;
            break;
        case 'h':
            help(stdout);
            return 0;
        default:
            help(stderr);
            return 2;
        }
    }
    int ended = optind > 1 && strcmp(argv[optind - 1], "--") == 0; /* before the command */
    argc -= optind;
    argv += optind;
    if (argc < 1) {
        help(stderr);
        return 2;
    }
    const char *noun = argv[0];
    if (is_help(noun)) {
        help(stdout);
        return 0;
    }
    /* "--" ends the options: what follows is names, even "--json" */
    int dd = ended ? 0 : 1;
    while (!ended && dd < argc && strcmp(argv[dd], "--") != 0)
        dd++;
    /* --json, --server and --timeout may also follow the command, the
     * last two as "--opt VALUE" or "--opt=VALUE" as before it */
    for (int i = 1; i < dd; i++) {
        int opt;
        const char *value;
        int take = trailing_opt(argv, i, dd, &opt, &value);
        if (!take)
            continue;
        if (global_opt(&x, opt, value) != 0)
            return 2;
        memmove(&argv[i], &argv[i + take], (size_t)(argc - i - take) * sizeof *argv);
        argc -= take, dd -= take, i--;
    }
    if (!ended && dd < argc) { /* the "--" itself goes */
        memmove(&argv[dd], &argv[dd + 1], (size_t)(argc - dd - 1) * sizeof *argv);
        argc--;
    }
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const struct cmd *c = tables[t]; c->noun; c++) {
            if (strcmp(c->noun, noun) != 0)
                continue;
            int skip = 1;
            if (c->verb) {
                if (argc < 2 || strcmp(c->verb, argv[1]) != 0)
                    continue;
                skip = 2;
            }
            for (int i = skip; i < dd; i++) /* "help" there may be a name */
                if (is_help_flag(argv[i])) {
                    printf("usage: cairnctl %s%s%s %s\n  %s\n", c->noun, c->verb ? " " : "",
                           c->verb ? c->verb : "", c->args, c->help);
                    return 0;
                }
            optind = 1; /* commands parse their own options */
            x.operands = dd - skip;
            int rv = c->fn(&x, argc - skip, argv + skip);
            cairn_disconnect(x.c);
            if ((fflush(stdout) != 0 || ferror(stdout)) &&
                rv == 0) /* a listing that did not reach its reader */
                rv = ctl_fail("stdout", -errno);
            return rv;
        }
    if (argc >= 2 && is_help(argv[1]) && noun_help(noun, stdout))
        return 0;
    if (noun_help(noun, stderr)) {
        fprintf(stderr, "cairnctl: unknown %s command '%s'\n", noun, argc > 1 ? argv[1] : "");
        return 2;
    }
    fprintf(stderr, "cairnctl: unknown command '%s' (see cairnctl --help)\n", noun);
    return 2;
}
