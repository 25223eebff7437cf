// ts_impl.hpp: what the shim's .cpp files share (never included from C).
#ifndef TUI_SHIM_TS_IMPL_HPP
#define TUI_SHIM_TS_IMPL_HPP

#include <torch/script.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "ts.h"

// One listed tensor of a module.
struct ts_entry {
    std::string name, owner, owner_type;
    at::Tensor t;        // aliases the module's own tensor
    std::vector<int64_t> shape;
    bool is_buffer;
};

struct ts_module {
    torch::jit::Module m;
    c10::Device dev{c10::kCPU};
    std::vector<ts_entry> entries;
    std::string archive; // the last ts_module_archive
};

struct ts_tensor {
    at::Tensor t;
};

// Stores the message of the exception being handled (first line only,
// without the backtrace). Returns -1.
int ts_fail(const char *msg);
int ts_fail_current();

// Every extern "C" entry point's whole body runs inside one of these
// (tests/cli/shim_guard.sh checks it): an exception stores its message
// (ts_last_error) and the function returns -1 (TS_PROTECT), `fallback`
// (TS_GUARD: for results that are not a status), or nothing
// (TS_GUARD_VOID).
#define TS_GUARD(fallback, ...)                                           \
    try {                                                                 \
        __VA_ARGS__                                                       \
    } catch (...) {                                                       \
        ts_fail_current();                                                \
        return fallback;                                                  \
    }
#define TS_PROTECT(...) TS_GUARD(-1, __VA_ARGS__)
#define TS_GUARD_VOID(...)                                                \
    try {                                                                 \
        __VA_ARGS__                                                       \
    } catch (...) {                                                       \
        ts_fail_current();                                                \
    }

// ts_dist.cpp, for the trainer's data-parallel step (ts_dist.h); each
// throws on a failed collective.
struct ts_dist;
// Copies rank 0's buffers of m into every rank's.
void ts_dist_sync_buffers(ts_dist *d, ts_module *m);
// Copies rank 0's parameters and buffers of m into every rank's (DDP's
// _sync_module_states when it wraps a module).
void ts_dist_sync_module(ts_dist *d, ts_module *m);
// Sums n doubles over the ranks, in place.
void ts_dist_reduce_stats(ts_dist *d, double *v, int n);
// Makes `params` (the parameters requiring grad, in module order, as
// DDP's _build_params_for_reducer lists them) the ones reduced from the
// next step on, as a new DDP's Reducer would, and records the order in
// which their gradients become ready in the next backward. `initial`:
// the next step is the wrapper's first (DDP's first-iteration layout,
// one bucket per dtype in parameter order; the ready order makes the
// layout of the steps after it); otherwise the next step already
// reduces in the layout rebuilt from its own ready order (a resumed
// run, as the uninterrupted one).
void ts_dist_watch(ts_dist *d, const std::vector<at::Tensor> &params,
                   bool initial);
// Averages the defined gradients of the watched parameters over the
// ranks (x 1/W, then a bucketed SUM allreduce, in DDP's layout).
void ts_dist_reduce_grads(ts_dist *d);
int ts_dist_world(const ts_dist *d);

// "F32" -> at::kFloat; throws on an unknown name.
at::ScalarType ts_dtype_parse(const char *name);
// at::kFloat -> "F32" ("?" when it has no safetensors name).
const char *ts_dtype_name(at::ScalarType s);
// "cpu" / "cuda" -> a device; throws on anything else.
c10::Device ts_device_parse(const char *name);

#endif
