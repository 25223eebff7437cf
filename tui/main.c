/* main.c: the command line, dispatching to one of the modes.
 *
 * Every user-facing failure prints one line "tui: <problem>" on stderr and
 * exits with status 2. Nothing here touches curses: with a checkpoint (or
 * --plan) and no mode, no operation and no -o, the editor (ui/ui.h) runs.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/headless.h"
#include "cli/list.h"
#include "cli/report.h"
#include "core/err.h"
#include "core/session.h"
#include "core/table.h"
#include "formats/fileio.h"
#include "formats/formats.h"
#include "ui/ui.h"

#ifndef TUI_VERSION
#define TUI_VERSION "dev"
#endif

enum { EXIT_BAD = 2, MAX_OPS = 1024 };

enum mode { MODE_NONE, MODE_LIST, MODE_SUMMARY, MODE_TREE, MODE_EXPORT,
            MODE_PRESETS, MODE_HEADLESS, MODE_EDIT };

typedef struct {
    int kind;           /* 'f' freeze, 'u' unfreeze, 'i' invert, 'p' preset */
    const char *arg;
} op;

typedef struct {
    enum mode mode;
    int json, allow_empty;
    unsigned depth;
    const char *checkpoint, *plan, *output, *export_format;
    const char *optimizer, *precision;
    const char *device;         /* --headless overrides */
    long long max_steps;
    int resume;
    op ops[MAX_OPS];
    size_t nops;
} options;

static const char usage_line[] =
    "usage: tui [--list|--summary|--tree|--export F|--presets] [--freeze P] "
    "[--unfreeze P] [--preset NAME] [--plan IN] [-o OUT] CHECKPOINT\n"
    "       (tui --help for more)\n";

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
"      --json              with --list: the stable JSON form (docs/cli.md)\n"
"  -s, --summary           totals and the training-memory estimate\n"
"  -t, --tree              the name tree with sizes and freeze states\n"
"      --depth N           with --tree: show N levels (default: all)\n"
"      --export FORMAT     axolotl (unfrozen_parameters regexes) or names\n"
"                          (the frozen parameter names, one per line)\n"
"      --presets           list the presets; with CHECKPOINT, what each\n"
"                          would freeze there\n"
"      --headless          train per the plan's train: section (needs --plan;\n"
"                          docs/training.md); with --device cuda|cpu,\n"
"                          --max-steps N, --resume, -o/--output DIR\n"
"\n"
"operations (applied in the order given, after --plan):\n"
"  -f, --freeze PATTERN    freeze what PATTERN matches (docs/patterns.md)\n"
"  -u, --unfreeze PATTERN  make what PATTERN matches trainable\n"
"      --invert            swap frozen and trainable parameters\n"
"  -p, --preset NAME[:k=v,...]  apply a preset (docs/presets.md)\n"
"      --allow-empty       a pattern that matches nothing is not an error\n"
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
"                          (default ~/.config/tui/presets)\n"
"\n"
"exit status: 0 success, 2 bad input or usage (one line on stderr).\n",
        stdout);
}

static int fail_usage(const char *msg)
{
    if (msg)
        fprintf(stderr, "tui: %s\n", msg);
    fputs(usage_line, stderr);
    return EXIT_BAD;
}

static int fail(void)
{
    fprintf(stderr, "tui: %s\n", err_msg());
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

/* The built-in presets folder: $TUI_PRESETS_DIR, else next to the
 * binary (../share/tui/presets when installed, ../presets in the repo). */
static const char *presets_dir(char *buf, size_t cap)
{
    const char *env = getenv("TUI_PRESETS_DIR");
    if (env && *env)
        return env;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        static const char *const rel[] = {"../share/tui/presets",
                                          "../presets", "../../presets"};
        for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
            snprintf(buf, cap, "%s/%s", exe, rel[i]);
            if (access(buf, R_OK) == 0)
                return buf;
        }
    }
    return "presets";
}

static int need_presets(const options *o)
{
    if (o->mode == MODE_PRESETS)
        return 1;
    for (size_t i = 0; i < o->nops; i++)
        if (o->ops[i].kind == 'p')
            return 1;
    return 0;
}

static int run_ops(const options *o, session *s, const preset_list *pl)
{
    char what[4200];
    for (size_t i = 0; i < o->nops; i++) {
        const op *x = &o->ops[i];
        session_result r;
        int rc;
        switch (x->kind) {
        case 'f':
            rc = session_apply_rule(s, PLAN_FREEZE, x->arg, o->allow_empty,
                                    &r);
            snprintf(what, sizeof what, "freeze '%s'", x->arg);
            break;
        case 'u':
            rc = session_apply_rule(s, PLAN_UNFREEZE, x->arg, o->allow_empty,
                                    &r);
            snprintf(what, sizeof what, "unfreeze '%s'", x->arg);
            break;
        case 'i':
            rc = session_apply_rule(s, PLAN_INVERT, NULL, 0, &r);
            snprintf(what, sizeof what, "invert");
            break;
        default:
            rc = session_apply_preset(s, pl, x->arg, o->allow_empty, &r);
            snprintf(what, sizeof what, "preset '%s'", x->arg);
            break;
        }
        if (rc)
            return -1;
        report_operation(stderr, what, s, &r);
    }
    return 0;
}

/* What one run holds; job_free releases whatever was set up. */
typedef struct {
    table t;
    session s;
    preset_list pl;
    char *from_plan;   /* the checkpoint path taken from --plan */
    const char *ckpt;  /* the checkpoint to open, or NULL */
    int have_session, have_presets;
} job;

static void job_init(job *j, const options *o)
{
    memset(j, 0, sizeof *j);
    table_init(&j->t);
    j->ckpt = o->checkpoint;
}

static void job_free(job *j)
{
    if (j->have_session)
        session_free(&j->s);
    table_free(&j->t);
    if (j->have_presets)
        preset_list_free(&j->pl);
    free(j->from_plan);
}

/* Without a CHECKPOINT argument, the checkpoint is the plan's model.path.
 * Returns 0, or -1 with err set. */
static int job_find_checkpoint(job *j, const options *o)
{
    if (j->ckpt || !o->plan)
        return 0;
    plan p;
    plan_init(&p);
    if (plan_load(o->plan, &p) == 0)
        j->from_plan = plan_model_file(&p, o->plan);
    plan_free(&p);
    if (!j->from_plan)
        return -1;
    j->ckpt = j->from_plan;
    return 0;
}

/* Opens the checkpoint into a session, loads --plan (its difference
 * report goes to `report`) and applies --optimizer / --precision, which
 * win over the plan's. Returns 0, or -1 with err set. */
static int job_open_session(job *j, const options *o, FILE *report)
{
    mem_optimizer opt;
    mem_precision prec;
    if ((o->optimizer && memory_optimizer_parse(o->optimizer, &opt)) ||
        (o->precision && memory_precision_parse(o->precision, &prec)))
        return -1;
    if (open_checkpoint(j->ckpt, &j->t))
        return -1;
    j->have_session = 1;
    if (session_init(&j->s, &j->t, j->ckpt))
        return -1;
    if (o->plan && session_load_plan(&j->s, o->plan, report))
        return -1;
    if (o->optimizer)
        j->s.optimizer = opt;
    if (o->precision)
        j->s.precision = prec;
    return 0;
}

static int write_plan(session *s, const char *path)
{
    size_t ft;
    uint64_t fn, tn;
    char a[32], b[32];
    if (session_save_plan(s, path))
        return -1;
    freeze_counts(&s->fs, &ft, &fn, &tn);
    fprintf(stderr, "wrote %s: %zu tensors frozen (%s parameters), %s "
            "trainable\n", path, ft, report_count(fn, a, sizeof a),
            report_count(tn, b, sizeof b));
    return 0;
}

static int run(const options *o)
{
    job j;
    char dirbuf[PATH_MAX + 32];
    int rc = -1;
    job_init(&j, o);
    if (job_find_checkpoint(&j, o))
        goto out;
    if (need_presets(o)) {
        if (preset_list_load(presets_dir(dirbuf, sizeof dirbuf), &j.pl))
            goto out;
        j.have_presets = 1;
    }
    if (!j.ckpt) {
        rc = o->mode == MODE_PRESETS ? report_presets(stdout, &j.pl, NULL)
                                     : 0;
        goto out;
    }
    if (o->mode == MODE_LIST && !o->plan && o->nops == 0) {
        if (open_checkpoint(j.ckpt, &j.t) == 0)
            rc = o->json ? list_print_json(stdout, &j.t, NULL)
                         : list_print_text(stdout, &j.t, NULL);
        goto out;
    }
    if (job_open_session(&j, o, stderr) || run_ops(o, &j.s, &j.pl) ||
        (o->output && write_plan(&j.s, o->output)))
        goto out;
    session *s = &j.s;
    switch (o->mode) {
    case MODE_LIST:
        rc = o->json ? list_print_json(stdout, &s->t, &s->fs.frozen)
                     : list_print_text(stdout, &s->t, &s->fs.frozen);
        break;
    case MODE_SUMMARY: rc = report_summary(stdout, s); break;
    case MODE_TREE: rc = report_tree(stdout, s, o->depth); break;
    case MODE_EXPORT: rc = report_export(stdout, s, o->export_format); break;
    case MODE_PRESETS: rc = report_presets(stdout, &j.pl, s); break;
    default:
        rc = o->output ? 0 : report_summary(stdout, s);
        break;
    }
out:
    job_free(&j);
    return rc ? fail() : 0;
}

/* The interactive editor: open, load the plan (its report captured for
 * the editor to show), load the presets, run. A broken preset folder
 * does not keep the editor from starting: the editor says why instead. */
static int run_editor(const options *o, double start_ms)
{
    job j;
    char dirbuf[PATH_MAX + 32], udir[PATH_MAX];
    char *report = NULL;
    size_t rlen = 0;
    int rc = -1;
    job_init(&j, o);
    FILE *rep = open_memstream(&report, &rlen);
    if (!rep) {
        err_set("out of memory");
        goto out;
    }
    if (job_find_checkpoint(&j, o) || job_open_session(&j, o, rep)) {
        fclose(rep);
        goto out;
    }
    const char *bdir = presets_dir(dirbuf, sizeof dirbuf);
    if (preset_list_load(bdir, &j.pl) == 0)
        j.have_presets = 1;
    else
        fprintf(rep, "%spresets: %s (the presets menu is empty)\n",
                ftell(rep) > 0 ? "\n" : "", err_msg());
    if (fclose(rep) != 0) {
        err_set("out of memory");
        goto out;
    }
    const char *env = getenv("TUI_TIMING");
    ui_config cfg = {
        .plan_path = o->plan,
        .plan_report = report,
        .presets = &j.pl,
        .user_preset_dir = preset_user_dir(udir, sizeof udir) == 0 ? udir
                                                                    : NULL,
        .builtin_preset_dir = bdir,
        .timing = env && *env && strcmp(env, "0") != 0,
        .start_ms = start_ms,
    };
    rc = ui_run(&j.s, &cfg);
    job_free(&j);
    free(report);
    return rc;
out:
    job_free(&j);
    free(report);
    return fail();
}

static int parse_args(int argc, char **argv, options *o)
{
    enum { O_JSON = 256, O_DEPTH, O_EXPORT, O_PRESETS, O_INVERT, O_ALLOW,
           O_PLAN, O_OPT, O_PREC, O_HEADLESS, O_DEVICE, O_STEPS, O_RESUME };
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
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;
    memset(o, 0, sizeof *o);
    o->max_steps = -1;
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
        case O_EXPORT: m = MODE_EXPORT; o->export_format = optarg; break;
        case O_JSON: o->json = 1; break;
        case O_DEPTH: {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*optarg == '\0' || *end || v > 1000000) {
                fprintf(stderr, "tui: --depth needs a number, got '%s'\n",
                        optarg);
                return -1;
            }
            o->depth = (unsigned)v;
            break;
        }
        case 'f': case 'u': case 'p': case O_INVERT:
            if (o->nops == MAX_OPS) {
                fprintf(stderr, "tui: more than %d operations\n", MAX_OPS);
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
        default:
            fprintf(stderr, "tui: unknown option '%s'\n", argv[optind - 1]);
            return -1;
        }
        if (m != MODE_NONE) {
            if (o->mode != MODE_NONE && o->mode != m) {
                fprintf(stderr, "tui: choose one of --list, --summary, "
                        "--tree, --export, --presets, --headless\n");
                return -1;
            }
            o->mode = m;
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
    double start_ms = now_ms();
    options o;
    if (parse_args(argc, argv, &o))
        return fail_usage(NULL);
    if (o.json && o.mode != MODE_LIST)
        return fail_usage("--json goes with --list");
    if (o.depth && o.mode != MODE_TREE)
        return fail_usage("--depth goes with --tree");
    if (o.mode == MODE_HEADLESS) {
        if (!o.plan || o.checkpoint || o.nops)
            return fail_usage("--headless takes --plan PLAN and no "
                              "checkpoint or operations");
        train_options t = {o.plan, o.device, o.max_steps, o.resume,
                           o.output};
        return headless_run(&t);
    }
    if ((o.device || o.resume || o.max_steps >= 0))
        return fail_usage("--device, --max-steps and --resume go with "
                          "--headless");
    if (!o.checkpoint && !o.plan && o.mode != MODE_PRESETS)
        return fail_usage("no checkpoint given");
    if (o.mode == MODE_NONE && o.nops == 0 && !o.output)
        o.mode = MODE_EDIT;
    if (o.mode == MODE_EDIT) {
        if (ui_check_terminal())
            return fail();
        return run_editor(&o, start_ms);
    }
    return run(&o);
}
