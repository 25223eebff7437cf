// ts_activations.cpp: one measured forward + loss + backward
// (ts_activations.h; the method is ../shared/reference/activations.md's,
// verified against Python's saved_tensors_hooks in
// tests/parity/test_activations.py).
//
// Saved bytes: while the forward runs, the default autograd engine is
// replaced (torch::autograd::set_default_engine_stub) by a subclass whose
// get_default_saved_variable_hooks() hands every SavedVariable a packing
// hook; the hook records the tensor's storage and keeps the tensor, so
// the step's memory is what it would be without hooks. The stub is put
// back before backward, which runs on the base engine. These are
// internal APIs of libtorch (saved-variable hooks since 1.10): an older
// libtorch falls back to the allocation count below (live bytes after
// the forward less the loss), without per-module figures.
//
// Peak bytes: a c10::MemoryReportingInfoBase pushed as the thread's
// PROFILER_STATE sees every allocation and free of this thread (the CPU
// allocator reports them when memoryProfilingEnabled() is true); on CUDA
// the caching allocator's peak statistics give the figure instead.
#include "ts_activations.h"
#include "ts_impl.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>
#include <c10/core/Allocator.h>
#include <c10/util/ThreadLocalDebugInfo.h>
#include <torch/version.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_map>
#include <unordered_set>

#if TORCH_VERSION_MAJOR > 1 || TORCH_VERSION_MINOR >= 10
#define TS_SAVED_HOOKS 1
#include <torch/csrc/autograd/engine.h>
#include <torch/csrc/autograd/saved_variable_hooks.h>
#include <torch/csrc/jit/runtime/interpreter.h>
#else
#define TS_SAVED_HOOKS 0
#endif

#ifdef TS_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

struct ts_measure {
    ts_measure_result res{};
    std::vector<std::string> names;
    std::vector<uint64_t> bytes;
};

namespace {

// What the packing hooks record during one forward.
struct ts_saved_log {
    std::unordered_set<const void *> excluded; // parameters, buffers, batch
    std::unordered_set<const void *> seen;
    std::unordered_map<std::string, size_t> index; // module -> names[i]
    ts_measure *out = nullptr;
    unsigned depth = 0;
    bool per_module = false;

    void add(const at::Tensor &t);
};

ts_saved_log *ts_log_now; // set only while a forward runs under the stub
std::mutex ts_log_mutex;

// The dotted path of the module whose forward is running, from the
// interpreter's module hierarchy ("TOP(ResNet)::forward",
// "layer1(Sequential)::forward", "0(BasicBlock)::forward", ...): each
// instance name is one path component; TOP, SELF and calls of free
// functions add none. "(root)" inside the top module's own code, "(loss)"
// outside the interpreter.
std::string ts_running_module(unsigned depth)
{
#if TS_SAVED_HOOKS
    std::vector<std::string> h = torch::jit::currentModuleHierarchy();
    if (h.empty())
        return "(loss)";
    std::string path;
    unsigned n = 0;
    for (const std::string &e : h) {
        size_t paren = e.find('(');
        if (paren == std::string::npos || paren == 0)
            continue;
        std::string inst = e.substr(0, paren);
        if (inst == "TOP" || inst == "SELF" || inst == "CALL_FUNCTION" ||
            inst == "INSTANCE_NAME_UNKNOWN")
            continue;
        if (depth && n == depth)
            break;
        if (!path.empty())
            path += '.';
        path += inst;
        n++;
    }
    return path.empty() ? "(root)" : path;
#else
    (void)depth;
    return "(root)";
#endif
}

void ts_saved_log::add(const at::Tensor &t)
{
    out->res.saved_tensors++;
    if (!t.defined() || !t.has_storage())
        return;
    const c10::Storage &s = t.storage();
    const void *key = s.data();
    uint64_t nb = (uint64_t)s.nbytes();
    if (!key || nb == 0 || excluded.count(key) || !seen.insert(key).second)
        return;
    out->res.storages++;
    out->res.activation_bytes += nb;
    if (!per_module)
        return;
    std::string mod = ts_running_module(depth);
    auto it = index.find(mod);
    if (it == index.end()) {
        it = index.emplace(mod, out->names.size()).first;
        out->names.push_back(mod);
        out->bytes.push_back(0);
    }
    out->bytes[it->second] += nb;
}

#if TS_SAVED_HOOKS
using torch::autograd::Engine;
using torch::autograd::SavedVariableHooks;

// Records the tensor and hands it back unchanged at backward.
struct ts_pack_hook : SavedVariableHooks {
    at::Tensor t;
    void call_pack_hook(const at::Tensor &x) override
    {
        t = x.detach(); // detached: no cycle through an output's grad_fn
        std::lock_guard<std::mutex> g(ts_log_mutex);
        if (ts_log_now)
            ts_log_now->add(t);
    }
    at::Tensor call_unpack_hook() override { return t; }
};

struct ts_hook_engine : Engine {
    ts_hook_engine() : Engine() {}
    ~ts_hook_engine() override { stop(); }
    std::unique_ptr<SavedVariableHooks>
    get_default_saved_variable_hooks() override
    {
        return std::make_unique<ts_pack_hook>();
    }
};

Engine &ts_hook_engine_get()
{
    static ts_hook_engine e;
    return e;
}

Engine &ts_base_engine_get()
{
    return Engine::get_base_engine();
}

// Installs the hooking engine for its lifetime.
struct ts_hooks_on {
    explicit ts_hooks_on(ts_saved_log *log)
    {
        {
            std::lock_guard<std::mutex> g(ts_log_mutex);
            ts_log_now = log;
        }
        torch::autograd::set_default_engine_stub(ts_hook_engine_get);
    }
    ~ts_hooks_on()
    {
        torch::autograd::set_default_engine_stub(ts_base_engine_get);
        std::lock_guard<std::mutex> g(ts_log_mutex);
        ts_log_now = nullptr;
    }
};
#endif

// Live bytes and their high-water mark on one device type, from c10's
// allocation reports.
struct ts_mem_reporter : c10::MemoryReportingInfoBase {
    c10::DeviceType dev;
    int64_t live = 0, peak = 0;
    explicit ts_mem_reporter(c10::DeviceType d) : dev(d) {}
    void reportMemoryUsage(void *, int64_t size, int64_t, int64_t,
                           c10::Device d) override
    {
        if (d.type() != dev)
            return;
        live += size;
        peak = std::max(peak, live);
    }
    bool memoryProfilingEnabled() const override { return true; }
};

// Autocast to bfloat16 on CUDA for the guard's lifetime (as
// ts_train.cpp's ts_autocast).
struct ts_measure_autocast {
    bool on;
    explicit ts_measure_autocast(bool enable) : on(enable)
    {
        if (!on)
            return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
        at::autocast::set_autocast_enabled(at::kCUDA, true);
        at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
#else
        at::autocast::set_enabled(true);
        at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
#endif
        at::autocast::increment_nesting();
    }
    ~ts_measure_autocast()
    {
        if (!on)
            return;
        if (at::autocast::decrement_nesting() == 0)
            at::autocast::clear_cache();
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
        at::autocast::set_autocast_enabled(at::kCUDA, false);
#else
        at::autocast::set_enabled(false);
#endif
    }
};

// Zero targets for the output `o` of a batch without data
// (ts_activations.h), excluded from the saved bytes as the batch is.
at::Tensor ts_made_targets(const at::Tensor &o, const std::string &loss,
                           ts_saved_log *log)
{
    at::Tensor y;
    if (loss == "cross_entropy") {
        if (o.dim() < 2)
            throw std::runtime_error("cross_entropy needs an output of "
                                     "[batch, classes, ...], the model gave "
                                     "one of " + std::to_string(o.dim()) +
                                     " dimension(s)");
        std::vector<int64_t> s = o.sizes().vec();
        s.erase(s.begin() + 1);
        y = at::zeros(s, o.options().dtype(at::kLong));
    } else {
        y = at::zeros_like(o);
    }
    if (log && y.has_storage())
        log->excluded.insert(y.storage().data());
    return y;
}

// Forward and loss, as ts_train.cpp's ts_forward_loss; an undefined `y`
// is made from the output (ts_made_targets).
at::Tensor ts_measure_forward(ts_module *m, const at::Tensor &x,
                              at::Tensor y, const std::string &loss,
                              bool bf16, ts_saved_log *log)
{
    ts_measure_autocast ac(bf16);
    std::vector<torch::jit::IValue> in{x};
    if (loss == "model")
        in.push_back(y);
    torch::jit::IValue r = m->m.forward(in);
    at::Tensor o = r.isTuple() ? r.toTuple()->elements().at(0).toTensor()
                               : r.toTensor();
    if (loss == "model")
        return o;
    if (!y.defined())
        y = ts_made_targets(o, loss, log);
    if (loss == "cross_entropy")
        return at::cross_entropy_loss(o, y);
    if (loss == "mse")
        return at::mse_loss(o, y.to(o.scalar_type()));
    return at::binary_cross_entropy_with_logits(o, y.to(o.scalar_type()));
}

// The storages that are not activations.
void ts_exclusions(const ts_module *m, const at::Tensor &x,
                   const at::Tensor &y, std::unordered_set<const void *> *ex)
{
    for (const ts_entry &e : m->entries)
        if (e.t.defined() && e.t.has_storage())
            ex->insert(e.t.storage().data());
    for (const at::Tensor *t : {&x, &y})
        if (t->defined() && t->has_storage())
            ex->insert(t->storage().data());
}

// One step with the logs on; fills r.
void ts_measure_run(ts_module *m, const at::Tensor &x, const at::Tensor &y,
                    const std::string &loss, bool bf16, unsigned depth,
                    ts_measure *r)
{
    ts_saved_log log;
    log.out = r;
    log.depth = depth;
    log.per_module = TS_SAVED_HOOKS != 0;
    r->res.per_module = log.per_module ? 1 : 0;
    ts_exclusions(m, x, y, &log.excluded);
    bool cuda = m->dev.is_cuda();
#ifdef TS_CUDA
    int64_t cuda_before = 0;
    if (cuda) {
        c10::cuda::CUDACachingAllocator::resetPeakStats(0);
        cuda_before = c10::cuda::CUDACachingAllocator::getDeviceStats(0)
                          .allocated_bytes[0].current;
    }
#endif
    auto rep = std::make_shared<ts_mem_reporter>(m->dev.type());
    {
        c10::DebugInfoGuard dg(c10::DebugInfoKind::PROFILER_STATE, rep);
        at::Tensor l;
        {
#if TS_SAVED_HOOKS
            ts_hooks_on hooks(&log);
#endif
            l = ts_measure_forward(m, x, y, loss, bf16, &log);
        }
        if (l.numel() != 1)
            throw std::runtime_error("the loss is not a single number (" +
                                     std::to_string(l.numel()) +
                                     " elements)");
#if !TS_SAVED_HOOKS
        // live after the forward, less the loss itself
        int64_t fwd = rep->live - (int64_t)(l.numel() * l.element_size());
        r->res.activation_bytes = fwd > 0 ? (uint64_t)fwd : 0;
#endif
        r->res.loss = l.item<double>();
        if (l.requires_grad())
            l.backward();
        for (const ts_entry &e : m->entries)
            if (!e.is_buffer && e.t.grad().defined())
                e.t.mutable_grad().reset();
    }
    r->res.peak_bytes = rep->peak > 0 ? (uint64_t)rep->peak : 0;
#ifdef TS_CUDA
    if (cuda) {
        int64_t pk = c10::cuda::CUDACachingAllocator::getDeviceStats(0)
                         .allocated_bytes[0].peak;
        r->res.peak_bytes = pk > cuda_before ? (uint64_t)(pk - cuda_before)
                                             : 0;
    }
#else
    (void)cuda;
#endif
}

} // namespace

extern "C" {

int ts_measure_batch(unsigned ndim, const int64_t *shape, const char *dtype,
                     uint64_t seed, const char *device, ts_tensor **out)
{
    TS_PROTECT(
        *out = nullptr;
        at::ScalarType st = ts_dtype_parse(dtype);
        if (st != at::kFloat && st != at::kLong)
            return ts_fail("a made batch is F32 or I64");
        c10::Device dev = ts_device_parse(device);
        std::vector<int64_t> s(shape, shape + ndim);
        auto opt = at::TensorOptions().dtype(st).device(dev);
        std::unique_ptr<ts_tensor> t(new ts_tensor);
        if (st == at::kLong) {
            t->t = at::zeros(s, opt);
        } else {
            at::Generator g = at::make_generator<at::CPUGeneratorImpl>(seed);
            t->t = at::randn(s, g, opt.device(c10::kCPU)).to(dev);
        }
        *out = t.release();
        return 0;)
}

unsigned ts_tensor_shape(const ts_tensor *t, int64_t *dims, unsigned max)
{
    TS_GUARD(0u,
        if (!t || !t->t.defined())
            return 0u;
        unsigned n = (unsigned)t->t.dim();
        for (unsigned i = 0; i < n && i < max; i++)
            dims[i] = t->t.size((int64_t)i);
        return n;)
}

int ts_measure_step(ts_module *m, const ts_tensor *x, const ts_tensor *y,
                    const char *loss, int bf16, unsigned depth,
                    ts_measure **out)
{
    TS_PROTECT(
        *out = nullptr;
        std::string l = loss ? loss : "";
        if (l != "cross_entropy" && l != "mse" && l != "bce_with_logits" &&
            l != "model")
            return ts_fail(("unknown loss " + l).c_str());
        if (!y && l == "model")
            return ts_fail("loss 'model' passes the targets to the model: "
                           "give train.data, not only train.input_shape");
        std::unique_ptr<ts_measure> r(new ts_measure);
        ts_measure_run(m, x->t, y ? y->t : at::Tensor(), l, bf16 != 0, depth,
                       r.get());
        *out = r.release();
        return 0;)
}

void ts_measure_free(ts_measure *r)
{
    TS_GUARD_VOID(delete r;)
}

void ts_measure_totals(const ts_measure *r, ts_measure_result *out)
{
    TS_GUARD_VOID(*out = r->res;)
}

size_t ts_measure_module_count(const ts_measure *r)
{
    TS_GUARD(0, return r->names.size();)
}

int ts_measure_module(const ts_measure *r, size_t i, const char **name,
                      uint64_t *bytes)
{
    TS_PROTECT(
        if (i >= r->names.size())
            return ts_fail("module index out of range");
        *name = r->names[i].c_str();
        *bytes = r->bytes[i];
        return 0;)
}

} // extern "C"
