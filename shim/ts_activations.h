/* ts_activations.h: activation memory of one training step, measured
 * (issue #13; docs/memory.md, "Measured activations").
 *
 * Part of the shim's C API (ts.h's rules: opaque handles, every entry
 * point catches, status 0 / -1 with ts_last_error()).
 *
 * One coarse call runs forward, loss and backward of a module as it is
 * now (its requires_grad flags and train / eval modes set by the caller:
 * the plan's frozen set and BatchNorm policy), with no optimizer step,
 * and measures:
 *   - activation bytes: what autograd saved for backward, unique
 *     storages, without the module's parameters and buffers and the
 *     batch (inputs and targets). Every saved tensor passes through a
 *     saved-variable packing hook (libtorch 1.10+, the engine's default
 *     hooks; the same tensors Python's
 *     torch.autograd.graph.saved_tensors_hooks sees);
 *   - peak bytes: the high-water mark of live allocations during the
 *     step, above what was live before it (CPU: c10's allocation
 *     reporting; CUDA: the caching allocator's peak statistics), the
 *     gradients included;
 *   - per module: the activation bytes first saved while each submodule's
 *     forward ran, keyed by its dotted path ("layer1.0"), cut to a depth.
 */
#ifndef TUI_SHIM_TS_ACTIVATIONS_H
#define TUI_SHIM_TS_ACTIVATIONS_H

#include "ts.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ts_measure ts_measure; /* one measured step */

typedef struct {
    uint64_t activation_bytes; /* saved for backward (see above) */
    uint64_t peak_bytes;       /* high-water above the bytes live before */
    uint64_t saved_tensors;    /* tensors packed (before de-duplication) */
    uint64_t storages;         /* distinct storages counted */
    double loss;               /* the batch's loss */
    int per_module;            /* 1: the per-module figures exist (this
                                  libtorch names the running module) */
} ts_measure_result;

/* Makes a batch of inputs for a plan without data (train.input_shape):
 * shape [ndim dims], dtype "F32" (standard normal values from a
 * generator seeded with `seed`) or "I64" (all 0, a valid index for any
 * embedding), on `device` ("cpu", "cuda"). *out is new, freed with
 * ts_tensor_free. Returns 0, or -1 with the error set (*out NULL): an
 * unknown dtype or device, out of memory. */
int ts_measure_batch(unsigned ndim, const int64_t *shape, const char *dtype,
                     uint64_t seed, const char *device, ts_tensor **out);

/* The shape of `t`: its ndim (at most `max` dims written to dims[]).
 * Cannot fail (0 for an empty handle). */
unsigned ts_tensor_shape(const ts_tensor *t, int64_t *dims, unsigned max);

/* Runs forward, loss and backward of `m` on inputs `x` and targets `y`
 * with loss `loss` ("cross_entropy", "mse", "bce_with_logits", "model";
 * as ts_train_config.loss), autocast to bfloat16 on CUDA when bf16 is 1.
 * `y` may be NULL (a batch made by ts_measure_batch): the targets are
 * then made from the output, after the forward, as zeros: class 0 of
 * each row for cross_entropy (the output's shape without dim 1), the
 * output's shape for mse and bce_with_logits; loss "model" needs `y`.
 * Nothing is updated; the gradients made are released before returning.
 * `depth` cuts module paths to that many components (0: whole paths).
 * *out is new, freed with ts_measure_free. Returns 0, or -1 with the
 * error set (*out NULL): a batch the module rejects, out of memory, an
 * unknown loss, a loss of more than one element. With every parameter
 * frozen nothing is saved and no backward runs (0 activation bytes). */
int ts_measure_step(ts_module *m, const ts_tensor *x, const ts_tensor *y,
                    const char *loss, int bf16, unsigned depth,
                    ts_measure **out);

/* Frees a measurement. NULL-safe. */
void ts_measure_free(ts_measure *r);

/* The totals. Cannot fail. */
void ts_measure_totals(const ts_measure *r, ts_measure_result *out);

/* Modules with saved bytes, in the order their first bytes were saved
 * (the forward order). Names are "(root)" for the top module's own
 * operations and "(loss)" for the loss; borrowed until ts_measure_free.
 * ts_measure_module returns 0, or -1 (i out of range). */
size_t ts_measure_module_count(const ts_measure *r);
int ts_measure_module(const ts_measure *r, size_t i, const char **name,
                      uint64_t *bytes);

#ifdef __cplusplus
}
#endif

#endif
