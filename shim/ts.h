/* ts.h: the C API over libtorch, the only door from C into C++.
 *
 * After tch-rs's torch_api, with its gaps closed (DESIGN.md, "The shim
 * boundary"):
 *   - handles are distinct incomplete types, never void *;
 *   - every entry point catches c10::Error, std::exception and ...;
 *     nothing throws, exits or prints across the boundary;
 *   - status is an int: 0 ok, -1 error; results come through
 *     out-parameters; ts_last_error() holds a thread-local message (one
 *     line, without libtorch's backtrace), replaced by the next error;
 *   - ownership is written on every function; every *_free(NULL) is a
 *     no-op.
 * Calls are coarse: a whole train step (forward, loss, backward, clip,
 * optimizer update) is one call.
 *
 * Dtypes cross the boundary as safetensors names ("F32", "BF16", "I64",
 * ...); devices as "cpu" or "cuda" (device 0).
 *
 * Builds against Debian's libtorch 1.13 (CPU) and the libtorch inside a
 * current pip PyTorch (docs/training.md lists the version-sensitive
 * spots).
 */
#ifndef TUI_SHIM_TS_H
#define TUI_SHIM_TS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ts_module ts_module;   /* a TorchScript module on a device */
typedef struct ts_tensor ts_tensor;   /* a data tensor (inputs, targets) */
typedef struct ts_trainer ts_trainer; /* optimizer state over a module */

#define TS_MAX_DIMS 64

/* --- errors and process-wide settings ---------------------------------- */

/* The last error of this thread, "" when none. Borrowed: valid until the
 * next failing call on this thread. Cannot fail. */
const char *ts_last_error(void);

/* "1.13.0": the libtorch this shim was built against (the measurement
 * report states it). Static storage. Cannot fail. */
const char *ts_version(void);

/* *out = 1 when CUDA is usable (a CUDA build and a GPU), else 0.
 * Returns 0, or -1 with the error set. */
int ts_cuda_available(int *out);

/* Sets / reads libtorch's intra-op thread count (n >= 1).
 * Returns 0, or -1 with the error set. */
int ts_set_threads(int n);
int ts_get_threads(int *n);

/* Seeds the default generators (CPU, and CUDA when present), like
 * torch.manual_seed. Returns 0, or -1. */
int ts_manual_seed(uint64_t seed);

/* The state of the default generator of `device` ("cpu" or "cuda"), as
 * bytes: ts_rng_get with buf NULL stores the size in *n; with buf, copies
 * min(*n, size) bytes. ts_rng_set restores a state of exactly that size.
 * Return 0, or -1 with the error set (unknown device, wrong size). */
int ts_rng_get(const char *device, void *buf, size_t *n);
int ts_rng_set(const char *device, const void *buf, size_t n);

/* CUDA peak allocated bytes since the last reset (0 on CPU builds).
 * Return 0, or -1 with the error set. */
int ts_cuda_peak_bytes(uint64_t *out);
int ts_cuda_reset_peak(void);

/* --- modules ---------------------------------------------------------- */

/* Loads a TorchScript archive onto `device` ("cpu" or "cuda"). The graph
 * executor runs unoptimized (the interpreter with eager autograd), so the
 * numbers equal eager PyTorch and torch.jit.load in Python with
 * torch._C._set_graph_executor_optimize(False). *out is a new module the
 * caller frees with ts_module_free. Returns 0, or -1 with the error set
 * (*out NULL). */
int ts_module_load(const char *path, const char *device, ts_module **out);

/* Frees a module. NULL-safe. */
void ts_module_free(ts_module *m);

/* Parameters then buffers, in the module's order (named_parameters, then
 * named_buffers). */
typedef struct {
    const char *name;        /* "layer1.0.bn1.weight"; borrowed */
    const char *dtype;       /* "F32"; static */
    unsigned ndim;
    const int64_t *shape;    /* ndim values; borrowed */
    uint64_t numel, nbytes;
    int is_buffer;
    int requires_grad;       /* as it is now */
    const char *owner;       /* owning module path ("" for the root); borrowed */
    const char *owner_type;  /* "__torch__.torch.nn.modules.batchnorm.BatchNorm2d";
                                borrowed */
} ts_tensor_info;

/* Number of tensors listed. Cannot fail (m not NULL; 0 if it did). */
size_t ts_module_count(const ts_module *m);

/* Fills *out for tensor i (< count). Borrowed strings stay valid until
 * ts_module_free. Returns 0, or -1 (i out of range). */
int ts_module_info(const ts_module *m, size_t i, ts_tensor_info *out);

/* Sets requires_grad of parameter i. Returns 0, or -1 (a buffer, or a
 * non-floating parameter asked to require grad). */
int ts_module_set_requires_grad(ts_module *m, size_t i, int on);

/* Copies host memory into tensor i: `data` holds a tensor of `dtype`,
 * `ndim` dims `shape` and element `strides` (NULL: contiguous), wrapped
 * without copying (torch::from_blob) and copied once into the module's
 * tensor on its device. The shape and dtype must equal tensor i's.
 * `data` is untouched. Returns 0, or -1 with the error set ("shape
 * [64,3,7,7] in the file, [64,3,3,3] in the module"). */
int ts_module_load_blob(ts_module *m, size_t i, const void *data,
                        const char *dtype, unsigned ndim,
                        const int64_t *shape, const int64_t *strides);

/* Copies tensor i's bytes (contiguous, row-major, on the host) into
 * `dst`, which holds exactly nbytes. Returns 0, or -1. */
int ts_module_read(const ts_module *m, size_t i, void *dst, size_t nbytes);

/* Overwrites tensor i with `nbytes` bytes at `src` (its own dtype and
 * shape, contiguous). Returns 0, or -1 (size mismatch). */
int ts_module_write(ts_module *m, size_t i, const void *src, size_t nbytes);

/* Training mode for the whole module (on = 1) or eval mode (on = 0),
 * then eval mode for each module path in `eval_paths` (n of them,
 * borrowed). Returns 0, or -1 (a path the module lacks). */
int ts_module_set_mode(ts_module *m, int on, const char *const *eval_paths,
                       size_t n);

/* The module as a TorchScript archive in memory (its current weights,
 * moved to the CPU in the archive so it loads anywhere), for the caller
 * to write (atomically). *data (len bytes) is borrowed: valid until the
 * next ts_module_archive or ts_module_free. Returns 0, or -1 with the
 * error set (*data NULL). */
int ts_module_archive(ts_module *m, const void **data, size_t *len);

/* --- data --------------------------------------------------------------- */

/* Wraps host memory as a tensor without copying when `data` is aligned to
 * the element size (else copies it once). The memory must outlive the
 * tensor (the caller keeps the mapping until ts_tensor_free). *out is
 * new, freed with ts_tensor_free. Returns 0, or -1 (unknown dtype...). */
int ts_tensor_from_blob(const void *data, const char *dtype, unsigned ndim,
                        const int64_t *shape, const int64_t *strides,
                        ts_tensor **out);

/* Frees a tensor. NULL-safe. */
void ts_tensor_free(ts_tensor *t);

/* The first dimension (samples; 0 for a scalar). Cannot fail (t not
 * NULL; -1 with the error set if it did). */
int64_t ts_tensor_rows(const ts_tensor *t);

/* torch.randperm(n, generator=g) with g = torch.Generator() seeded with
 * `seed`: the permutation Python reproduces exactly. *out (n int64
 * values) is new, freed with ts_tensor_free. Returns 0, or -1. */
int ts_randperm(int64_t n, uint64_t seed, ts_tensor **out);

/* Rows of `src`: src[perm[start:start+count]] when perm is not NULL, else
 * src[start:start+count], moved to `device`. *out is new (freed with
 * ts_tensor_free). Inputs untouched. Returns 0, or -1. */
int ts_tensor_rows_select(const ts_tensor *src, const ts_tensor *perm,
                          int64_t start, int64_t count, const char *device,
                          ts_tensor **out);

/* --- training ----------------------------------------------------------- */

typedef struct {
    const char *optimizer;   /* "sgd", "momentum", "adam", "adamw" */
    double lr, weight_decay, momentum, beta1, beta2, eps;
    double clip_grad_norm;   /* <= 0: no clipping */
    const char *loss;        /* "cross_entropy", "mse", "bce_with_logits",
                                "model" (forward(x, y) returns the loss) */
    int bf16;                /* autocast to bfloat16 (CUDA) */
} ts_train_config;

/* What one step measured. */
typedef struct {
    double loss;             /* the batch's mean loss */
    int finite;              /* 0: the loss or the gradient norm was NaN or
                                infinite, and no update was made */
    double grad_norm;        /* total 2-norm before clipping (NaN when not
                                clipping) */
    int64_t correct, count;  /* accuracy (correct = -1: no accuracy for
                                this loss) */
    double comm_seconds;     /* data-parallel (ts_dist.h): seconds in the
                                step's collectives (buffers, figures,
                                gradients); 0 in one process */
    double reduce_seconds;   /* of those, the gradients' reduction */
} ts_step_result;

/* An optimizer over the module's parameters that require grad now (set
 * them first). Weight decay applies to tensors of 2+ dims only (no decay
 * on biases and norm weights). State is created lazily like PyTorch's.
 * The module must outlive the trainer. *out is new, freed with
 * ts_trainer_free. `c` is copied. Returns 0, or -1. */
int ts_trainer_new(ts_module *m, const ts_train_config *c, ts_trainer **out);

/* Frees a trainer. NULL-safe. */
void ts_trainer_free(ts_trainer *t);

/* One step at learning rate `lr`: forward, loss, backward, clip,
 * update, gradients released. Returns 0 (with r->finite 0 when the loss
 * was not finite: nothing was updated), or -1 with the error set. */
int ts_trainer_step(ts_trainer *t, const ts_tensor *x, const ts_tensor *y,
                    double lr, ts_step_result *r);

/* Loss and accuracy of a batch, without gradients (the caller sets eval
 * mode). Returns 0, or -1. */
int ts_trainer_eval(ts_trainer *t, const ts_tensor *x, const ts_tensor *y,
                    ts_step_result *r);

/* Bytes held now: gradients as measured after the last backward in this
 * process (sum of grad.nbytes over trainable tensors; 0 before the first
 * step), and optimizer state (every state tensor's nbytes). Returns 0,
 * or -1 with the error set (outputs untouched). */
int ts_trainer_bytes(const ts_trainer *t, uint64_t *grads, uint64_t *state);

/* Trainable tensors and their elements. Returns 0, or -1 (outputs
 * untouched). */
int ts_trainer_trainable(const ts_trainer *t, uint64_t *tensors,
                         uint64_t *numel);

/* Optimizer steps taken (restored by ts_trainer_set_steps). Cannot fail
 * (t not NULL; -1 with the error set if it did). */
int64_t ts_trainer_steps(const ts_trainer *t);
void ts_trainer_set_steps(ts_trainer *t, int64_t steps);

/* Puts the module's parameter i (its index in ts_module_info's list) in
 * the optimizer, adding it when absent (with empty state and its own
 * step count at 0, as torch.optim's add_param_group; it must require
 * grad), and sets its learning rate to group_lr[group] x scale (group 0
 * is the lr ts_trainer_step is given; others ts_trainer_group_lr sets)
 * and whether weight decay applies (only ever to 2+ dims). Returns 0, or
 * -1 (a buffer, i out of range, a scale that is not > 0). */
int ts_trainer_param(ts_trainer *t, size_t i, int group, double scale,
                     int decay);

/* Sets the update count of the module's parameter i in the optimizer
 * (Adam's bias correction; a restore after ts_trainer_set_steps, for a
 * tensor that joined later). Returns 0, or -1 (not in the optimizer). */
int ts_trainer_param_steps(ts_trainer *t, size_t i, int64_t steps);

/* The learning rate of group `group` (>= 1, made by ts_trainer_param)
 * for the next steps. Returns 0, or -1 (no such group). */
int ts_trainer_group_lr(ts_trainer *t, int group, double lr);

/* The optimizer state as named tensors, for checkpoints:
 * "<param>.exp_avg", "<param>.exp_avg_sq", "<param>.momentum_buffer".
 * Only state that exists now is listed: ts_trainer_state_count stores
 * how many tensors in *out. info's strings are borrowed until the next
 * step or free. Return 0, or -1. ts_trainer_state_write creates
 * the tensor when absent (a checkpoint being restored before any step),
 * by name. */
int ts_trainer_state_count(const ts_trainer *t, size_t *out);
int ts_trainer_state_info(const ts_trainer *t, size_t i, ts_tensor_info *out);
int ts_trainer_state_read(const ts_trainer *t, size_t i, void *dst,
                          size_t nbytes);
int ts_trainer_state_write(ts_trainer *t, const char *name, const void *src,
                           size_t nbytes);

#ifdef __cplusplus
}
#endif

#endif
