/* main.c: the command line, dispatching to one of the modes.
 *
 * Every user-facing failure prints one line "tui: <problem>" on stderr and
 * exits with status 2. Nothing here touches curses.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/list.h"
#include "core/err.h"
#include "core/table.h"
#include "formats/fileio.h"
#include "formats/formats.h"

#ifndef TUI_VERSION
#define TUI_VERSION "dev"
#endif

enum { EXIT_BAD = 2 };

enum mode { MODE_NONE, MODE_LIST };

typedef struct {
    enum mode mode;
    int json;
    const char *checkpoint;
} options;

static const char usage_line[] =
    "usage: tui [--list [--json]] CHECKPOINT   (tui --help for more)\n";

static void print_help(void)
{
    fputs(
        "tui " TUI_VERSION ": inspect a PyTorch checkpoint and plan which "
        "layers to freeze.\n"
        "\n"
        "usage: tui --list [--json] CHECKPOINT\n"
        "\n"
        "CHECKPOINT is a safetensors file, a sharded set (its index .json or "
        "its folder),\n"
        "a torch.save .pt/.pth/.bin zip (state_dict or training checkpoint) "
        "or a\n"
        "TorchScript archive. The format is told from the content; no code "
        "from the\n"
        "file is ever run, and only metadata is read.\n"
        "\n"
        "modes:\n"
        "  -l, --list        print every tensor: name, shape, dtype, "
        "parameters, bytes,\n"
        "                    kind (parameter, buffer, optimizer, other) and "
        "state\n"
        "      --json        with --list: the stable JSON form "
        "(docs/cli.md)\n"
        "\n"
        "other:\n"
        "  -h, --help        this text\n"
        "  -V, --version     the version\n"
        "\n"
        "environment:\n"
        "  TUI_STATS=1       print bytes read and open time on stderr\n"
        "\n"
        "exit status: 0 success, 2 bad input or usage (one line on "
        "stderr).\n",
        stdout);
}

static int fail_usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "tui: %s\n", msg);
    fputs(usage_line, stderr);
    return EXIT_BAD;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Opens the checkpoint into t, printing TUI_STATS when asked.
 * Returns 0, or -1 with err set. */
static int open_checkpoint(const char *path, table *t)
{
    double t0 = now_ms();
    int rc = formats_open(path, t);
    double t1 = now_ms();
    const char *stats = getenv("TUI_STATS");
    if (rc == 0 && stats && *stats && strcmp(stats, "0") != 0) {
        unsigned long long size = 0;
        for (size_t i = 0; i < t->nfiles; i++)
            size += t->files[i].size;
        fprintf(stderr, "stats: read_bytes=%llu reads=%llu open_ms=%.3f "
                "file_bytes=%llu tensors=%zu\n",
                (unsigned long long)fileio_bytes_read(),
                (unsigned long long)fileio_reads(), t1 - t0, size, t->count);
    }
    return rc;
}

static int run_list(const options *o)
{
    table t;
    table_init(&t);
    int rc = open_checkpoint(o->checkpoint, &t);
    if (rc == 0)
        rc = o->json ? list_print_json(stdout, &t, NULL)
                     : list_print_text(stdout, &t, NULL);
    table_free(&t);
    if (rc) {
        fprintf(stderr, "tui: %s\n", err_msg());
        return EXIT_BAD;
    }
    return 0;
}

static int parse_args(int argc, char **argv, options *o)
{
    static const struct option longopts[] = {
        {"list", no_argument, NULL, 'l'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;
    memset(o, 0, sizeof *o);
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":lhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'l': o->mode = MODE_LIST; break;
        case 'j': o->json = 1; break;
        case 'h': print_help(); exit(0);
        case 'V': printf("tui %s\n", TUI_VERSION); exit(0);
        case ':':
            fprintf(stderr, "tui: option '%s' needs a value\n",
                    argv[optind - 1]);
            return -1;
        default:
            fprintf(stderr, "tui: unknown option '%s'\n", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc)
        o->checkpoint = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "tui: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    options o;
    if (parse_args(argc, argv, &o))
        return fail_usage(NULL);
    if (!o.checkpoint)
        return fail_usage("no checkpoint given");
    if (o.json && o.mode != MODE_LIST)
        return fail_usage("--json goes with --list");
    switch (o.mode) {
    case MODE_LIST:
        return run_list(&o);
    default:
        fprintf(stderr, "tui: the interactive editor is not in this version "
                "yet; use --list\n");
        return EXIT_BAD;
    }
}
