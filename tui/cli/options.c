/* options.c: the command line of tui (options.h): getopt_long and the
 * help text (docs/tui.1 follows it; tests/cli/man_page.sh checks). */
#include "options.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../core/suggest.h"

#ifndef TUI_VERSION
#define TUI_VERSION "dev"
#endif

static const char usage_line[] =
    "usage: tui [--list|--summary|--tree|--export F|--presets] [--freeze P] "
    "[--unfreeze P] [--preset NAME] [--plan IN] [-o OUT] CHECKPOINT\n"
    "       (tui --help for more)\n";

static const char usage_headless[] =
    "usage: tui --headless --plan PLAN [--device cuda|cpu] [--max-steps N] "
    "[--resume] [-o DIR] [--allow-empty]\n"
    "       (tui --help for more; docs/training.md)\n";

enum { O_JSON = 256, O_DEPTH, O_EXPORT, O_PRESETS, O_INVERT, O_ALLOW,
       O_PLAN, O_OPT, O_PREC, O_HEADLESS, O_DEVICE, O_STEPS, O_RESUME,
       O_MEASURE, O_BATCH, O_FIT, O_STATS, O_DIFF, O_RANK };

static const struct option longopts[] = {
    {"list", no_argument, NULL, 'l'},
    {"json", no_argument, NULL, O_JSON},
    {"summary", no_argument, NULL, 's'},
    {"tree", no_argument, NULL, 't'},
    {"depth", required_argument, NULL, O_DEPTH},
    {"export", required_argument, NULL, O_EXPORT},
    {"presets", no_argument, NULL, O_PRESETS},
    {"freeze", required_argument, NULL, 'f'},
    {"unfreeze", required_argument, NULL, 'u'},
    {"invert", no_argument, NULL, O_INVERT},
    {"preset", required_argument, NULL, 'p'},
    {"allow-empty", no_argument, NULL, O_ALLOW},
    {"plan", required_argument, NULL, O_PLAN},
    {"output", required_argument, NULL, 'o'},
    {"optimizer", required_argument, NULL, O_OPT},
    {"precision", required_argument, NULL, O_PREC},
    {"headless", no_argument, NULL, O_HEADLESS},
    {"device", required_argument, NULL, O_DEVICE},
    {"max-steps", required_argument, NULL, O_STEPS},
    {"resume", no_argument, NULL, O_RESUME},
    {"measure-memory", no_argument, NULL, O_MEASURE},
    {"batch-size", required_argument, NULL, O_BATCH},
    {"fit", required_argument, NULL, O_FIT},
    {"stats", no_argument, NULL, O_STATS},
    {"diff", no_argument, NULL, O_DIFF},
    {"rank", required_argument, NULL, O_RANK},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static void print_help(void)
{
    fputs(
"tui " TUI_VERSION ": inspect a PyTorch checkpoint and plan which layers to "
"freeze.\n"
"\n"
"usage: tui [MODE] [OPERATIONS] [OPTIONS] CHECKPOINT\n"
"\n"
"CHECKPOINT is a safetensors file, a sharded set (its index .json or its\n"
"folder), a torch.save .pt/.pth/.bin zip (state_dict or training checkpoint)\n"
"or a TorchScript archive. The format is told from the content; no code from\n"
"the file is ever run, and only metadata is read. With --plan, CHECKPOINT may\n"
"be left out: the plan's model.path is used.\n"
"\n"
"modes (no terminal needed):\n"
"  -l, --list              every tensor: name, shape, dtype, parameters,\n"
"                          bytes, kind and state\n"
"      --json              with --list, --summary, --tree or --presets: the\n"
"                          stable JSON form (docs/cli.md)\n"
"  -s, --summary           totals and the training-memory estimate\n"
"  -t, --tree              the name tree with sizes and freeze states\n"
"      --depth N           with --tree: show N levels below the root (0: the\n"
"                          root only; leave --depth out for every level)\n"
"      --export FORMAT     the plan for another tool (docs/cli.md):\n"
"                          axolotl (unfrozen_parameters), fts (a Lightning\n"
"                          FinetuningScheduler schedule from the plan's\n"
"                          stages in epochs), llamafactory (freeze tuning\n"
"                          settings), modules (module paths holding exactly\n"
"                          the frozen parameters) or names (the frozen\n"
"                          parameter names, one per line); a plan the tool\n"
"                          cannot express is refused\n"
"      --presets           list the presets; with CHECKPOINT, what each\n"
"                          would freeze there on its own, or that it does\n"
"                          not fit the model\n"
"      --headless          train per the plan's train: section (needs --plan;\n"
"                          docs/training.md); with --device cuda|cpu,\n"
"                          --max-steps N, --resume, -o/--output DIR,\n"
"                          --allow-empty\n"
"      --stats             the values of each tensor the PATTERN arguments\n"
"                          after CHECKPOINT select (all without one): min,\n"
"                          max, mean, std, L2 norm, NaN/Inf/zero counts, and\n"
"                          per module (docs/inspect.md); with --json\n"
"      --diff A B          compare the tensors of two checkpoints (any\n"
"                          formats): equal bitwise, changed (elements, max\n"
"                          |b-a|, relative L2), only in A or B, dtype/shape\n"
"                          changed; with --plan PLAN, exit 0 when every\n"
"                          tensor it freezes is bitwise equal, 1 naming\n"
"                          those that changed (docs/inspect.md); --json\n"
"      --rank snr          Spectrum's signal-to-noise score of every weight\n"
"                          the PATTERN arguments after CHECKPOINT select,\n"
"                          ranked within its weight type (docs/inspect.md);\n"
"                          with --json\n"
"      --measure-memory    with --headless: measure one step's activation\n"
"                          and peak memory, train nothing (docs/memory.md);\n"
"                          with --batch-size N, --depth D, --json,\n"
"                          --fit SIZE (the largest batch in 24GiB, 500MB)\n"
"\n"
"operations (applied in the order given, after --plan):\n"
"  -f, --freeze PATTERN    freeze what PATTERN matches (docs/patterns.md)\n"
"  -u, --unfreeze PATTERN  make what PATTERN matches trainable\n"
"      --invert            swap frozen and trainable parameters\n"
"  -p, --preset NAME[:k=v,...]  apply a preset (docs/presets.md)\n"
"      --allow-empty       a pattern, preset or plan rule that matches nothing,\n"
"                          or a preset that does not fit the model, is not\n"
"                          an error (also with --headless)\n"
"\n"
"options:\n"
"      --plan FILE         start from this plan (docs/plan-format.md)\n"
"  -o, --output FILE       write the resulting plan (atomically); with\n"
"                          --headless, the run's output folder\n"
"      --optimizer NAME    sgd, momentum, adam, adamw (default), adafactor,\n"
"                          adam8bit: for the memory estimate\n"
"      --precision NAME    fp32 (default), amp, bf16, pure-bf16\n"
"  -h, --help              this text\n"
"  -V, --version           the version\n"
"\n"
"With operations but no mode and no -o, the summary is printed. With no\n"
"mode, no operation and no -o, the interactive editor opens on the terminal\n"
"(? there lists the keys).\n"
"\n"
"environment:\n"
"  TUI_STATS=1             print bytes read and open time on stderr\n"
"  TUI_PRESETS_DIR         the built-in presets folder\n"
"  TUI_TIMING=1            the editor logs frame times (shown after exit)\n"
"  XDG_CONFIG_HOME         user presets in $XDG_CONFIG_HOME/tui/presets\n"
"  HOME                    without XDG_CONFIG_HOME: ~/.config/tui/presets\n"
"  TUI_CACHE_DIR           the score cache folder of --rank (off: none)\n"
"  XDG_CACHE_HOME          without TUI_CACHE_DIR: $XDG_CACHE_HOME/tui, else\n"
"                          ~/.cache/tui\n"
"  TUI_TRAIN_LIB           the trainer library --headless loads\n"
"  TUI_THREADS             with --headless: libtorch's intra-op threads\n"
"  NO_COLOR                set and not empty: the editor uses no colours\n"
"  TERM, LANG, LC_ALL, LC_CTYPE  the editor's terminal and locale (not\n"
"                          UTF-8: ASCII drawing)\n"
"  ESCDELAY                milliseconds curses waits after Esc (default 50)\n"
"\n"
"exit status: 0 success; 2 bad input or usage (one line on stderr, nothing\n"
"written); 130 --headless interrupted (SIGINT/SIGTERM) after saving a\n"
"checkpoint: continue with --resume.\n",
        stdout);
}

void options_print_usage(FILE *f, const options *o)
{
    fputs(o && o->headless_form ? usage_headless : usage_line, f);
}

const char *options_suggest(const char *word)
{
    static char out[SUGGEST_MAX_LEN + 3];
    char key[SUGGEST_MAX_LEN + 1];
    if (strncmp(word, "--", 2) != 0)
        return NULL;
    size_t n = strcspn(word + 2, "=");
    if (n == 0 || n > SUGGEST_MAX_LEN)
        return NULL;
    memcpy(key, word + 2, n);
    key[n] = '\0';
    suggest sg;
    suggest_begin(&sg, key);
    for (size_t i = 0; longopts[i].name; i++)
        suggest_offer(&sg, longopts[i].name);
    if (!sg.best || sg.dist == 0)
        return NULL;
    snprintf(out, sizeof out, "--%s", sg.best);
    return out;
}

int options_parse(int argc, char **argv, options *o)
{
    int c;
    memset(o, 0, sizeof *o);
    o->max_steps = -1;
    o->depth = -1;
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--headless") == 0)
            o->headless_form = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":lstf:u:p:o:hV", longopts, NULL))
           != -1) {
        enum mode m = MODE_NONE;
        switch (c) {
        case 'l': m = MODE_LIST; break;
        case 's': m = MODE_SUMMARY; break;
        case 't': m = MODE_TREE; break;
        case O_PRESETS: m = MODE_PRESETS; break;
        case O_HEADLESS: m = MODE_HEADLESS; break;
        case O_STATS: m = MODE_STATS; break;
        case O_DIFF: m = MODE_DIFF; break;
        case O_RANK: m = MODE_RANK; o->rank_method = optarg; break;
        case O_DEVICE: o->device = optarg; break;
        case O_RESUME: o->resume = 1; break;
        case O_STEPS: {
            char *end;
            long long v = strtoll(optarg, &end, 10);
            if (*optarg == '\0' || *end || v < 1) {
                fprintf(stderr, "tui: --max-steps needs a positive number, "
                        "got '%s'\n", optarg);
                return -1;
            }
            o->max_steps = v;
            break;
        }
        case O_MEASURE: o->measure_memory = 1; break;
        case O_FIT: o->fit = optarg; break;
        case O_BATCH: {
            char *end;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*optarg < '0' || *optarg > '9' || *end || v < 1 ||
                v > (1ull << 30)) {
                fprintf(stderr, "tui: --batch-size needs a number in "
                        "1..2^30, got '%s'\n", optarg);
                return -1;
            }
            o->batch_size = v;
            break;
        }
        case O_EXPORT: m = MODE_EXPORT; o->export_format = optarg; break;
        case O_JSON: o->json = 1; break;
        case O_DEPTH: {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*optarg == '\0' || *optarg == '-' || *end || v > 1000000) {
                fprintf(stderr, "tui: --depth needs a number (0: the root "
                        "only; leave --depth out for every level), got "
                        "'%s'\n", optarg);
                return -1;
            }
            o->depth = (int)v;
            break;
        }
        case 'f': case 'u': case 'p': case O_INVERT:
            if (o->nops == OPTIONS_MAX_OPS) {
                fprintf(stderr, "tui: more than %d operations\n",
                        OPTIONS_MAX_OPS);
                return -1;
            }
            o->ops[o->nops].kind = c == O_INVERT ? 'i' : c;
            o->ops[o->nops++].arg = optarg;
            break;
        case O_ALLOW: o->allow_empty = 1; break;
        case O_PLAN: o->plan = optarg; break;
        case 'o': o->output = optarg; break;
        case O_OPT: o->optimizer = optarg; break;
        case O_PREC: o->precision = optarg; break;
        case 'h': print_help(); exit(0);
        case 'V': printf("tui %s\n", TUI_VERSION); exit(0);
        case ':':
            fprintf(stderr, "tui: option '%s' needs a value\n",
                    argv[optind - 1]);
            return -1;
        default: {
            const char *w = argv[optind - 1];
            const char *near = options_suggest(w);
            if (strchr(w, '=') && optopt != 0)
                fprintf(stderr, "tui: option '%.*s' takes no value\n",
                        (int)strcspn(w, "="), w);
            else if (near)
                fprintf(stderr, "tui: unknown option '%s'; did you mean "
                        "'%s'?\n", w, near);
            else
                fprintf(stderr, "tui: unknown option '%s'\n", w);
            return -1;
        }
        }
        if (m != MODE_NONE) {
            if (o->mode != MODE_NONE && o->mode != m) {
                fprintf(stderr, "tui: choose one of --list, --summary, "
                        "--tree, --export, --presets, --headless, "
                        "--stats, --diff, --rank\n");
                return -1;
            }
            o->mode = m;
        }
    }
    if (optind < argc)
        o->checkpoint = argv[optind++];
    if (o->mode == MODE_DIFF && optind < argc)
        o->checkpoint_b = argv[optind++];
    if ((o->mode == MODE_STATS || o->mode == MODE_RANK) && optind < argc) {
        o->patterns = argv + optind;
        o->npatterns = (size_t)(argc - optind);
        optind = argc;
    }
    if (optind < argc) {
        fprintf(stderr, "tui: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

const char *options_check(const options *o)
{
    if ((o->batch_size || o->fit) && !o->measure_memory)
        return "--batch-size and --fit go with --measure-memory";
    if (o->measure_memory && (o->mode != MODE_HEADLESS || o->resume ||
                              o->max_steps >= 0 || o->output))
        return "--measure-memory goes with --headless --plan PLAN, without "
               "--resume, --max-steps and --output";
    if (o->json && o->mode != MODE_LIST && o->mode != MODE_SUMMARY &&
        o->mode != MODE_TREE && o->mode != MODE_PRESETS &&
        o->mode != MODE_STATS && o->mode != MODE_DIFF &&
        o->mode != MODE_RANK && !o->measure_memory)
        return "--json goes with --list, --summary, --tree, --presets, "
               "--stats, --diff, --rank or --headless --measure-memory";
    if (o->mode == MODE_STATS && (o->plan || o->output || o->nops))
        return "--stats takes a checkpoint and patterns, no --plan, -o or "
               "operations";
    if (o->mode == MODE_RANK && (o->plan || o->output || o->nops))
        return "--rank takes a checkpoint and patterns, no --plan, -o or "
               "operations";
    if (o->mode == MODE_DIFF && (!o->checkpoint || !o->checkpoint_b))
        return "--diff takes two checkpoints: tui --diff A B [--plan PLAN]";
    if (o->mode == MODE_DIFF && (o->output || o->nops))
        return "--diff takes two checkpoints and --plan, no -o or "
               "operations";
    if (o->depth >= 0 && o->mode != MODE_TREE && !o->measure_memory)
        return "--depth goes with --tree";
    if (o->mode == MODE_HEADLESS) {
        if (!o->plan || o->checkpoint || o->nops)
            return "--headless takes --plan PLAN and no checkpoint or "
                   "operations";
        return NULL;
    }
    if (o->device || o->resume || o->max_steps >= 0)
        return "--device, --max-steps and --resume go with --headless";
    if (!o->checkpoint && !o->plan && o->mode != MODE_PRESETS)
        return "no checkpoint given";
    return NULL;
}
