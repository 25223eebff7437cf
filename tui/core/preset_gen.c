/* preset_gen.c: the computed presets' table, listing and running
 * (preset_gen.h). */
#include "preset_gen.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "preset_spectrum.h"
#include "preset_staged.h"

static const preset_gen gens[] = {
    {"fine-tune",
     "fastai's fine_tune: the head alone for freeze_epochs epochs (stage "
     "0), then everything (stage 1), the lower layers at a lower lr: "
     "timm's layer decay with the factor that spreads lr_mult over the "
     "layer groups, as fastai's slice(lr/lr_mult, lr) does geometrically. "
     "fastai also halves the lr and runs one cycle per phase; the plan's "
     "train.schedule applies here.",
     {{"freeze_epochs", 1, 1, 1000, "epochs of the head alone"},
      {"lr_mult", 100, 1, 1000000,
       "the head's lr over the stem's after the unfreeze"}},
     2, preset_staged_fine_tune},
    {"gradual-unfreeze",
     "ULMFiT's gradual unfreezing: the head alone first (stage 0), then "
     "one more layer group per stage from the top (the groups layer_decay "
     "finds: the head, each repeated block, the stem), the last stage "
     "thawing what is left. Lengths in epochs (ULMFiT: one each), or in "
     "steps when steps is set.",
     {{"epochs", 1, 1, 1000, "epochs per stage"},
      {"steps", 0, 0, 1000000000, "steps per stage instead (0: epochs)"},
      {"stages", 0, 0, 1024,
       "stages in all (0: one per layer group); the last thaws the rest"}},
     3, preset_staged_gradual},
    {"layer-decay",
     "timm's layer-wise lr decay (param_groups_layer_decay, as in MAE, "
     "BEiT, ELECTRA and BERT fine-tuning): each layer group's lr scaled by "
     "factor^(L-1-id), the head at the full lr. Sets layer_decay only; "
     "the frozen set and the stages stay as they are.",
     {{"factor", 75, 1, 100, "the decay factor in hundredths (75: 0.75)"}},
     1, preset_staged_layer_decay},
    {"spectrum",
     "Spectrum's data-driven selection (cognitivecomputations/spectrum): "
     "in each weight type (the name after the layer number) the top `top` "
     "percent by the signal-to-noise score that `tui --rank snr` computed "
     "and cached train, each with its module (its bias too), and always "
     "lm_head.weight and model.embed_tokens.weight; the rest is frozen. "
     "scale_invariant=1 ranks by snr alone, which the weights' scale does "
     "not change (Spectrum's score divides by the largest singular value).",
     {{"top", 50, 1, 100,
       "percent of each weight type to train, highest score first"},
      {"scale_invariant", 0, 0, 1,
       "1: rank by snr instead of Spectrum's snr / max(S)"}},
     2, preset_spectrum_make},
};
#define NGENS (sizeof gens / sizeof *gens)

const preset_gen *preset_gens(size_t *n)
{
    *n = NGENS;
    return gens;
}

void preset_gen_out_init(preset_gen_out *o)
{
    memset(o, 0, sizeof *o);
    plan_init(&o->stages);
}

void preset_gen_out_free(preset_gen_out *o)
{
    if (!o)
        return;
    preset_expansion_free(&o->rules);
    plan_free(&o->stages);
    preset_gen_out_init(o);
}

int preset_gen_add_rule(preset_expansion *e, preset_op op, const char *pat)
{
    char *copy = strdup(pat);
    preset_out_rule *r = realloc(e->rules, (e->n + 1) * sizeof *r);
    if (!copy || !r) {
        free(copy);
        if (r)
            e->rules = r;
        return err_set("out of memory");
    }
    e->rules = r;
    r[e->n].op = op;
    r[e->n].pattern = copy;
    e->n++;
    return 0;
}

/* p as a computed preset: name, description and params copied. */
static int make_entry(const preset_gen *g, preset *p)
{
    memset(p, 0, sizeof *p);
    p->gen = g;
    p->name = strdup(g->name);
    p->description = strdup(g->description);
    p->path = strdup("(built in)");
    p->params = calloc(g->nparams ? g->nparams : 1, sizeof *p->params);
    if (!p->name || !p->description || !p->path || !p->params)
        goto oom;
    for (size_t i = 0; i < g->nparams; i++) {
        preset_param *q = &p->params[i];
        *q = g->params[i];
        q->name = strdup(g->params[i].name);
        q->help = strdup(g->params[i].help);
        p->nparams = i + 1;
        if (!q->name || !q->help)
            goto oom;
    }
    return 0;
oom:
    preset_free(p);
    return err_set("out of memory");
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const preset *)a)->name, ((const preset *)b)->name);
}

int preset_gen_add_all(preset_list *l)
{
    size_t add = 0;
    for (size_t i = 0; i < NGENS; i++)
        add += preset_list_find(l, gens[i].name) == NULL;
    if (!add)
        return 0;
    preset *items = realloc(l->items, (l->n + add) * sizeof *items);
    if (!items)
        return err_set("out of memory");
    l->items = items;
    size_t n = l->n;
    for (size_t i = 0; i < NGENS; i++) {
        if (preset_list_find(l, gens[i].name))
            continue;
        if (make_entry(&gens[i], &items[n])) {
            for (size_t j = l->n; j < n; j++)
                preset_free(&items[j]);
            return -1;
        }
        n++;
    }
    l->n = n;
    qsort(l->items, l->n, sizeof *l->items, cmp_name);
    return 0;
}

int preset_gen_run(const preset *p, const char *args, const table *t,
                   preset_gen_out *out)
{
    long long vals[PRESET_MAX_PARAMS];
    preset_gen_out_init(out);
    if (!p->gen)
        return err_set("preset '%s' is not a computed one", p->name);
    for (size_t i = 0; i < p->nparams && i < PRESET_MAX_PARAMS; i++)
        vals[i] = p->params[i].def;
    if (preset_parse_args(p, args, vals))
        return -1;
    if (p->gen->make(t, vals, out)) {
        err_prefix("preset '%s'", p->name);
        preset_gen_out_free(out);
        return -1;
    }
    return 0;
}
