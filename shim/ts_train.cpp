// ts_train.cpp: the optimizer and whole train / eval steps.
//
// The optimizers are written out here, op for op as torch.optim's
// single-tensor paths in PyTorch 1.13 (sgd.py _single_tensor_sgd,
// adam.py / adamw.py _single_tensor_adam[w]), and so is
// clip_grad_norm_: the same kernels in the same order give the same
// bits as the Python loop, and the state is plain named tensors that a
// checkpoint can save and restore.
#include "ts_impl.hpp"
#include "ts_dist.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>

enum ts_opt { TS_SGD, TS_MOMENTUM, TS_ADAM, TS_ADAMW };
enum ts_loss { TS_CE, TS_MSE, TS_BCE, TS_MODEL };

struct ts_param {
    std::string name;
    at::Tensor p;
    bool decay = false;  // weight decay applies (2+ dims, unless no_decay)
    at::Tensor s1, s2;   // exp_avg / momentum_buffer, exp_avg_sq
    size_t entry = 0;    // index in the module's entries
    int group = 0;       // its learning rate: group_lr[group] * scale
    double scale = 1.0;
    int64_t step = 0;    // updates it took (Adam's bias correction: a
                         // tensor added at a stage starts at 0)
};

struct ts_trainer {
    ts_module *m;
    ts_train_config c;
    std::string opt_name, loss_name;
    ts_opt opt;
    ts_loss loss;
    std::vector<ts_param> params;
    int64_t steps = 0;
    uint64_t grad_bytes = 0;
    std::vector<double> group_lr{0.0}; // [0]: the step's lr argument
    ts_dist *dist = nullptr;         // data-parallel group, or none
    // ts_trainer_state_info's names and shapes, rebuilt on each listing
    mutable std::vector<std::string> st_names;
    mutable std::vector<std::vector<int64_t>> st_shapes;
};

// The state tensors present now: (param index, slot 1 or 2).
static std::vector<std::pair<size_t, int>> ts_state_list(const ts_trainer *t)
{
    std::vector<std::pair<size_t, int>> r;
    for (size_t i = 0; i < t->params.size(); i++) {
        if (t->params[i].s1.defined())
            r.emplace_back(i, 1);
        if (t->params[i].s2.defined())
            r.emplace_back(i, 2);
    }
    return r;
}

static const char *ts_slot_name(const ts_trainer *t, int slot)
{
    if (t->opt == TS_MOMENTUM)
        return "momentum_buffer";
    return slot == 1 ? "exp_avg" : "exp_avg_sq";
}

// Autocast to bfloat16 on CUDA, undone on scope exit (as torch.autocast).
struct ts_autocast {
    bool on;
    explicit ts_autocast(bool enable) : on(enable)
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
    ~ts_autocast()
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

// Forward and loss; *out gets the model output (undefined for TS_MODEL).
static at::Tensor ts_forward_loss(ts_trainer *t, const at::Tensor &x,
                                  const at::Tensor &y, at::Tensor *out)
{
    ts_autocast ac(t->c.bf16 != 0);
    std::vector<torch::jit::IValue> in{x};
    if (t->loss == TS_MODEL)
        in.push_back(y);
    torch::jit::IValue r = t->m->m.forward(in);
    at::Tensor o;
    if (r.isTuple())
        o = r.toTuple()->elements().at(0).toTensor();
    else
        o = r.toTensor();
    switch (t->loss) {
    case TS_CE:
        *out = o;
        return at::cross_entropy_loss(o, y);
    case TS_MSE:
        *out = o;
        return at::mse_loss(o, y.to(o.scalar_type()));
    case TS_BCE:
        *out = o;
        return at::binary_cross_entropy_with_logits(o, y.to(o.scalar_type()));
    case TS_MODEL:
        break;
    }
    return o;
}

static void ts_accuracy(const ts_trainer *t, const at::Tensor &o,
                        const at::Tensor &y, ts_step_result *r)
{
    torch::NoGradGuard ng;
    if (t->loss == TS_CE) {
        r->correct = o.argmax(1).eq(y).sum().item<int64_t>();
        r->count = y.numel();
    } else if (t->loss == TS_BCE) {
        r->correct = o.gt(0).eq(y.gt(0.5)).sum().item<int64_t>();
        r->count = y.numel();
    } else {
        r->correct = -1;
        r->count = y.dim() ? y.size(0) : 1;
    }
}

// torch.nn.utils.clip_grad_norm_ (1.13), op for op. Returns the norm.
static double ts_clip(ts_trainer *t)
{
    std::vector<at::Tensor> norms;
    for (auto &q : t->params) {
        const at::Tensor &g = q.p.grad();
        if (!g.defined())
            continue;
        std::vector<int64_t> dims(g.dim());
        for (int64_t i = 0; i < g.dim(); i++)
            dims[i] = i;
        norms.push_back(at::norm(g.detach(), 2.0, dims, false));
    }
    if (norms.empty())
        return 0.0;
    at::Tensor total = at::norm(at::stack(norms), 2.0, {0}, false);
    double tn = total.item<double>();
    if (!std::isfinite(tn))
        return tn;
    at::Tensor coef = (total + 1e-6).reciprocal() * t->c.clip_grad_norm;
    at::Tensor cc = at::clamp_max(coef, 1.0);
    for (auto &q : t->params) {
        at::Tensor g = q.p.grad();
        if (g.defined())
            g.detach().mul_(cc);
    }
    return tn;
}

static void ts_update(ts_trainer *t, double lr)
{
    torch::NoGradGuard ng;
    const ts_train_config &c = t->c;
    t->steps++;
    t->group_lr[0] = lr;
    for (auto &q : t->params) {
        at::Tensor g = q.p.grad();
        if (!g.defined())
            continue;
        double step = (double)++q.step;
        double lr = t->group_lr[(size_t)q.group < t->group_lr.size()
                                    ? (size_t)q.group : 0] * q.scale;
        double wd = q.decay ? c.weight_decay : 0.0;
        at::Tensor &p = q.p;
        if (t->opt == TS_SGD || t->opt == TS_MOMENTUM) {
            at::Tensor d = g;
            if (wd != 0)
                d = d.add(p, wd);
            if (t->opt == TS_MOMENTUM && c.momentum != 0) {
                if (!q.s1.defined())
                    q.s1 = torch::clone(d).detach();
                else
                    q.s1.mul_(c.momentum).add_(d, 1.0);
                d = q.s1;
            }
            p.add_(d, -lr);
            continue;
        }
        if (!q.s1.defined()) {
            q.s1 = torch::zeros_like(p, at::MemoryFormat::Preserve);
            q.s2 = torch::zeros_like(p, at::MemoryFormat::Preserve);
        }
        if (t->opt == TS_ADAMW)
            p.mul_(1 - lr * wd);
        else if (wd != 0)
            g = g.add(p, wd);
        q.s1.mul_(c.beta1).add_(g, 1 - c.beta1);
        q.s2.mul_(c.beta2).addcmul_(g, g, 1 - c.beta2);
        double bc1 = 1 - std::pow(c.beta1, step);
        double bc2 = 1 - std::pow(c.beta2, step);
        double step_size = lr / bc1;
        double bc2_sqrt = std::sqrt(bc2);
        at::Tensor denom = (q.s2.sqrt() / bc2_sqrt).add_(c.eps);
        p.addcdiv_(q.s1, denom, -step_size);
    }
}

// The parameters a DistributedDataParallel built now would reduce: those
// of the optimizer that require grad, in module order (its
// _build_params_for_reducer), handed to the group as a new wrapper's.
static void ts_trainer_watch(ts_trainer *t, bool initial)
{
    std::vector<const ts_param *> l;
    for (const auto &q : t->params)
        if (q.p.requires_grad())
            l.push_back(&q);
    std::sort(l.begin(), l.end(), [](const ts_param *a, const ts_param *b) {
        return a->entry < b->entry;
    });
    std::vector<at::Tensor> ps;
    for (const ts_param *q : l)
        ps.push_back(q->p);
    ts_dist_watch(t->dist, ps, initial);
}

extern "C" {

int ts_trainer_new(ts_module *m, const ts_train_config *c, ts_trainer **out)
{
    TS_PROTECT(
        *out = nullptr;
        std::unique_ptr<ts_trainer> t(new ts_trainer);
        t->m = m;
        t->c = *c;
        t->opt_name = c->optimizer ? c->optimizer : "";
        t->loss_name = c->loss ? c->loss : "";
        t->c.optimizer = t->opt_name.c_str();
        t->c.loss = t->loss_name.c_str();
        const std::string &o = t->opt_name, &l = t->loss_name;
        if (o == "sgd") t->opt = TS_SGD;
        else if (o == "momentum") t->opt = TS_MOMENTUM;
        else if (o == "adam") t->opt = TS_ADAM;
        else if (o == "adamw") t->opt = TS_ADAMW;
        else
            return ts_fail(("unknown optimizer " + o).c_str());
        if (l == "cross_entropy") t->loss = TS_CE;
        else if (l == "mse") t->loss = TS_MSE;
        else if (l == "bce_with_logits") t->loss = TS_BCE;
        else if (l == "model") t->loss = TS_MODEL;
        else
            return ts_fail(("unknown loss " + l).c_str());
        for (size_t i = 0; i < m->entries.size(); i++) {
            const auto &e = m->entries[i];
            if (e.is_buffer || !e.t.requires_grad())
                continue;
            ts_param q;
            q.name = e.name;
            q.p = e.t;
            q.decay = e.t.dim() >= 2;
            q.entry = i;
            t->params.push_back(std::move(q));
        }
        *out = t.release();
        return 0;)
}

void ts_trainer_free(ts_trainer *t)
{
    TS_GUARD_VOID(delete t;)
}

int ts_trainer_step(ts_trainer *t, const ts_tensor *x, const ts_tensor *y,
                    double lr, ts_step_result *r)
{
    TS_PROTECT(
        r->finite = 1;
        r->grad_norm = NAN;
        r->correct = -1;
        r->count = 0;
        at::Tensor o;
        r->comm_seconds = r->reduce_seconds = 0;
        using clk = std::chrono::steady_clock;
        auto since = [](clk::time_point a) {
            return std::chrono::duration<double>(clk::now() - a).count();
        };
        clk::time_point c0 = clk::now();
        if (t->dist) {
            ts_dist_sync_buffers(t->dist, t->m);
            r->comm_seconds += since(c0);
        }
        at::Tensor loss = ts_forward_loss(t, x->t, y->t, &o);
        r->loss = loss.item<double>();
        if (o.defined())
            ts_accuracy(t, o, y->t, r);
        if (t->dist) {
            // the same figures, and the same finite verdict, on every rank
            double v[3] = {r->loss, (double)r->correct, (double)r->count};
            c0 = clk::now();
            ts_dist_reduce_stats(t->dist, v, r->correct >= 0 ? 3 : 1);
            r->comm_seconds += since(c0);
            r->loss = v[0] / (double)ts_dist_world(t->dist);
            if (r->correct >= 0) {
                r->correct = (int64_t)v[1];
                r->count = (int64_t)v[2];
            }
        }
        if (!std::isfinite(r->loss)) {
            r->finite = 0;
            return 0;
        }
        loss.backward();
        if (t->dist) {
            c0 = clk::now();
            ts_dist_reduce_grads(t->dist);
            r->reduce_seconds = since(c0);
            r->comm_seconds += r->reduce_seconds;
        }
        uint64_t gb = 0;
        for (auto &q : t->params) {
            const at::Tensor &g = q.p.grad();
            if (g.defined())
                gb += (uint64_t)g.numel() * g.element_size();
        }
        t->grad_bytes = gb;
        if (t->c.clip_grad_norm > 0) {
            r->grad_norm = ts_clip(t);
            if (!std::isfinite(r->grad_norm)) {
                for (auto &q : t->params)
                    q.p.mutable_grad().reset();
                r->finite = 0;
                return 0;
            }
        }
        ts_update(t, lr);
        for (auto &q : t->params)
            q.p.mutable_grad().reset();
        return 0;)
}

int ts_trainer_set_dist(ts_trainer *t, ts_dist *d, int fresh)
{
    TS_PROTECT(
        t->dist = d;
        if (d)
            ts_trainer_watch(t, fresh != 0);
        return 0;)
}

int ts_trainer_dist_rewrap(ts_trainer *t)
{
    TS_PROTECT(
        if (!t->dist)
            return 0;
        ts_dist_sync_module(t->dist, t->m);
        ts_trainer_watch(t, true);
        return 0;)
}

int ts_trainer_eval(ts_trainer *t, const ts_tensor *x, const ts_tensor *y,
                    ts_step_result *r)
{
    TS_PROTECT(
        torch::NoGradGuard ng;
        r->finite = 1;
        r->grad_norm = NAN;
        r->correct = -1;
        r->count = 0;
        at::Tensor o;
        at::Tensor loss = ts_forward_loss(t, x->t, y->t, &o);
        r->loss = loss.item<double>();
        r->finite = std::isfinite(r->loss) ? 1 : 0;
        if (o.defined())
            ts_accuracy(t, o, y->t, r);
        else
            r->count = x->t.dim() ? x->t.size(0) : 1;
        return 0;)
}

int ts_trainer_bytes(const ts_trainer *t, uint64_t *grads, uint64_t *state)
{
    TS_PROTECT(
        uint64_t s = 0;
        for (const auto &q : t->params) {
            if (q.s1.defined())
                s += (uint64_t)q.s1.numel() * q.s1.element_size();
            if (q.s2.defined())
                s += (uint64_t)q.s2.numel() * q.s2.element_size();
        }
        *grads = t->grad_bytes;
        *state = s;
        return 0;)
}

int ts_trainer_trainable(const ts_trainer *t, uint64_t *tensors,
                         uint64_t *numel)
{
    TS_PROTECT(
        uint64_t n = 0;
        for (const auto &q : t->params)
            n += (uint64_t)q.p.numel();
        *tensors = t->params.size();
        *numel = n;
        return 0;)
}

int64_t ts_trainer_steps(const ts_trainer *t)
{
    TS_GUARD(-1, return t->steps;)
}

void ts_trainer_set_steps(ts_trainer *t, int64_t steps)
{
    TS_GUARD_VOID(
        t->steps = steps;
        for (auto &q : t->params)
            q.step = steps;)
}

int ts_trainer_param(ts_trainer *t, size_t i, int group, double scale,
                     int decay)
{
    TS_PROTECT(
        if (i >= t->m->entries.size() || t->m->entries[i].is_buffer)
            return ts_fail("not a parameter of the module");
        if (group < 0 || !(scale > 0) || !std::isfinite(scale))
            return ts_fail("a group below 0, or an lr scale that is not > 0");
        ts_param *q = nullptr;
        for (auto &x : t->params)
            if (x.entry == i)
                q = &x;
        if (!q) {
            const auto &e = t->m->entries[i];
            if (!e.t.requires_grad())
                return ts_fail("a parameter added to the optimizer must "
                               "require grad");
            ts_param n;
            n.name = e.name;
            n.p = e.t;
            n.entry = i;
            t->params.push_back(std::move(n));
            q = &t->params.back();
        }
        q->group = group;
        q->scale = scale;
        q->decay = decay != 0 && q->p.dim() >= 2;
        if ((size_t)group >= t->group_lr.size())
            t->group_lr.resize((size_t)group + 1, 0.0);
        return 0;)
}

int ts_trainer_param_steps(ts_trainer *t, size_t i, int64_t steps)
{
    TS_PROTECT(
        for (auto &q : t->params)
            if (q.entry == i) {
                q.step = steps;
                return 0;
            }
        return ts_fail("not in the optimizer");)
}

int ts_trainer_group_lr(ts_trainer *t, int group, double lr)
{
    TS_PROTECT(
        if (group < 1 || (size_t)group >= t->group_lr.size())
            return ts_fail("no such parameter group");
        t->group_lr[(size_t)group] = lr;
        return 0;)
}

int ts_trainer_state_count(const ts_trainer *t, size_t *out)
{
    TS_PROTECT(*out = ts_state_list(t).size(); return 0;)
}

int ts_trainer_state_info(const ts_trainer *t, size_t i, ts_tensor_info *out)
{
    TS_PROTECT(
        auto l = ts_state_list(t);
        if (i >= l.size())
            return ts_fail("state index out of range");
        if (t->st_names.size() != l.size()) {
            t->st_names.assign(l.size(), std::string());
            t->st_shapes.assign(l.size(), std::vector<int64_t>());
        }
        const ts_param &q = t->params[l[i].first];
        const at::Tensor &s = l[i].second == 1 ? q.s1 : q.s2;
        t->st_names[i] = q.name + "." + ts_slot_name(t, l[i].second);
        t->st_shapes[i] = s.sizes().vec();
        std::memset(out, 0, sizeof *out);
        out->name = t->st_names[i].c_str();
        out->dtype = ts_dtype_name(s.scalar_type());
        out->ndim = (unsigned)s.dim();
        out->shape = t->st_shapes[i].data();
        out->numel = (uint64_t)s.numel();
        out->nbytes = (uint64_t)s.numel() * s.element_size();
        out->owner = "";
        out->owner_type = "";
        return 0;)
}

int ts_trainer_state_read(const ts_trainer *t, size_t i, void *dst,
                          size_t nbytes)
{
    TS_PROTECT(
        auto l = ts_state_list(t);
        if (i >= l.size())
            return ts_fail("state index out of range");
        const ts_param &q = t->params[l[i].first];
        at::Tensor s = (l[i].second == 1 ? q.s1 : q.s2).to(c10::kCPU)
                           .contiguous();
        if ((size_t)s.numel() * s.element_size() != nbytes)
            return ts_fail("state read: size mismatch");
        if (nbytes)
            std::memcpy(dst, s.data_ptr(), nbytes);
        return 0;)
}

int ts_trainer_state_write(ts_trainer *t, const char *name, const void *src,
                           size_t nbytes)
{
    TS_PROTECT(
        std::string n(name);
        for (auto &q : t->params) {
            for (int slot = 1; slot <= 2; slot++) {
                if (n != q.name + "." + ts_slot_name(t, slot))
                    continue;
                if (t->opt == TS_SGD || (t->opt == TS_MOMENTUM && slot == 2))
                    continue;
                at::Tensor &s = slot == 1 ? q.s1 : q.s2;
                if (!s.defined())
                    s = torch::zeros_like(q.p.detach(),
                                          at::MemoryFormat::Contiguous);
                if ((size_t)s.numel() * s.element_size() != nbytes)
                    return ts_fail((n + ": size mismatch").c_str());
                at::Tensor h = torch::from_blob(
                    const_cast<void *>(src), s.sizes(),
                    torch::TensorOptions().dtype(s.scalar_type()));
                torch::NoGradGuard ng;
                s.copy_(h);
                return 0;
            }
        }
        return ts_fail((n + ": no such optimizer state").c_str());)
}

} // extern "C"
