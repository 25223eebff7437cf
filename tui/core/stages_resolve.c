/* stages_resolve.c: every stage's frozen set (stages.h). */
#include "stages.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "plan_resolve.h"

void stage_sets_free(stage_sets *s)
{
    if (!s)
        return;
    for (size_t i = 0; s->frozen && i < s->n; i++)
        bitset_free(&s->frozen[i]);
    free(s->frozen);
    free(s->thawed);
    free(s->refrozen);
    memset(s, 0, sizeof *s);
}

/* Parameters whose state differs between a and b, a tie group once;
 * *thawed those frozen in a and trainable in b, *refrozen the others. */
static void count_changes(const table *t, const bitset *a, const bitset *b,
                          size_t *thawed, size_t *refrozen)
{
    *thawed = *refrozen = 0;
    for (size_t i = 0; i < t->count; i++) {
        const table_tensor *x = table_at(t, i);
        if (x->kind != TK_PARAMETER || (x->flags & TF_ALIAS))
            continue;
        int fa = bitset_get(a, i), fb = bitset_get(b, i);
        if (fa && !fb)
            (*thawed)++;
        else if (!fa && fb)
            (*refrozen)++;
    }
}

/* Both resolutions; a draft lets a rule match nothing and a stage
 * change nothing. */
static int resolve(const table *t, const plan *p, const bitset *stage0,
                   const char *plan_path, int draft, stage_sets *out)
{
    memset(out, 0, sizeof *out);
    size_t n = p->nstages ? p->nstages : 1;
    out->frozen = calloc(n, sizeof *out->frozen);
    out->thawed = calloc(n, sizeof *out->thawed);
    out->refrozen = calloc(n, sizeof *out->refrozen);
    if (!out->frozen || !out->thawed || !out->refrozen)
        goto oom;
    out->n = n;
    for (size_t k = 0; k < n; k++)
        if (bitset_init(&out->frozen[k], t->count))
            goto oom;
    bitset_copy(&out->frozen[0], stage0);
    for (size_t k = 1; k < n; k++) {
        const plan_stage *s = &p->stages[k];
        bitset *cur = &out->frozen[k];
        bitset_copy(cur, &out->frozen[k - 1]);
        for (size_t j = 0; j < s->nrules; j++) {
            const plan_rule *r = &s->rules[j];
            size_t matched = 0;
            unsigned long long numel = 0;
            if (plan_apply_rule(t, r->kind, r->pattern, cur, &matched, &numel,
                                NULL)) {
                err_prefix("%s:%u:%u: stage %zu", plan_path, r->line, r->col,
                           k);
                goto fail;
            }
            if (!matched && !draft) {
                err_set("%s:%u:%u: stage %zu: %s '%.200s' matches nothing in "
                        "the checkpoint", plan_path, r->line, r->col, k,
                        r->kind == PLAN_FREEZE ? "freeze" : "unfreeze",
                        r->pattern);
                goto fail;
            }
        }
        for (size_t i = 0; i < t->count; i++)
            if (table_at(t, i)->kind != TK_PARAMETER)
                bitset_clear(cur, i);
        table_close_ties(t, cur);
        count_changes(t, &out->frozen[k - 1], cur, &out->thawed[k],
                      &out->refrozen[k]);
        if (!out->thawed[k] && !out->refrozen[k] && !draft) {
            err_set("%s:%u:%u: stage %zu changes nothing: its rules leave "
                    "the frozen set of stage %zu as it is", plan_path,
                    s->line, s->col, k, k - 1);
            goto fail;
        }
    }
    return 0;
oom:
    err_set("out of memory");
fail:
    stage_sets_free(out);
    return -1;
}

int stages_resolve(const table *t, const plan *p, const bitset *stage0,
                   const char *plan_path, stage_sets *out)
{
    return resolve(t, p, stage0, plan_path, 0, out);
}

int stages_resolve_draft(const table *t, const plan *p, const bitset *stage0,
                         stage_sets *out)
{
    return resolve(t, p, stage0, "plan", 1, out);
}
