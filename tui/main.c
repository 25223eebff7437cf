/* main.c: the command line, dispatching to one of the modes.
 *
 * Every user-facing failure prints one line "tui: <problem>" on stderr and
 * exits with status 2. Nothing here touches curses: with a checkpoint (or
 * --plan) and no mode, no operation and no -o, the editor (ui/ui.h) runs.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/headless.h"
#include "core/human.h"
#include "cli/list.h"
#include "cli/options.h"
#include "cli/preflight.h"
#include "cli/report.h"
#include "cli/report_json.h"
#include "cli/diff_cli.h"
#include "cli/rank_cli.h"
#include "cli/stats_cli.h"
#include "core/err.h"
#include "core/session.h"
#include "core/table.h"
#include "formats/fileio.h"
#include "formats/formats.h"
#include "ui/ui.h"

enum { EXIT_BAD = 2 };

static int fail_usage(const char *msg, const options *o)
{
    if (msg)
        fprintf(stderr, "tui: %s\n", msg);
    options_print_usage(stderr, o);
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
    if (o->plan && session_load_plan(&j->s, o->plan, o->allow_empty, report))
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
            "trainable\n", path, ft, human_count(fn, a, sizeof a),
            human_count(tn, b, sizeof b));
    return 0;
}

/* --diff A B [--plan P]: A is the job's checkpoint (with the plan
 * loaded over it), B a table of its own. Returns 0, 1 when the plan did
 * not hold, or -1 with err set. */
static int run_diff(job *j, const options *o)
{
    table b;
    int held = 1, rc = -1;
    table_init(&b);
    const bitset *frozen = NULL;
    if (o->plan) {
        if (job_open_session(j, o, stderr))
            goto out;
        frozen = &j->s.fs.frozen;
    } else if (open_checkpoint(j->ckpt, &j->t)) {
        goto out;
    }
    if (open_checkpoint(o->checkpoint_b, &b) == 0 &&
        diff_cli_print(stdout, j->ckpt, o->plan ? &j->s.t : &j->t,
                       o->checkpoint_b, &b, o->plan, frozen, o->json,
                       &held) == 0)
        rc = held ? 0 : 1;
out:
    table_free(&b);
    return rc;
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
        rc = o->mode != MODE_PRESETS ? 0
             : o->json ? report_json_presets(stdout, &j.pl, NULL)
                       : report_presets(stdout, &j.pl, NULL);
        goto out;
    }
    if (o->mode == MODE_STATS) {
        if (open_checkpoint(j.ckpt, &j.t) == 0)
            rc = stats_cli_print(stdout, &j.t, o->patterns, o->npatterns,
                                 o->json, o->allow_empty);
        goto out;
    }
    if (o->mode == MODE_RANK) {
        if (open_checkpoint(j.ckpt, &j.t) == 0)
            rc = rank_cli_print(stdout, &j.t, o->rank_method, o->patterns,
                                o->npatterns, o->json, o->allow_empty);
        goto out;
    }
    if (o->mode == MODE_DIFF) {
        rc = run_diff(&j, o);
        goto out;
    }
    if (o->mode == MODE_LIST && !o->plan && o->nops == 0) {
        if (open_checkpoint(j.ckpt, &j.t) == 0)
            rc = o->json ? list_print_json(stdout, &j.t, NULL)
                         : list_print_text(stdout, &j.t, NULL);
        goto out;
    }
    if (job_open_session(&j, o, stderr) || run_ops(o, &j.s, &j.pl))
        goto out;
    /* With -o, the view is made in memory, the plan written, then the
     * view printed: a view that fails (an export the consumer cannot
     * express) leaves no plan written, and a plan that cannot be written
     * leaves nothing on stdout. */
    session *s = &j.s;
    char *vbuf = NULL;
    size_t vlen = 0;
    FILE *view = o->output ? open_memstream(&vbuf, &vlen) : stdout;
    if (!view) {
        err_set("out of memory");
        goto out;
    }
    switch (o->mode) {
    case MODE_LIST:
        rc = o->json ? list_print_json(view, &s->t, &s->fs.frozen)
                     : list_print_text(view, &s->t, &s->fs.frozen);
        break;
    case MODE_SUMMARY:
        rc = o->json ? report_json_summary(view, s) : report_summary(view, s);
        break;
    case MODE_TREE:
        rc = o->json ? report_json_tree(view, s, o->depth)
                     : report_tree(view, s, o->depth);
        break;
    case MODE_EXPORT: rc = report_export(view, s, o->export_format); break;
    case MODE_PRESETS:
        rc = o->json ? report_json_presets(view, &j.pl, s)
                     : report_presets(view, &j.pl, s);
        break;
    default:
        rc = o->output ? 0 : report_summary(view, s);
        break;
    }
    if (o->output) {
        if (fclose(view) != 0 && rc == 0)
            rc = err_set("out of memory");
        if (rc == 0 && write_plan(s, o->output))
            rc = -1;
        if (rc == 0 && (fwrite(vbuf, 1, vlen, stdout) != vlen ||
                        fflush(stdout) != 0))
            rc = err_set("writing the report: %s", strerror(errno));
        free(vbuf);
    }
out:
    job_free(&j);
    return rc == 1 ? 1 : rc ? fail() : 0;
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

int main(int argc, char **argv)
{
    double start_ms = now_ms();
    options o;
    if (options_parse(argc, argv, &o))
        return fail_usage(NULL, &o);
    const char *bad = options_check(&o);
    if (bad)
        return fail_usage(bad, &o);
    if (preflight_check(&o))
        return fail();
    if (o.mode == MODE_HEADLESS) {
        train_options t = {o.plan, o.device, o.max_steps, o.resume,
                           o.output, o.allow_empty, o.measure_memory,
                           o.batch_size, o.depth < 0 ? 0u : (unsigned)o.depth, o.json, o.fit};
        return headless_run(&t);
    }
    if (o.mode == MODE_NONE && o.nops == 0 && !o.output)
        o.mode = MODE_EDIT;
    if (o.mode == MODE_EDIT) {
        struct stat st; /* a missing file is the first thing to say */
        if (o.checkpoint && stat(o.checkpoint, &st) != 0) {
            err_set("%s: %s", o.checkpoint, strerror(errno));
            return fail();
        }
        if (ui_check_terminal())
            return fail();
        return run_editor(&o, start_ms);
    }
    return run(&o);
}
