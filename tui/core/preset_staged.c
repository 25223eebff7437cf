/* preset_staged.c: gradual-unfreeze, fine-tune and layer-decay
 * (preset_staged.h). A layer group is one of the ids layer_decay gives
 * (stages.h: the stem 0, each repeated block, the head last); a group is
 * named in rules by its labels ("layer4.1", "fc": lr_layer_label_len),
 * or by its tensors' own names where a label would also catch another
 * group's tensors. */
#include "preset_staged.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "session.h"
#include "stages.h"

/* The layer groups of t (lr->layer, lr->nlayers). */
static int find_groups(const table *t, lr_scales *lr)
{
    plan q;
    plan_init(&q);
    q.layer_decay = 0.5; /* any factor: only the ids are used */
    int rc = lr_scales_resolve(t, &q, "preset", lr);
    plan_free(&q);
    return rc;
}

static int is_param(const table *t, size_t i)
{
    const table_tensor *x = table_at(t, i);
    return x->kind == TK_PARAMETER && !(x->flags & TF_ALIAS);
}

/* Whether the label (len bytes) names a parameter outside group g. */
static int label_leaks(const table *t, const lr_scales *lr, int g,
                       const char *label, size_t len)
{
    for (size_t i = 0; i < t->count; i++) {
        const char *nm = table_name(t, i);
        size_t n = table_at(t, i)->name_len;
        if (!is_param(t, i) || lr->layer[i] == g || n < len ||
            memcmp(nm, label, len) != 0 || (n > len && nm[len] != '.'))
            continue;
        return 1;
    }
    return 0;
}

/* Appends `op` rules naming group g to e; *first gets its first label
 * (for the summary). Returns 0, or -1 with err set. */
static int add_group(const table *t, const lr_scales *lr, int g,
                     preset_op op, preset_expansion *e, char *first,
                     size_t cap)
{
    char pat[2 * TABLE_MAX_NAME + 8];
    const char *last = NULL;
    size_t last_len = 0;
    first[0] = '\0';
    for (size_t i = 0; i < t->count; i++) {
        if (!is_param(t, i) || lr->layer[i] != g)
            continue;
        const char *nm = table_name(t, i);
        size_t n = table_at(t, i)->name_len;
        size_t len = lr_layer_label_len(nm, n);
        if (last && len == last_len && memcmp(nm, last, len) == 0)
            continue; /* the label just added */
        if (label_leaks(t, lr, g, nm, len))
            len = n; /* this tensor by its own name */
        if (session_quote_pattern(nm, len, pat, sizeof pat) ||
            preset_gen_add_rule(e, op, pat))
            return -1;
        if (!first[0])
            snprintf(first, cap, "%.*s", (int)len, nm);
        last = nm;
        last_len = len;
    }
    if (e->n > 4096)
        return err_set("more than 4096 rules");
    return 0;
}

static plan_stage *add_stage(plan *p, uint64_t len, int epochs)
{
    plan_stage *s = plan_add_stage(p);
    if (s && len) {
        if (epochs)
            s->epochs = len;
        else
            s->steps = len;
    }
    return s;
}

/* The head alone: freeze everything, thaw the last group. */
static int head_only(const table *t, const lr_scales *lr,
                     preset_gen_out *out, char *head, size_t cap)
{
    return preset_gen_add_rule(&out->rules, PRESET_FREEZE, "**") ||
           add_group(t, lr, lr->nlayers - 1, PRESET_UNFREEZE, &out->rules,
                     head, cap)
               ? -1
               : 0;
}

static int need_groups(const lr_scales *lr)
{
    if (lr->nlayers >= 2)
        return 0;
    return err_set("%d layer group found (layer_decay's grouping, "
                   "docs/plan-format.md): nothing to thaw in stages",
                   lr->nlayers);
}

int preset_staged_gradual(const table *t, const long long *vals,
                          preset_gen_out *out)
{
    lr_scales lr;
    char head[256], label[256];
    int epochs = vals[1] == 0;
    uint64_t len = (uint64_t)(epochs ? vals[0] : vals[1]);
    if (vals[2] == 1)
        return err_set("stages=1 is the plan alone: give 2 or more (0: one "
                       "per layer group)");
    if (find_groups(t, &lr))
        return -1;
    int rc = -1, L = lr.nlayers;
    if (need_groups(&lr) || head_only(t, &lr, out, head, sizeof head))
        goto out;
    int G = vals[2] && vals[2] < L ? (int)vals[2] : L;
    size_t k = (size_t)snprintf(out->summary, sizeof out->summary,
                                "%d stages of %llu %s: %s", G,
                                (unsigned long long)len,
                                epochs ? (len == 1 ? "epoch" : "epochs")
                                       : (len == 1 ? "step" : "steps"),
                                head);
    for (int j = 0; j < G; j++) {
        plan_stage *s = add_stage(&out->stages, j + 1 < G ? len : 0, epochs);
        if (!s)
            goto out;
        if (j == 0)
            continue;
        if (j + 1 == G) {
            if (plan_stage_add_rule(&out->stages, s, PLAN_UNFREEZE, "**"))
                goto out;
            break;
        }
        /* the group's rules go to the stage: built in an expansion */
        preset_expansion e;
        memset(&e, 0, sizeof e);
        int bad = add_group(t, &lr, L - 1 - j, PRESET_UNFREEZE, &e, label,
                            sizeof label);
        for (size_t r = 0; !bad && r < e.n; r++)
            bad = plan_stage_add_rule(&out->stages, s, PLAN_UNFREEZE,
                                      e.rules[r].pattern);
        preset_expansion_free(&e);
        if (bad)
            goto out;
        if (k < sizeof out->summary)
            k += (size_t)snprintf(out->summary + k, sizeof out->summary - k,
                                  ", then %s", label);
    }
    if (k < sizeof out->summary)
        snprintf(out->summary + k, sizeof out->summary - k,
                 ", then the rest");
    out->set_stages = 1;
    rc = 0;
out:
    lr_scales_free(&lr);
    return rc;
}

int preset_staged_fine_tune(const table *t, const long long *vals,
                            preset_gen_out *out)
{
    lr_scales lr;
    char head[256];
    if (find_groups(t, &lr))
        return -1;
    int rc = -1, L = lr.nlayers;
    plan_stage *s;
    if (need_groups(&lr) || head_only(t, &lr, out, head, sizeof head) ||
        !add_stage(&out->stages, (uint64_t)vals[0], 1) ||
        !(s = add_stage(&out->stages, 0, 1)) ||
        plan_stage_add_rule(&out->stages, s, PLAN_UNFREEZE, "**"))
        goto out;
    double f = vals[1] > 1 ? pow((double)vals[1], -1.0 / (L - 1)) : NAN;
    out->stages.layer_decay = f;
    out->set_stages = out->set_decay = 1;
    snprintf(out->summary, sizeof out->summary,
             "%s alone for %lld epoch%s, then everything; layer decay %.4g "
             "over %d groups (the stem at 1/%lld of the head's lr)",
             head, vals[0], vals[0] == 1 ? "" : "s", isnan(f) ? 1.0 : f, L,
             vals[1]);
    rc = 0;
out:
    lr_scales_free(&lr);
    return rc;
}

int preset_staged_layer_decay(const table *t, const long long *vals,
                              preset_gen_out *out)
{
    lr_scales lr;
    if (find_groups(t, &lr))
        return -1;
    int rc = -1;
    if (need_groups(&lr))
        goto out;
    double f = (double)vals[0] / 100.0;
    out->stages.layer_decay = f;
    out->set_decay = 1;
    snprintf(out->summary, sizeof out->summary,
             "layer decay %.2f over %d groups: the stem's lr x%.3g, the "
             "head's x1", f, lr.nlayers, pow(f, lr.nlayers - 1));
    rc = 0;
out:
    lr_scales_free(&lr);
    return rc;
}
