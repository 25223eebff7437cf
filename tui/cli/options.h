/* options.h: the command line of tui, parsed into an options struct.
 *
 * Only parsing and the help text live here; main.c decides what runs. */
#ifndef TUI_CLI_OPTIONS_H
#define TUI_CLI_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

enum { OPTIONS_MAX_OPS = 1024 };

enum mode { MODE_NONE, MODE_LIST, MODE_SUMMARY, MODE_TREE, MODE_EXPORT,
            MODE_PRESETS, MODE_HEADLESS, MODE_EDIT, MODE_STATS, MODE_DIFF,
            MODE_RANK };

/* One operation, in command-line order. */
typedef struct {
    int kind;           /* 'f' freeze, 'u' unfreeze, 'i' invert, 'p' preset */
    const char *arg;    /* points into argv; NULL for invert */
} op;

typedef struct {
    enum mode mode;
    int json, allow_empty;
    int depth;                  /* --depth N; -1: not given (all levels) */
    int headless_form;          /* --headless is on the command line */
    const char *checkpoint, *plan, *output, *export_format;
    const char *checkpoint_b;   /* --diff: the second checkpoint */
    const char *rank_method;    /* --rank METHOD */
    const char *optimizer, *precision;
    const char *device;         /* --headless overrides */
    long long max_steps;        /* -1: not given */
    int resume;
    int measure_memory;         /* --measure-memory (with --headless) */
    unsigned long long batch_size; /* --batch-size N; 0: not given */
    const char *fit;            /* --fit SIZE */
    op ops[OPTIONS_MAX_OPS];
    size_t nops;
    char **patterns;            /* --stats: the PATTERN arguments after
                                   CHECKPOINT (into argv) */
    size_t npatterns;
} options;

/* Parses argv into *o (every string points into argv). --help and
 * --version print to stdout and exit(0). Returns 0, or -1 after printing
 * one line "tui: <problem>" on stderr (an unknown option, a missing or
 * bad value, two modes, a second positional argument). */
int options_parse(int argc, char **argv, options *o);

/* NULL when the options go together; else the one-line reason (a static
 * string): --json without --list/--summary/--tree/--presets/--stats,
 * --stats with --plan, -o or operations, --depth without --tree, --headless with
 * a checkpoint or operations or without --plan, --device/--max-steps/
 * --resume without --headless, nothing to open. Cannot fail. */
const char *options_check(const options *o);

/* The two-line usage reminder printed after a usage error: the headless
 * form when o (may be NULL) has --headless on its command line. */
void options_print_usage(FILE *f, const options *o);

/* The long option closest to `word` (an unknown option as typed, "--sumary"
 * or "--sumary=x"), as "--summary", or NULL when none is close enough
 * (core/suggest.h). Returns a static string. Cannot fail. */
const char *options_suggest(const char *word);

#endif
