/* preset_spectrum.h: the `spectrum` computed preset (preset_gen.h):
 * Spectrum's selection (cognitivecomputations/spectrum, spectrum.py) from
 * the scores `tui --rank snr` cached (score_cache.h).
 *
 * Spectrum's rules, as its generate_unfrozen_params_yaml applies them:
 * - a weight's type is its module's name after the first all-digit
 *   segment (`model.layers.7.mlp.up_proj` -> `mlp.up_proj`), the whole
 *   name when there is none;
 * - within each type the weights are sorted by score, highest first
 *   (Python's stable sort: ties keep module order; here natural name
 *   order, the same where a type's names differ in the layer number
 *   alone; Inf first, NaN last), and the first int(n * top / 100) kept;
 * - `lm_head.weight` and `model.embed_tokens.weight` always train.
 * A kept weight trains with its module (its bias too), as Axolotl reads
 * Spectrum's list: a module name matching every parameter under it.
 * Docs: docs/inspect.md, "The spectrum preset".
 */
#ifndef TUI_CORE_PRESET_SPECTRUM_H
#define TUI_CORE_PRESET_SPECTRUM_H

#include <stddef.h>

#include "bitset.h"
#include "preset_gen.h"
#include "score_cache.h"
#include "table.h"

/* The weight type of a name (len bytes): what follows its first
 * all-digit segment, when that is not the last segment ("model.layers.3.
 * mlp.up_proj.weight" -> "mlp.up_proj.weight"); the whole name when
 * there is none. Points into name; *tlen its length. Cannot fail. */
const char *spectrum_weight_type(const char *name, size_t len, size_t *tlen);

/* Ranks every tensor of t in `which` within its weight type by key[i]
 * (t->count entries): rank[i] = 1 for the highest, Inf first, NaN last,
 * ties in natural name order; of[i] = the members of its type. Entries
 * of tensors outside `which` are left alone. Returns 0, or -1 with err
 * set (out of memory). */
int spectrum_rank(const table *t, const bitset *which, const double *key,
                  size_t *rank, size_t *of);

/* Spectrum's selection from the scores in c (for t): of the scored
 * weights (parameters named `weight` or `*.weight`), the top `top`
 * percent (1..100) of each type by score (by snr when by_snr), as rules
 * into out (preset_gen_out_init'ed): freeze `**`, unfreeze each kept
 * weight's module, then lm_head.weight and model.embed_tokens.weight
 * when t has them; out->summary says what it kept. c and t are
 * untouched. Returns 0, or -1 with err set (no scored weight, out of
 * memory). */
int preset_spectrum_select(const table *t, const score_cache *c,
                           long long top, int by_snr, preset_gen_out *out);

/* The generator (preset_gen.h): vals = top (percent), scale_invariant
 * (0/1: rank by snr). Reads t's score cache. Returns 0, or -1 with err
 * set ("no spectral scores for this checkpoint: tui --rank snr CKPT
 * computes and caches them", an unusable cache, as
 * preset_spectrum_select). */
int preset_spectrum_make(const table *t, const long long *vals,
                         preset_gen_out *out);

#endif
