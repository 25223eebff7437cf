/* report_json.c: --summary/--tree/--presets --json (report_json.h). The
 * keys are a contract: docs/cli.md lists each one, and
 * tests/parity/test_json_views.py checks them against the text views. */
#include "report_json.h"
#include "report_stages.h"

#include <errno.h>
#include <string.h>

#include "../core/err.h"
#include "../core/jsonw.h"

static int finish(FILE *out)
{
    if (fflush(out) != 0 || ferror(out))
        return err_set("writing the report: %s", strerror(errno));
    return 0;
}

static void put_str(FILE *out, const char *s)
{
    jsonw_string(out, s, strlen(s));
}

static void put_parts(FILE *out, const char *key, const mem_parts *p)
{
    fprintf(out, "  \"%s\": {\"weights\": %llu, \"master\": %llu, "
            "\"gradients\": %llu, \"optimizer\": %llu, \"bookkeeping\": %llu, "
            "\"buffers\": %llu, \"total\": %llu, \"trainable_numel\": %llu, "
            "\"trainable_tensors\": %llu}", key,
            (unsigned long long)p->weights, (unsigned long long)p->master,
            (unsigned long long)p->gradients,
            (unsigned long long)p->optimizer,
            (unsigned long long)p->bookkeeping,
            (unsigned long long)p->buffers, (unsigned long long)p->total,
            (unsigned long long)p->trainable_numel,
            (unsigned long long)p->trainable_tensors);
}

/* ",\n  "activations": {...}": the plan's measurement (activation.h)
 * and this plan's total with it. -1 with err set when the sum
 * overflows. */
static int put_activations(FILE *out, const activation *m, uint64_t total)
{
    uint64_t with;
    if (__builtin_add_overflow(total, m->activation_bytes, &with))
        return err_set("the total with the measured activations overflows "
                       "64 bits");
    fprintf(out, ",\n  \"activations\": {\"batch\": %llu, "
            "\"activation_bytes\": %llu, \"peak_bytes\": %llu, "
            "\"device\": ", (unsigned long long)m->batch,
            (unsigned long long)m->activation_bytes,
            (unsigned long long)m->peak_bytes);
    if (m->device)
        put_str(out, m->device);
    else
        fputs("null", out);
    fputs(", \"libtorch\": ", out);
    if (m->libtorch)
        put_str(out, m->libtorch);
    else
        fputs("null", out);
    fputs(", \"per_module\": [", out);
    for (size_t i = 0; i < m->nmodules; i++) {
        fputs(i ? ", {\"module\": " : "{\"module\": ", out);
        put_str(out, m->modules[i].module);
        fprintf(out, ", \"activation_bytes\": %llu}",
                (unsigned long long)m->modules[i].bytes);
    }
    fprintf(out, "], \"total_with_activations\": %llu}",
            (unsigned long long)with);
    return 0;
}

int report_json_summary(FILE *out, session *s)
{
    mem_estimate e;
    table_totals tot;
    size_t ft = 0;
    uint64_t fnumel = 0, tnumel = 0;
    if (session_estimate(s, &e) || report_stages_check(s))
        return -1;
    table_get_totals(&s->t, &tot);
    freeze_counts(&s->fs, &ft, &fnumel, &tnumel);
    fputs("{\"checkpoint\": ", out);
    put_str(out, s->checkpoint);
    fputs(", \"format\": ", out);
    put_str(out, s->t.format);
    fprintf(out, ", \"files\": %zu,\n \"tensors\": %zu, \"parameters\": %zu, "
            "\"buffers\": %zu, \"tied\": %zu, \"parameter_numel\": %llu, "
            "\"bytes\": %llu,\n", s->t.nfiles, tot.tensors, tot.parameters,
            tot.buffers, tot.aliases,
            (unsigned long long)tot.parameter_numel,
            (unsigned long long)tot.bytes);
    fprintf(out, " \"trainable\": {\"numel\": %llu, \"tensors\": %zu},\n"
            " \"frozen\": {\"numel\": %llu, \"tensors\": %zu},\n",
            (unsigned long long)tnumel, tot.parameters - ft,
            (unsigned long long)fnumel, ft);
    fputs(" \"memory\": {\"optimizer\": ", out);
    put_str(out, memory_optimizer_name(e.optimizer));
    fputs(", \"precision\": ", out);
    put_str(out, memory_precision_name(e.precision));
    fputs(",\n", out);
    put_parts(out, "before", &e.before);
    fputs(",\n", out);
    put_parts(out, "after", &e.after);
    if (s->has_base && s->base.estimate.activations &&
        put_activations(out, s->base.estimate.activations, e.after.total) < 0)
        return -1;
    /* data-parallel: the figures are per process */
    uint64_t w = s->has_base ? s->base.train.world_size : PLAN_UNSET;
    fprintf(out, ",\n  \"world_size\": %llu, \"per_process\": %s",
            (unsigned long long)(w != PLAN_UNSET && w > 0 ? w : 1),
            w != PLAN_UNSET && w > 1 ? "true" : "false");
    fputs("}", out);
    if (report_stages_json(out, s))
        return -1;
    fputs("}\n", out);
    return finish(out);
}

static const char *state_key(const tree_node *n)
{
    switch (tree_node_state(n)) {
    case TREE_FROZEN: return "frozen";
    case TREE_PARTIAL: return "partial";
    case TREE_BUFFER: return "buffer";
    default: return "trainable";
    }
}

int report_json_tree(FILE *out, const session *s, int depth)
{
    char path[8192];
    const tree_node *root = tree_root(&s->tr);
    int first = 1;
    fputs("{\"checkpoint\": ", out);
    put_str(out, s->checkpoint);
    if (depth < 0)
        fputs(", \"depth\": null,\n \"nodes\": [", out);
    else
        fprintf(out, ", \"depth\": %d,\n \"nodes\": [", depth);
    for (const tree_node *n = root; n; n = tree_dfs_next(n, root)) {
        if (depth >= 0 && n->depth > (unsigned)depth)
            continue;
        size_t len = tree_node_path(&s->tr, n, path, sizeof path);
        if (len >= sizeof path)
            len = sizeof path - 1;
        fputs(first ? "\n  {\"path\": " : ",\n  {\"path\": ", out);
        first = 0;
        jsonw_string(out, path, len);
        fputs(", \"name\": ", out);
        if (n == root)
            put_str(out, "");
        else
            jsonw_string(out, n->seg, n->seg_len);
        fprintf(out, ", \"depth\": %u, \"state\": \"%s\", \"children\": %u, "
                "\"tensors\": %llu, \"parameters\": %llu, \"buffers\": %llu, "
                "\"param_numel\": %llu, \"frozen_numel\": %llu, "
                "\"frozen_tensors\": %llu, \"bytes\": %llu}",
                (unsigned)n->depth, state_key(n), (unsigned)n->nchildren,
                (unsigned long long)n->tensors,
                (unsigned long long)n->params,
                (unsigned long long)n->buffers,
                (unsigned long long)n->param_numel,
                (unsigned long long)n->frozen_numel,
                (unsigned long long)n->frozen_tensors,
                (unsigned long long)n->bytes);
    }
    fputs("]}\n", out);
    return finish(out);
}

/* The `here` object of one preset on session s: what it would freeze
 * there with its defaults (as report_presets' "here:" line). */
static void put_here(FILE *out, session *s, const preset_list *l,
                     const preset *p, bitset *b)
{
    session_preview pv;
    (void)b;
    if (session_preview_preset(s, l, p->name, NULL, &pv)) {
        fputs(",\n   \"here\": {\"error\": ", out);
        put_str(out, err_msg());
        fputs("}", out);
        return;
    }
    fprintf(out, ",\n   \"here\": {\"fits\": %s, \"matched_tensors\": %zu, "
            "\"empty_rules\": %zu, \"frozen_tensors\": %zu, "
            "\"frozen_numel\": %llu", pv.fits ? "true" : "false",
            pv.matched_tensors, pv.empty_rules, pv.frozen_tensors,
            pv.frozen_numel);
    if (pv.act_measured)
        fprintf(out, ", \"activations\": {\"kept_bytes\": %llu, "
                "\"measured_bytes\": %llu}",
                (unsigned long long)pv.act_kept,
                (unsigned long long)pv.act_measured);
    fputs("}", out);
}

int report_json_presets(FILE *out, const preset_list *l, session *s)
{
    bitset b;
    table_totals tot;
    if (s) {
        if (bitset_init(&b, s->t.count))
            return err_set("out of memory");
        table_get_totals(&s->t, &tot);
        fputs("{\"checkpoint\": ", out);
        put_str(out, s->checkpoint);
        fprintf(out, ", \"parameter_numel\": %llu,\n \"presets\": [",
                (unsigned long long)tot.parameter_numel);
    } else {
        fputs("{\"checkpoint\": null,\n \"presets\": [", out);
    }
    for (size_t i = 0; i < l->n; i++) {
        const preset *p = &l->items[i];
        fputs(i ? ",\n  {\"name\": " : "\n  {\"name\": ", out);
        put_str(out, p->name);
        fprintf(out, ", \"user\": %s, \"shadows\": %s,\n   \"description\": ",
                p->user ? "true" : "false", p->shadows ? "true" : "false");
        put_str(out, p->description);
        fputs(",\n   \"params\": [", out);
        for (size_t k = 0; k < p->nparams; k++) {
            fputs(k ? ", {\"name\": " : "{\"name\": ", out);
            put_str(out, p->params[k].name);
            fprintf(out, ", \"default\": %lld, \"min\": %lld, \"max\": %lld, "
                    "\"help\": ", p->params[k].def, p->params[k].min,
                    p->params[k].max);
            put_str(out, p->params[k].help);
            fputs("}", out);
        }
        fputs("]", out);
        if (s)
            put_here(out, s, l, p, &b);
        fputs("}", out);
    }
    fputs("]}\n", out);
    if (s)
        bitset_free(&b);
    return finish(out);
}
