/* report.c: summary, tree, export and preset views (see report.h). */
#include "report.h"

#include <errno.h>
#include <string.h>

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

static double pct(unsigned long long a, unsigned long long b)
{
    return b ? 100.0 * (double)a / (double)b : 0.0;
}

int report_summary(FILE *out, session *s)
{
    mem_estimate e;
    table_totals tot;
    size_t ft = 0, ttot;
    uint64_t fnumel = 0, tnumel = 0;
    char a[32], b[32], c[32];
    if (session_estimate(s, &e))
        return -1;
    table_get_totals(&s->t, &tot);
    freeze_counts(&s->fs, &ft, &fnumel, &tnumel);
    ttot = tot.parameters - ft;
    fprintf(out, "checkpoint   %s (%s, %zu file%s)\n", s->checkpoint,
            s->t.format, s->t.nfiles, s->t.nfiles == 1 ? "" : "s");
    fprintf(out, "tensors      %zu (%zu parameters, %zu buffers)\n",
            tot.tensors, tot.parameters, tot.buffers);
    fprintf(out, "parameters   %s\n",
            human_count(tot.parameter_numel, a, sizeof a));
    if (tot.aliases)
        fprintf(out, "tied         %zu %s, counted once\n", tot.aliases,
                tot.aliases == 1 ? "name is another name of a parameter"
                                 : "names are other names of parameters");
    fprintf(out, "trainable    %s (%.1f%%) in %zu tensors\n",
            human_count(tnumel, b, sizeof b),
            pct(tnumel, tot.parameter_numel), ttot);
    fprintf(out, "frozen       %s (%.1f%%) in %zu tensors\n",
            human_count(fnumel, c, sizeof c),
            pct(fnumel, tot.parameter_numel), ft);
    fprintf(out, "size         %s\n\n",
            human_bytes(tot.bytes, a, sizeof a));
    if (memory_write_report(out, &e))
        return -1;
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
        fprintf(out, "%s %*s%s%s  %s params  %s", state_mark(n),
                (int)(2 * (n->depth - 1)), "", seg, n->child ? "/" : "",
                human_count(n->param_numel, cnt, sizeof cnt),
                human_bytes(n->bytes, hb, sizeof hb));
        if (n->param_numel && n->frozen_numel &&
            n->frozen_numel != n->param_numel)
            fprintf(out, "  (%.1f%% frozen)",
                    pct(n->frozen_numel, n->param_numel));
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
    char a[32];
    bitset b;
    table_totals tot;
    if (s) {
        if (bitset_init(&b, s->t.count))
            return err_set("out of memory");
        table_get_totals(&s->t, &tot);
    }
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
        session_result r;
        if (session_preview_preset(s, l, p->name, &b, &r)) {
            fprintf(out, "    here: %s\n", err_msg());
            continue;
        }
        unsigned long long fz = 0;
        size_t nt = 0;
        for (size_t k = 0; k < s->t.count; k++)
            if (table_at(&s->t, k)->kind == TK_PARAMETER &&
                bitset_get(&b, k)) {
                if (!(table_at(&s->t, k)->flags & TF_ALIAS))
                    fz += table_at(&s->t, k)->numel;
                nt++;
            }
        if (r.matched_tensors == 0)
            fprintf(out, "    here: matches nothing on this model\n");
        else
            fprintf(out, "    here: frozen then %zu tensors, %s parameters "
                    "(%.1f%%)\n", nt, human_count(fz, a, sizeof a),
                    pct(fz, tot.parameter_numel));
    }
    if (s)
        bitset_free(&b);
    return finish(out);
}

void report_operation(FILE *out, const char *what, const session *s,
                      const session_result *r)
{
    char a[32], b[32];
    fprintf(out, "%s: matched %zu tensors (%s parameters), changed %zu "
            "tensors (%s parameters)", what, r->matched_tensors,
            human_count(r->matched_numel, a, sizeof a),
            (size_t)r->change.tensors_changed,
            human_count(r->change.numel_changed, b, sizeof b));
    if (r->empty_rules)
        fprintf(out, "; %zu rule%s matched nothing", r->empty_rules,
                r->empty_rules == 1 ? "" : "s");
    fputc('\n', out);
    size_t ft;
    uint64_t fn, tn;
    freeze_counts(&s->fs, &ft, &fn, &tn);
    if (tn == 0 && fn > 0)
        fprintf(out, "note: nothing is left trainable (all %s parameters "
                "are frozen)\n", human_count(fn, a, sizeof a));
}
