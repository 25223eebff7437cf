/* list.c: the --list outputs (see list.h). */
#include "list.h"

#include <errno.h>
#include <string.h>

#include "../core/ckpt_note.h"
#include "../core/human.h"
#include "../core/err.h"
#include "../core/jsonw.h"

/* Whether tensor i counts as trainable: a parameter, not frozen by the
 * plan, and (TorchScript) saved with requires_grad. */
static int is_trainable(const table *t, size_t i, const bitset *frozen)
{
    const table_tensor *x = table_at(t, i);
    if (x->kind != TK_PARAMETER)
        return 0;
    if (frozen && bitset_get(frozen, i))
        return 0;
    if (strcmp(t->format, "torchscript") == 0 && !frozen)
        return (x->flags & TF_REQUIRES_GRAD) != 0;
    return 1;
}

static int shape_text(const table *t, size_t i, char *buf, size_t cap)
{
    const table_tensor *x = table_at(t, i);
    const uint64_t *s = table_shape(t, i);
    size_t k = 0;
    int n = snprintf(buf, cap, "[");
    k = (size_t)n;
    for (unsigned d = 0; d < x->ndim && k < cap; d++) {
        n = snprintf(buf + k, cap - k, d ? ", %llu" : "%llu",
                     (unsigned long long)s[d]);
        k += (size_t)n;
    }
    if (k < cap)
        snprintf(buf + k, cap - k, "]");
    return 0;
}

static int finish(FILE *out)
{
    if (fflush(out) != 0 || ferror(out))
        return err_set("writing the listing: %s", strerror(errno));
    return 0;
}

int list_print_text(FILE *out, const table *t, const bitset *frozen)
{
    size_t wname = 4, wshape = 5;
    char shape[1024], hb[32];
    for (size_t i = 0; i < t->count; i++) {
        const table_tensor *x = table_at(t, i);
        if (x->name_len > wname)
            wname = x->name_len;
        shape_text(t, i, shape, sizeof shape);
        if (strlen(shape) > wshape)
            wshape = strlen(shape);
    }
    if (wname > 72)
        wname = 72;
    fprintf(out, "%-*s  %-*s  %-11s %15s %11s  %-9s %s\n", (int)wname, "name",
            (int)wshape, "shape", "dtype", "params", "bytes", "kind",
            "state");
    for (size_t i = 0; i < t->count; i++) {
        const table_tensor *x = table_at(t, i);
        const char *state = x->kind != TK_PARAMETER ? "-"
                            : is_trainable(t, i, frozen) ? "trainable"
                                                        : "frozen";
        shape_text(t, i, shape, sizeof shape);
        fprintf(out, "%-*s  %-*s  %-11s %15llu %11s  %-9s %s", (int)wname,
                table_name(t, i), (int)wshape, shape,
                dtype_name((dtype)x->dtype), (unsigned long long)x->numel,
                human_bytes(x->nbytes, hb, sizeof hb),
                table_kind_name((tensor_kind)x->kind), state);
        if (x->flags & TF_ALIAS)
            fprintf(out, "  (tied to %s)",
                    table_name(t, table_tie_first(t, i)));
        if (x->flags & TF_SPARSE)
            fprintf(out, "  (sparse_coo: %llu stored %s, with indices)",
                    (unsigned long long)x->numel,
                    human_plural(x->numel, "value", "values"));
        fputc('\n', out);
    }
    table_totals tot;
    table_get_totals(t, &tot);
    unsigned long long trainable = 0;
    for (size_t i = 0; i < t->count; i++)
        if (is_trainable(t, i, frozen) &&
            !(table_at(t, i)->flags & TF_ALIAS))
            trainable += table_at(t, i)->numel;
    fprintf(out, "\n%s, %zu file%s: %zu tensors (%zu parameters, %zu "
            "buffers), %llu parameters (%llu trainable), %s\n",
            t->format, t->nfiles, t->nfiles == 1 ? "" : "s", tot.tensors,
            tot.parameters, tot.buffers,
            (unsigned long long)tot.parameter_numel, trainable,
            human_bytes(tot.bytes, hb, sizeof hb));
    if (tot.aliases)
        fprintf(out, "tied: %zu %s (counted once)\n", tot.aliases,
                tot.aliases == 1 ? "name is another name of a parameter "
                                   "listed before it"
                                 : "names are other names of parameters "
                                   "listed before them");
    if (tot.other_tensors)
        fprintf(out, "outside the model: %zu tensors (optimizer state and "
                "other), %s\n", tot.other_tensors,
                human_bytes(tot.other_bytes, hb, sizeof hb));
    char note[1024];
    if (ckpt_note_shard(t, 0, note, sizeof note))
        fprintf(out, "%s\n", note);
    return finish(out);
}

int list_print_json(FILE *out, const table *t, const bitset *frozen)
{
    fputs("{\"format\": ", out);
    jsonw_string(out, t->format, strlen(t->format));
    fputs(", \"files\": [", out);
    for (size_t i = 0; i < t->nfiles; i++) {
        if (i)
            fputs(", ", out);
        const char *p = table_file_path(t, i);
        jsonw_string(out, p, strlen(p));
    }
    fputc(']', out);
    if (t->shard_of)
        fprintf(out, ", \"shard\": {\"index\": %u, \"count\": %u}",
                t->shard_no, t->shard_of);
    fputs(", \"metadata\": {", out);
    for (size_t i = 0; i < t->nmeta; i++) {
        const char *k = table_meta_key(t, i), *v = table_meta_value(t, i);
        if (i)
            fputs(", ", out);
        jsonw_string(out, k, strlen(k));
        fputs(": ", out);
        jsonw_string(out, v, strlen(v));
    }
    fputs("}, \"tensors\": [", out);
    for (size_t i = 0; i < t->count; i++) {
        const table_tensor *x = table_at(t, i);
        const uint64_t *s = table_shape(t, i);
        fputs(i ? ",\n  {\"name\": " : "\n  {\"name\": ", out);
        jsonw_string(out, table_name(t, i), x->name_len);
        fputs(", \"shape\": [", out);
        for (unsigned d = 0; d < x->ndim; d++)
            fprintf(out, d ? ", %llu" : "%llu", (unsigned long long)s[d]);
        fprintf(out, "], \"dtype\": \"%s\", \"numel\": %llu, \"bytes\": "
                "%llu, \"kind\": \"%s\", \"trainable\": %s",
                dtype_name((dtype)x->dtype), (unsigned long long)x->numel,
                (unsigned long long)x->nbytes,
                table_kind_name((tensor_kind)x->kind),
                is_trainable(t, i, frozen) ? "true" : "false");
        if (x->flags & TF_SPARSE)
            fputs(", \"layout\": \"sparse_coo\"", out);
        if (x->flags & TF_ALIAS) {
            const char *f = table_name(t, table_tie_first(t, i));
            fputs(", \"tied_to\": ", out);
            jsonw_string(out, f, strlen(f));
        }
        fputc('}', out);
    }
    table_totals tot;
    table_get_totals(t, &tot);
    fprintf(out, "%s], \"totals\": {\"tensors\": %zu, \"parameters\": %zu, "
            "\"parameter_numel\": %llu, \"bytes\": %llu, \"tied\": %zu}}\n",
            t->count ? "\n" : "", tot.tensors, tot.parameters,
            (unsigned long long)tot.parameter_numel,
            (unsigned long long)tot.bytes, tot.aliases);
    return finish(out);
}
