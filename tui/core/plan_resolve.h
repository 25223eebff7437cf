/* plan_resolve.h: what a plan means on a checkpoint, decided once.
 *
 * Every mode (the editor, --summary, --list, --tree, the exports, the
 * headless trainer) turns a plan into a frozen set through
 * plan_resolve(), so one plan has one meaning everywhere
 * (docs/plan-format.md, "What a plan means"):
 *
 *   1. `frozen:` is the state when the fingerprint matches the
 *      checkpoint, or when the plan has no fingerprint and no rules (a
 *      hand-written list). Every name must be a tensor of the
 *      checkpoint (buffers are accepted and stay unfrozen).
 *   2. Otherwise `rules:` is resolved on the checkpoint, in order, from
 *      the initial state (everything trainable; a TorchScript archive's
 *      saved requires_grad flags). A rule that matches nothing is an
 *      error unless allow_empty. A `frozen:` list beside the rules is
 *      compared and the differences reported: the rules win.
 *   3. Otherwise (a frozen list only, and a fingerprint that differs)
 *      the list is applied; names the checkpoint lacks are an error.
 *
 * A tie group (table_link_ties) is one parameter: naming any of its
 * names, in a rule or in the list, applies to all of them.
 */
#ifndef TUI_CORE_PLAN_RESOLVE_H
#define TUI_CORE_PLAN_RESOLVE_H

#include <stddef.h>
#include <stdio.h>

#include "bitset.h"
#include "plan.h"
#include "table.h"

typedef enum {
    PLAN_FP_ABSENT = 0, /* no fingerprint: a hand-written plan */
    PLAN_FP_MATCH,      /* made for this checkpoint */
    PLAN_FP_STALE,      /* made for another checkpoint (or this one changed) */
} plan_fp_state;

typedef enum {
    PLAN_FROM_LIST = 0, /* the frozen: list */
    PLAN_FROM_RULES,    /* the rules, resolved on this checkpoint */
} plan_source;

typedef struct {
    plan_fp_state fingerprint;
    plan_source source;
    size_t empty_rules;  /* rules that matched nothing (allowed) */
    size_t missing;      /* listed names the checkpoint lacks (rules won) */
    size_t changed;      /* parameters on which list and rules disagree */
    char checkpoint_fp[72]; /* the checkpoint's fingerprint */
} plan_resolution;

/* The state rules start from: nothing frozen, except in a TorchScript
 * archive, whose parameters saved with requires_grad=False start frozen.
 * `out` must hold t->count bits; it is overwritten. Cannot fail. */
void plan_initial_state(const table *t, bitset *out);

/* Applies one rule to `target` (t->count bits): freeze sets and unfreeze
 * clears the bits of the model tensors (parameters and buffers) the
 * pattern matches, and of every name tied to a matched parameter;
 * invert flips every parameter. *matched gets the model tensors the
 * pattern matched, *numel the elements of the parameters among them (a
 * tie group once). `hits` (t->count bits, may be NULL) gets the bits of
 * those tensors set (added to what it holds), so that several rules can
 * count a tensor once. Returns 0, or -1 with err set (a pattern that does
 * not compile: "pattern 'x': <the problem>" and plan_hint's hint, out of
 * memory); `target` is then partly changed. */
int plan_apply_rule(const table *t, plan_rule_kind kind, const char *src,
                    bitset *target, size_t *matched,
                    unsigned long long *numel, bitset *hits);

/* What to try instead of pattern `src`, which does not compile or matches
 * no tensor of t, as text to append to the message ("; ..."), or "" when
 * there is nothing to say. The one source of these hints for every face
 * (--freeze/--unfreeze, plans, presets, the editor's prompts):
 *   "layer1.0."    "; drop the trailing dot: a pattern that names a module
 *                  means its subtree (layer1.0)"
 *   ".embeddings"  "; drop the leading dot: ... (**.embeddings at any
 *                  depth)"
 *   "*LayerNorm*"  "; * matches within one segment; use **.LayerNorm.**
 *                  for every LayerNorm"
 *   "LayerNorm"    "; a pattern matches a name from its start; use
 *                  **.LayerNorm for every LayerNorm"
 *   "layr1.**"     "; closest name: layer1" (up to 3 module or tensor
 *                  names, close by suggest.h's edit distance to the first
 *                  segment that matches nothing, below the modules that
 *                  the segments before it match; one per segment name)
 * A regex gets no hint. Writes into buf (cap bytes, truncated) and
 * returns buf. Cannot fail; t and src are untouched. */
const char *plan_hint(const table *t, const char *src, char *buf,
                      size_t cap);

/* The closest names of t to `name`, a tensor name it lacks (a plan's
 * frozen: list), as plan_hint's "; closest names: ..." part alone, or "".
 * Returns buf. Cannot fail; t and name are untouched. */
const char *plan_hint_name(const table *t, const char *name, char *buf,
                           size_t cap);

/* Resolves plan `p` (read from `plan_path`) onto the table of
 * `checkpoint` by the rules above, into `out` (t->count bits, overwritten:
 * bit i set = parameter i frozen; buffers and non-model tensors are never
 * set). Notes that a user should see (a fingerprint that differs, rules
 * that match nothing, a list that disagrees with the rules, counts that
 * differ from the checkpoint's) go to `report`, one line each, when it is
 * not NULL. *res (may be NULL) says what was used. Returns 0, or -1 with
 * err set to one line naming the plan ("plan.yaml:7:3: rule 'x' matches
 * nothing in m.pt (--allow-empty applies the plan anyway)", "plan.yaml:
 * frozen name 'x' is not a tensor of m.pt"); `out` is then undefined.
 * Inputs are untouched. */
int plan_resolve(const table *t, const plan *p, const char *plan_path,
                 const char *checkpoint, int allow_empty, bitset *out,
                 plan_resolution *res, FILE *report);

#endif
