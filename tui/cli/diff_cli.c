/* diff_cli.c: the --diff outputs (see diff_cli.h). */
#include "diff_cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/err.h"
#include "../core/jsonw.h"
#include "../inspect/diff.h"

/* The entry's name, from whichever side has it. */
static const char *entry_name(const diff_entry *e, const table *a,
                              const table *b, size_t *len)
{
    const table *t = e->a >= 0 ? a : b;
    size_t i = (size_t)(e->a >= 0 ? e->a : e->b);
    *len = table_at(t, i)->name_len;
    return table_name(t, i);
}

/* The kind of a tensor as "F32[16,8]" into buf. */
static const char *kind_str(const table *t, long i, char *buf, size_t cap)
{
    if (i < 0) {
        snprintf(buf, cap, "-");
        return buf;
    }
    const table_tensor *x = table_at(t, (size_t)i);
    const uint64_t *sh = table_shape(t, (size_t)i);
    size_t n = (size_t)snprintf(buf, cap, "%s[", dtype_name((dtype)x->dtype));
    for (unsigned d = 0; d < x->ndim && n < cap; d++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%llu", d ? "," : "",
                              (unsigned long long)sh[d]);
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
    return buf;
}

/* Frozen in a (the plan's set): only parameters are ever frozen. */
static int is_frozen(const bitset *frozen, const diff_entry *e)
{
    return frozen && e->a >= 0 && bitset_get(frozen, (size_t)e->a);
}

/* A trainable parameter of a that B holds bitwise equal. */
static int not_moved(const bitset *frozen, const table *a,
                     const diff_entry *e)
{
    return frozen && e->a >= 0 && !bitset_get(frozen, (size_t)e->a) &&
           table_at(a, (size_t)e->a)->kind == TK_PARAMETER &&
           e->status == DIFF_EQUAL;
}

static void text_num(FILE *out, double v)
{
    if (isnan(v))
        fprintf(out, " %12s", "-");
    else
        fprintf(out, " %12.4g", v);
}

static void print_text(FILE *out, const char *pa, const table *a,
                       const char *pb, const table *b, const diff_result *r,
                       const char *plan_path, const bitset *frozen,
                       size_t nbroken, size_t nfrozen, size_t nstill)
{
    int w = 4;
    char ka[96], kb[96];
    for (size_t k = 0; k < r->count; k++) {
        size_t len;
        entry_name(&r->e[k], a, b, &len);
        if (len > (size_t)w)
            w = len > 60 ? 60 : (int)len;
    }
    fprintf(out, "A: %s (%s, %zu tensors)\nB: %s (%s, %zu tensors)\n", pa,
            a->format, a->count, pb, b->format, b->count);
    fprintf(out, "%-*s  %-12s %-20s %12s %12s %12s%s\n", w, "name", "status",
            "dtype[shape]", "differ", "max |b-a|", "rel L2",
            frozen ? "  plan" : "");
    for (size_t k = 0; k < r->count; k++) {
        const diff_entry *e = &r->e[k];
        size_t len;
        const char *name = entry_name(e, a, b, &len);
        const char *ks = e->status == DIFF_ONLY_B
                             ? kind_str(b, e->b, ka, sizeof ka)
                             : kind_str(a, e->a, ka, sizeof ka);
        fprintf(out, "%-*.*s  %-12s %-20s", w, (int)len, name,
                diff_status_name(e->status), ks);
        if (e->status == DIFF_CHANGED) {
            fprintf(out, " %12llu", (unsigned long long)e->changed);
            text_num(out, e->max_abs);
            text_num(out, e->rel_l2);
        } else if (e->status == DIFF_KIND) {
            fprintf(out, " -> %s", kind_str(b, e->b, kb, sizeof kb));
        } else if (e->status == DIFF_EQUAL) {
            fprintf(out, " %12s %12s %12s", "0", "0", "0");
        }
        if (is_frozen(frozen, e))
            fprintf(out, "  %s", e->status == DIFF_EQUAL ? "frozen"
                                                          : "FROZEN, CHANGED");
        else if (not_moved(frozen, a, e))
            fprintf(out, "  trainable, not moved");
        fputc('\n', out);
    }
    fprintf(out, "%zu equal, %zu changed, %zu only in A, %zu only in B, "
            "%zu kind changed\n", r->n[DIFF_EQUAL], r->n[DIFF_CHANGED],
            r->n[DIFF_ONLY_A], r->n[DIFF_ONLY_B], r->n[DIFF_KIND]);
    if (!frozen)
        return;
    if (nbroken == 0)
        fprintf(out, "plan %s held: all %zu frozen tensors are bitwise "
                "equal\n", plan_path, nfrozen);
    else
        fprintf(out, "plan %s did not hold: %zu of %zu frozen tensors "
                "changed\n", plan_path, nbroken, nfrozen);
    if (nstill)
        fprintf(out, "%zu trainable parameters did not move (did the "
                "optimizer see them?)\n", nstill);
}

static void json_double(FILE *out, const char *key, double v)
{
    if (isnan(v) || isinf(v))
        fprintf(out, ",\"%s\":null", key);
    else
        fprintf(out, ",\"%s\":%.17g", key, v);
}

static void json_side(FILE *out, const char *key, const char *path,
                      const table *t)
{
    fprintf(out, "\"%s\":{\"path\":", key);
    jsonw_string(out, path, strlen(path));
    fprintf(out, ",\"format\":");
    jsonw_string(out, t->format, strlen(t->format));
    fprintf(out, ",\"tensors\":%zu}", t->count);
}

static void print_json(FILE *out, const char *pa, const table *a,
                       const char *pb, const table *b, const diff_result *r,
                       const char *plan_path, const bitset *frozen,
                       size_t nbroken, size_t nfrozen)
{
    static const char *const key[] = {"equal", "changed", "only_a",
                                      "only_b", "kind_changed"};
    fputc('{', out);
    json_side(out, "a", pa, a);
    fputc(',', out);
    json_side(out, "b", pb, b);
    fprintf(out, ",\"counts\":{");
    for (int s = 0; s < 5; s++)
        fprintf(out, "%s\"%s\":%zu", s ? "," : "", key[s], r->n[s]);
    fprintf(out, "},\"tensors\":[");
    for (size_t k = 0; k < r->count; k++) {
        const diff_entry *e = &r->e[k];
        size_t len;
        const char *name = entry_name(e, a, b, &len);
        fprintf(out, "%s{\"name\":", k ? "," : "");
        jsonw_string(out, name, len);
        fprintf(out, ",\"status\":\"%s\"", key[e->status]);
        if (e->status == DIFF_CHANGED) {
            fprintf(out, ",\"changed\":%llu", (unsigned long long)e->changed);
            json_double(out, "max_abs", e->max_abs);
            json_double(out, "rel_l2", e->rel_l2);
        }
        if (frozen && e->a >= 0)
            fprintf(out, ",\"frozen\":%s",
                    is_frozen(frozen, e) ? "true" : "false");
        fputc('}', out);
    }
    fputc(']', out);
    if (frozen) {
        fprintf(out, ",\"plan\":{\"path\":");
        jsonw_string(out, plan_path, strlen(plan_path));
        fprintf(out, ",\"held\":%s,\"frozen\":%zu,\"frozen_changed\":[",
                nbroken ? "false" : "true", nfrozen);
        size_t m = 0;
        for (size_t k = 0; k < r->count; k++) {
            size_t len;
            const char *name = entry_name(&r->e[k], a, b, &len);
            if (is_frozen(frozen, &r->e[k]) && r->e[k].status != DIFF_EQUAL) {
                fputs(m++ ? "," : "", out);
                jsonw_string(out, name, len);
            }
        }
        fprintf(out, "],\"trainable_not_moved\":[");
        m = 0;
        for (size_t k = 0; k < r->count; k++) {
            size_t len;
            const char *name = entry_name(&r->e[k], a, b, &len);
            if (not_moved(frozen, a, &r->e[k])) {
                fputs(m++ ? "," : "", out);
                jsonw_string(out, name, len);
            }
        }
        fprintf(out, "]}");
    }
    fprintf(out, "}\n");
}

/* The stderr line when the plan did not hold: the first names. */
static void print_broken(const char *plan_path, const table *a,
                         const table *b, const diff_result *r,
                         const bitset *frozen, size_t nbroken)
{
    fprintf(stderr, "tui: plan %s did not hold: %zu frozen tensor%s "
            "changed:", plan_path, nbroken, nbroken == 1 ? "" : "s");
    size_t shown = 0;
    for (size_t k = 0; k < r->count && shown < 8; k++) {
        size_t len;
        const char *name = entry_name(&r->e[k], a, b, &len);
        if (is_frozen(frozen, &r->e[k]) && r->e[k].status != DIFF_EQUAL)
            fprintf(stderr, "%s %.*s (%s)", shown++ ? "," : "", (int)len,
                    name, diff_status_name(r->e[k].status));
    }
    fprintf(stderr, "%s\n", nbroken > shown ? ", ..." : "");
}

int diff_cli_print(FILE *out, const char *path_a, const table *a,
                   const char *path_b, const table *b,
                   const char *plan_path, const bitset *frozen, int json,
                   int *held)
{
    diff_result r;
    if (diff_run(a, b, &r))
        return -1;
    size_t nbroken = 0, nfrozen = 0, nstill = 0;
    for (size_t k = 0; k < r.count; k++) {
        if (is_frozen(frozen, &r.e[k])) {
            nfrozen++;
            nbroken += r.e[k].status != DIFF_EQUAL;
        }
        nstill += not_moved(frozen, a, &r.e[k]);
    }
    if (json)
        print_json(out, path_a, a, path_b, b, &r, plan_path, frozen, nbroken,
                   nfrozen);
    else
        print_text(out, path_a, a, path_b, b, &r, plan_path, frozen, nbroken,
                   nfrozen, nstill);
    int rc = 0;
    if (fflush(out) != 0 || ferror(out))
        rc = err_set("writing the comparison: %s", strerror(errno));
    if (rc == 0 && frozen) {
        *held = nbroken == 0;
        if (nbroken)
            print_broken(plan_path, a, b, &r, frozen, nbroken);
    }
    diff_result_free(&r);
    return rc;
}
