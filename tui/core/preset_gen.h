/* preset_gen.h: presets computed from the model rather than written as
 * patterns (docs/presets.md, "Computed presets"): the staged recipes
 * (gradual-unfreeze, fine-tune, layer-decay: preset_staged.c) and the
 * data-driven spectrum (preset_spectrum.c). Each is listed with the file
 * presets (preset_list_load adds them, a file preset of the same name
 * wins), takes `k=v` integer parameters like them, and gives stage 0's
 * rules like a file preset's expansion; a staged one also gives the
 * stages and the layer decay the plan takes. */
#ifndef TUI_CORE_PRESET_GEN_H
#define TUI_CORE_PRESET_GEN_H

#include <stddef.h>

#include "plan.h"
#include "preset.h"
#include "table.h"

#define PRESET_GEN_SUMMARY 600

typedef struct {
    preset_expansion rules;  /* stage 0's rules, in order */
    plan stages;             /* the stages and layer_decay (plan_init'ed;
                                owned) */
    int set_stages;          /* 1: the plan's stages become stages.stages
                                (none: the plan has no stages) */
    int set_decay;           /* 1: its layer_decay becomes stages.layer_decay */
    char summary[PRESET_GEN_SUMMARY]; /* one line: what it makes */
} preset_gen_out;

typedef struct preset_gen {
    const char *name;
    const char *description;
    preset_param params[PRESET_MAX_PARAMS];
    size_t nparams;
    /* Fills *out (preset_gen_out_init'ed) for table t with the parameter
     * values vals (nparams, within their bounds). Returns 0, or -1 with
     * err set (the model does not fit: "no layer groups found"). */
    int (*make)(const table *t, const long long *vals, preset_gen_out *out);
} preset_gen;

/* The computed presets, *n of them, in name order. Cannot fail. */
const preset_gen *preset_gens(size_t *n);

/* Adds to l a preset for every computed one whose name no preset in l
 * has (p->gen set; its params copied), keeping l sorted. Returns 0, or
 * -1 with err set (out of memory; l then unchanged). */
int preset_gen_add_all(preset_list *l);

/* Runs p's computed preset (p->gen) on t with args ("k=v,k=v"; "" or
 * NULL the defaults), checked as preset_expand checks them. Fills *out
 * (free with preset_gen_out_free). Returns 0, or -1 with err set ("preset
 * 'x': ..."), *out then empty. */
int preset_gen_run(const preset *p, const char *args, const table *t,
                   preset_gen_out *out);

void preset_gen_out_init(preset_gen_out *o);

/* Frees what o holds. NULL-safe, idempotent. */
void preset_gen_out_free(preset_gen_out *o);

/* Appends a rule (pattern copied) to an expansion. Returns 0, or -1 with
 * err set (out of memory, more than PRESET_MAX_RULES... rules are not
 * bounded here: a generator bounds its own). */
int preset_gen_add_rule(preset_expansion *e, preset_op op, const char *pat);

#endif
