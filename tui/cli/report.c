/* report.c: summary, tree, export and preset views (see report.h). */
#include "report.h"
#include "report_stages.h"

#include <errno.h>
#include <string.h>

#include "../core/ckpt_note.h"
#include "../core/human.h"
#include "../core/err.h"
#include "../export/export.h"
#include "list.h"

static int finish(FILE *out)
{
    if (fflush(out) != 0 || ferror(out))
        return err_set("writing the report: %s", strerror(errno));
    return 0;
}

/* "N noun" with thousands separators and the noun's plural. */
static const char *count_of(unsigned long long n, const char *one,
                            const char *many, char *buf, size_t cap)
{
    char c[32];
    snprintf(buf, cap, "%s %s", human_count(n, c, sizeof c),
             human_plural(n, one, many));
    return buf;
}

/* "sparse       2 sparse_coo tensors, kind other (never trainable): a, b"
 * when the checkpoint holds sparse tensors (at most 3 names). */
static void report_sparse(FILE *out, const table *t)
{
    size_t n = 0;
    char a[48];
    for (size_t i = 0; i < t->count; i++)
        n += (table_at(t, i)->flags & TF_SPARSE) != 0;
    if (!n)
        return;
    fprintf(out, "sparse       %s %s, kind other (never trainable):",
            human_count(n, a, sizeof a),
            human_plural(n, "sparse_coo tensor", "sparse_coo tensors"));
    for (size_t i = 0, k = 0; i < t->count && k < 4; i++) {
        if (!(table_at(t, i)->flags & TF_SPARSE))
            continue;
        fprintf(out, k < 3 ? "%s %s" : "%s ...", k ? "," : "",
                table_name(t, i));
        k++;
    }
    fputc('\n', out);
}

int report_summary(FILE *out, session *s)
{
    mem_estimate e;
    table_totals tot;
    size_t ft = 0, ttot;
    uint64_t fnumel = 0, tnumel = 0;
    char a[48], b[48], c[48], d[32], note[1024];
    if (session_estimate(s, &e) || report_stages_check(s))
        return -1;
    table_get_totals(&s->t, &tot);
    freeze_counts(&s->fs, &ft, &fnumel, &tnumel);
    ttot = tot.parameters - ft;
    fprintf(out, "checkpoint   %s (%s, %s)\n", s->checkpoint, s->t.format,
            count_of(s->t.nfiles, "file", "files", a, sizeof a));
    if (ckpt_note_shard(&s->t, 0, note, sizeof note))
        fprintf(out, "note         %s\n", note);
    if (ckpt_note_training(&s->t, 0, note, sizeof note))
        fprintf(out, "training     %s\n", note);
    fprintf(out, "tensors      %s (%s, %s)\n",
            human_count(tot.tensors, a, sizeof a),
            count_of(tot.parameters, "parameter", "parameters", b, sizeof b),
            count_of(tot.buffers, "buffer", "buffers", c, sizeof c));
    fprintf(out, "parameters   %s\n",
            human_count(tot.parameter_numel, a, sizeof a));
    if (tot.aliases)
        fprintf(out, "tied         %s %s, counted once\n",
                human_count(tot.aliases, a, sizeof a),
                tot.aliases == 1 ? "name is another name of a parameter"
                                 : "names are other names of parameters");
    fprintf(out, "trainable    %s (%s) in %s\n",
            human_count(tnumel, a, sizeof a),
            human_percent(tnumel, tot.parameter_numel, d, sizeof d),
            count_of(ttot, "tensor", "tensors", b, sizeof b));
    fprintf(out, "frozen       %s (%s) in %s\n",
            human_count(fnumel, a, sizeof a),
            human_percent(fnumel, tot.parameter_numel, d, sizeof d),
            count_of(ft, "tensor", "tensors", b, sizeof b));
    fprintf(out, "size         %s (%s)\n",
            human_bytes(tot.bytes, a, sizeof a),
            count_of(tot.bytes, "byte", "bytes", b, sizeof b));
    report_sparse(out, &s->t);
    fputc('\n', out);
    if (memory_write_report_measured(out, &e, s->has_base
                                     ? s->base.estimate.activations : NULL))
        return -1;
    if (report_stages_text(out, s))
        return -1;
    uint64_t w = s->has_base ? s->base.train.world_size : PLAN_UNSET;
    if (w != PLAN_UNSET && w > 1) {
        uint64_t all = e.after.total <= UINT64_MAX / w ? e.after.total * w
                                                       : UINT64_MAX;
        fprintf(out, "per process: the figures above are each process's "
                "(train.world_size %llu: data-parallel, every process holds "
                "the weights, gradients and optimizer state); %s in all\n",
                (unsigned long long)w, human_bytes(all, a, sizeof a));
    }
    return finish(out);
}

static const char *state_mark(const tree_node *n)
{
    switch (tree_node_state(n)) {
    case TREE_FROZEN: return "[x]";
    case TREE_PARTIAL: return "[~]";
    case TREE_BUFFER: return "[b]";
    default: return "[ ]";
    }
}

int report_tree(FILE *out, const session *s, int depth)
{
    char path[8192], cnt[32], hb[32];
    const tree_node *root = tree_root(&s->tr);
    if (depth == 0) {
        fprintf(out, "%s (model)/  %s params  %s\n", state_mark(root),
                human_count(root->param_numel, cnt, sizeof cnt),
                human_bytes(root->bytes, hb, sizeof hb));
        return finish(out);
    }
    for (const tree_node *n = root; n; n = tree_dfs_next(n, root)) {
        if (n == root)
            continue;
        if (depth > 0 && n->depth > (unsigned)depth)
            continue;
        tree_node_path(&s->tr, n, path, sizeof path);
        const char *seg = strrchr(path, '.');
        seg = seg ? seg + 1 : path;
        fprintf(out, "%s %*s%s%s  %s %s  %s", state_mark(n),
                (int)(2 * (n->depth - 1)), "", seg, n->child ? "/" : "",
                human_count(n->param_numel, cnt, sizeof cnt),
                human_plural(n->param_numel, "param", "params"),
                human_bytes(n->bytes, hb, sizeof hb));
        if (n->param_numel && n->frozen_numel &&
            n->frozen_numel != n->param_numel)
            fprintf(out, "  (%s frozen)",
                    human_percent(n->frozen_numel, n->param_numel, hb,
                                  sizeof hb));
        fputc('\n', out);
    }
    return finish(out);
}

int report_export(FILE *out, const session *s, const char *format)
{
    const export_format *f = export_find(format);
    if (!f)
        return err_set("unknown export format '%s' (expected %s)", format,
                       export_format_names());
    return f->write(out, s);
}

int report_presets(FILE *out, const preset_list *l, session *s)
{
    char line[SESSION_EMPTY_TEXT + 200];
    for (size_t i = 0; i < l->n; i++) {
        const preset *p = &l->items[i];
        fprintf(out, "%-26s %s%s\n", p->name, p->user ? "(user) " : "",
                p->shadows ? "(shadows the built-in) " : "");
        fprintf(out, "    %s\n", p->description);
        for (size_t k = 0; k < p->nparams; k++)
            fprintf(out, "    %s=%lld  in [%lld, %lld]  %s\n",
                    p->params[k].name, p->params[k].def, p->params[k].min,
                    p->params[k].max, p->params[k].help);
        if (!s)
            continue;
        session_preview pv;
        if (session_preview_preset(s, l, p->name, NULL, &pv))
            fprintf(out, "    here: %s\n", err_msg());
        else
            fprintf(out, "    here: %s\n",
                    session_preview_line(&pv, line, sizeof line));
    }
    return finish(out);
}

void report_operation(FILE *out, const char *what, const session *s,
                      const session_result *r)
{
    char a[48], b[48], c[48], d[48];
    fprintf(out, "%s: matched %s (%s), changed %s (%s)", what,
            count_of(r->matched_tensors, "tensor", "tensors", a, sizeof a),
            count_of(r->matched_numel, "parameter", "parameters", b,
                     sizeof b),
            count_of(r->change.tensors_changed, "tensor", "tensors", c,
                     sizeof c),
            count_of(r->change.numel_changed, "parameter", "parameters", d,
                     sizeof d));
    if (r->empty_rules)
        fprintf(out, "; %s matched nothing",
                count_of(r->empty_rules, "rule", "rules", a, sizeof a));
    fputc('\n', out);
    size_t ft;
    uint64_t fn, tn;
    freeze_counts(&s->fs, &ft, &fn, &tn);
    if (tn == 0 && fn == 1)
        fprintf(out, "note: nothing is left trainable (the 1 parameter is "
                "frozen)\n");
    else if (tn == 0 && fn > 0)
        fprintf(out, "note: nothing is left trainable (all %s parameters "
                "are frozen)\n", human_count(fn, a, sizeof a));
}
