/* stats_cli.c: the --stats outputs (see stats_cli.h). */
#include "stats_cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/err.h"
#include "../core/human.h"
#include "../core/jsonw.h"
#include "../core/pattern.h"
#include "../core/tree.h"
#include "../inspect/stats.h"

/* The selection: every tensor matching a pattern. Returns 0, or -1 with
 * err set. */
static int select_tensors(const table *t, char *const *pat, size_t npat,
                          int allow_empty, bitset *sel)
{
    for (size_t k = 0; k < npat; k++) {
        size_t col;
        pattern *p = pattern_compile(pat[k], &col);
        if (!p)
            return err_prefix("pattern '%s'", pat[k]);
        size_t n = pattern_match_table(p, t, sel);
        pattern_free(p);
        if (n == 0 && !allow_empty)
            return err_set("pattern '%s' matches no tensor (--allow-empty "
                           "to go on)", pat[k]);
    }
    return 0;
}

static void progress(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    char a[32], b[32];
    unsigned pct = total ? (unsigned)(done * 100 / total) : 100, w = 30;
    unsigned fill = pct * w / 100;
    fprintf(stderr, "\rstats: [%.*s%*s] %3u%% %s of %s", (int)fill,
            "##############################", (int)(w - fill), "", pct,
            human_bytes(done, a, sizeof a), human_bytes(total, b, sizeof b));
    if (done >= total)
        fputs("\r\033[K", stderr);
    fflush(stderr);
}

/* A number for text: NaN as "-". */
static const char *num(double v, char *buf, size_t cap)
{
    if (isnan(v))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%.6g", v);
    return buf;
}

static void text_row(FILE *out, int w, const char *name, size_t len,
                     const char *dt, const tensor_stats *s)
{
    char b[6][40];
    fprintf(out, "%-*.*s  %-11s %13llu %13s %13s %13s %13s %13s %7llu %7llu "
            "%9llu\n", w, (int)len, name, dt, (unsigned long long)s->count,
            num(s->min, b[0], 40), num(s->max, b[1], 40),
            num(s->finite ? s->mean : NAN, b[2], 40),
            num(stats_std(s), b[3], 40), num(stats_l2(s), b[4], 40),
            (unsigned long long)s->nan, (unsigned long long)s->inf,
            (unsigned long long)s->zero);
}

static void json_num(FILE *out, const char *key, double v)
{
    if (isnan(v) || isinf(v))
        fprintf(out, ",\"%s\":null", key);
    else
        fprintf(out, ",\"%s\":%.17g", key, v);
}

static void json_fields(FILE *out, const tensor_stats *s)
{
    fprintf(out, ",\"count\":%llu,\"finite\":%llu,\"nan\":%llu,\"inf\":%llu,"
            "\"zero\":%llu", (unsigned long long)s->count,
            (unsigned long long)s->finite, (unsigned long long)s->nan,
            (unsigned long long)s->inf, (unsigned long long)s->zero);
    json_num(out, "min", s->min);
    json_num(out, "max", s->max);
    json_num(out, "mean", s->finite ? s->mean : NAN);
    json_num(out, "std", stats_std(s));
    json_num(out, "l2", stats_l2(s));
}

/* Module aggregates: agg[k] for tree node k over the selected tensors
 * below it; has[k] how many. */
static void aggregate(const tree *tr, const bitset *sel,
                      const tensor_stats *st, tensor_stats *agg,
                      uint64_t *has)
{
    for (size_t k = 0; k < tr->count; k++) {
        stats_init(&agg[k]);
        has[k] = 0;
    }
    for (size_t k = tr->count; k-- > 0;) {
        const tree_node *n = &tr->nodes[k];
        if (n->tensor >= 0 && bitset_get(sel, (size_t)n->tensor)) {
            stats_merge(&agg[k], &st[n->tensor]);
            has[k]++;
        }
        if (n->parent) {
            size_t p = (size_t)(n->parent - tr->nodes);
            stats_merge(&agg[p], &agg[k]);
            has[p] += has[k];
        }
    }
}

/* A module row: an inner node (it has children) holding selected
 * tensors. */
static int is_module(const tree *tr, size_t k, const uint64_t *has)
{
    return tr->nodes[k].nchildren > 0 && has[k] > 0 && k > 0;
}

static const char *node_path(const table *t, const tree_node *n,
                             size_t *len)
{
    *len = n->path_len;
    return table_name(t, n->src);
}

static void print_text(FILE *out, const table *t, const bitset *sel,
                       const tensor_stats *st, const tree *tr,
                       const tensor_stats *agg, const uint64_t *has,
                       const tensor_stats *all)
{
    int w = 4;
    for (size_t i = 0; i < t->count; i++)
        if (bitset_get(sel, i) && (int)table_at(t, i)->name_len > w)
            w = (int)table_at(t, i)->name_len;
    if (w > 72)
        w = 72;
    fprintf(out, "%-*s  %-11s %13s %13s %13s %13s %13s %13s %7s %7s %9s\n",
            w, "name", "dtype", "elements", "min", "max", "mean", "std",
            "l2", "nan", "inf", "zero");
    for (size_t i = 0; i < t->count; i++)
        if (bitset_get(sel, i))
            text_row(out, w, table_name(t, i), table_at(t, i)->name_len,
                     dtype_name((dtype)table_at(t, i)->dtype), &st[i]);
    int any = 0;
    for (size_t k = 0; k < tr->count; k++) {
        if (!is_module(tr, k, has))
            continue;
        if (!any++)
            fprintf(out, "\nmodules (all their selected tensors):\n");
        size_t len;
        const char *p = node_path(t, &tr->nodes[k], &len);
        text_row(out, w, p, len, "", &agg[k]);
    }
    fputc('\n', out);
    text_row(out, w, "total", 5, "", all);
}

static void print_json(FILE *out, const table *t, const bitset *sel,
                       const tensor_stats *st, const tree *tr,
                       const tensor_stats *agg, const uint64_t *has,
                       const tensor_stats *all)
{
    fprintf(out, "{\"format\":");
    jsonw_string(out, t->format, strlen(t->format));
    fprintf(out, ",\"tensors\":[");
    int first = 1;
    for (size_t i = 0; i < t->count; i++) {
        if (!bitset_get(sel, i))
            continue;
        const char *dn = dtype_name((dtype)table_at(t, i)->dtype);
        fprintf(out, "%s{\"name\":", first ? "" : ",");
        first = 0;
        jsonw_string(out, table_name(t, i), table_at(t, i)->name_len);
        fprintf(out, ",\"dtype\":\"%s\"", dn);
        json_fields(out, &st[i]);
        fputc('}', out);
    }
    fprintf(out, "],\"modules\":[");
    first = 1;
    for (size_t k = 0; k < tr->count; k++) {
        if (!is_module(tr, k, has))
            continue;
        size_t len;
        const char *p = node_path(t, &tr->nodes[k], &len);
        fprintf(out, "%s{\"path\":", first ? "" : ",");
        first = 0;
        jsonw_string(out, p, len);
        fprintf(out, ",\"tensors\":%llu", (unsigned long long)has[k]);
        json_fields(out, &agg[k]);
        fputc('}', out);
    }
    fprintf(out, "],\"total\":{\"tensors\":%llu",
            (unsigned long long)bitset_count(sel));
    json_fields(out, all);
    fprintf(out, "}}\n");
}

int stats_cli_print(FILE *out, const table *t, char *const *pat,
                    size_t npat, int json, int allow_empty)
{
    bitset sel = {0};
    tree tr = {0};
    tensor_stats *st = NULL, *agg = NULL;
    uint64_t *has = NULL;
    int rc = -1;
    if (bitset_init(&sel, t->count)) {
        err_set("out of memory");
        goto out;
    }
    if (npat == 0)
        for (size_t i = 0; i < t->count; i++)
            bitset_set(&sel, i);
    else if (select_tensors(t, pat, npat, allow_empty, &sel))
        goto out;
    st = calloc(t->count ? t->count : 1, sizeof *st);
    if (!st) {
        err_set("out of memory");
        goto out;
    }
    if (stats_run(t, &sel, st, 0, isatty(2) ? progress : NULL, NULL) ||
        tree_build(&tr, t))
        goto out;
    agg = malloc((tr.count ? tr.count : 1) * sizeof *agg);
    has = malloc((tr.count ? tr.count : 1) * sizeof *has);
    if (!agg || !has) {
        err_set("out of memory");
        goto out;
    }
    aggregate(&tr, &sel, st, agg, has);
    tensor_stats all;
    stats_init(&all);
    for (size_t i = 0; i < t->count; i++)
        if (bitset_get(&sel, i))
            stats_merge(&all, &st[i]);
    if (json)
        print_json(out, t, &sel, st, &tr, agg, has, &all);
    else
        print_text(out, t, &sel, st, &tr, agg, has, &all);
    rc = 0;
    if (fflush(out) != 0 || ferror(out))
        rc = err_set("writing the statistics: %s", strerror(errno));
out:
    free(has);
    free(agg);
    free(st);
    tree_free(&tr);
    bitset_free(&sel);
    return rc;
}
