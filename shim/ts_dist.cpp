// ts_dist.cpp: c10d for the data-parallel trainer (ts_dist.h).
//
// The store and the process group are libtorch's own (TCPStore,
// PrefixStore, ProcessGroupGloo; reference: docs/distributed.md). The
// gradient reduction is written out here rather than taken from
// c10d::Reducer, whose header needs distributed-autograd headers Debian
// does not ship, and it follows Reducer's layout, which decides the bits
// from three processes on (the sum of two terms does not depend on how
// the buffers are cut; of three it does):
//   - the gradients of a bucket are multiplied by 1/W while flattened
//     (Reducer's mul_out with the wrapped scalar 1/W), summed by one
//     allreduce of the flat buffer, and copied back;
//   - step 1: one bucket per dtype holding every trainable tensor in
//     parameter order (DDP with find_unused_parameters=False);
//   - from step 2: the buckets rebuilt from the order in which the
//     gradients became ready in step 1's backward (recorded by a hook on
//     each trainable tensor), cut as compute_bucket_assignment_by_size
//     cuts them: per dtype, a bucket closes once it holds 1 MiB, later
//     ones 25 MiB, the open ones last, in ready order (not sorted). A run
//     resumed past step 1 records the order in its first backward and
//     reduces that step in the rebuilt layout already (the reduction
//     follows the backward, it does not overlap it);
//   - a staged run wraps the module anew at each stage boundary, as the
//     Python route must (a Reducer knows only the parameters that
//     required grad when DDP was built): the reduced parameters become
//     those that require grad now, in module order, and "step 1" and
//     "from step 2" above count from the boundary (ts_dist_watch).
#define USE_C10D_GLOO 1
#include "ts_impl.hpp"
#include "ts_dist.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>

// The order step 1's gradients became ready in (indexes into the
// trainer's parameters), shared with the hooks that record it.
struct ts_ready {
    bool on = false;
    std::vector<size_t> order;
};

struct ts_dist {
    int rank = 0, world = 1;
    c10::intrusive_ptr<c10d::Store> store;
    c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
    std::shared_ptr<ts_ready> ready = std::make_shared<ts_ready>();
    std::vector<std::pair<at::Tensor, unsigned>> hooks; // to remove
    std::vector<at::Tensor> params; // reduced: the Reducer's parameters
    bool initial = true;  // the next step is the wrapper's first
    std::vector<std::vector<size_t>> buckets; // from step 2; empty before
    bool lost = false;   // a collective failed (a peer gone or hung)
};

// Waits for a collective; a failure (the transport's: a peer closed the
// connection, or did not answer within the group's timeout) marks the
// group lost and goes on up.
static void ts_dist_wait(ts_dist *d, const c10::intrusive_ptr<c10d::Work> &w)
{
    try {
        w->wait();
    } catch (...) {
        d->lost = true;
        throw;
    }
}

// Sums the tensors in place over the ranks.
static void ts_dist_allreduce(ts_dist *d, std::vector<at::Tensor> &v)
{
    c10d::AllreduceOptions o;
    o.reduceOp = c10d::ReduceOp::SUM;
    ts_dist_wait(d, d->pg->allreduce(v, o));
}

static void ts_dist_bcast(ts_dist *d, std::vector<at::Tensor> &v)
{
    c10d::BroadcastOptions o;
    o.rootRank = 0;
    o.rootTensor = 0;
    ts_dist_wait(d, d->pg->broadcast(v, o));
}

// Broadcasts a list of tensors from rank 0, coalesced: one flat buffer
// per dtype, in list order.
static void ts_dist_bcast_coalesced(ts_dist *d,
                                    const std::vector<at::Tensor> &ts)
{
    std::map<int, std::vector<size_t>> by;
    for (size_t i = 0; i < ts.size(); i++)
        if (ts[i].numel())
            by[(int)ts[i].scalar_type()].push_back(i);
    for (auto &kv : by) {
        std::vector<at::Tensor> parts;
        for (size_t i : kv.second)
            parts.push_back(ts[i].detach().reshape({-1}));
        std::vector<at::Tensor> flat{at::cat(parts)};
        ts_dist_bcast(d, flat);
        int64_t off = 0;
        torch::NoGradGuard ng;
        for (size_t i : kv.second) {
            int64_t n = ts[i].numel();
            ts[i].detach().copy_(flat[0].narrow(0, off, n).view(ts[i].sizes()));
            off += n;
        }
    }
}

void ts_dist_sync_buffers(ts_dist *d, ts_module *m)
{
    std::vector<at::Tensor> b;
    for (auto &e : m->entries)
        if (e.is_buffer)
            b.push_back(e.t);
    ts_dist_bcast_coalesced(d, b);
}

void ts_dist_sync_module(ts_dist *d, ts_module *m)
{
    std::vector<at::Tensor> all;
    for (auto &e : m->entries)
        all.push_back(e.t);
    ts_dist_bcast_coalesced(d, all);
}

void ts_dist_reduce_stats(ts_dist *d, double *v, int n)
{
    at::Tensor t = torch::from_blob(v, {n}, at::kDouble).clone();
    std::vector<at::Tensor> l{t};
    ts_dist_allreduce(d, l);
    std::memcpy(v, t.data_ptr<double>(), (size_t)n * sizeof(double));
}

int ts_dist_world(const ts_dist *d)
{
    return d->world;
}

// Removes the ready-order hooks.
static void ts_dist_unhook(ts_dist *d)
{
    for (auto &h : d->hooks)
        h.first.remove_hook(h.second);
    d->hooks.clear();
}

void ts_dist_watch(ts_dist *d, const std::vector<at::Tensor> &params,
                   bool initial)
{
    ts_dist_unhook(d);
    d->params = params;
    d->initial = initial;
    d->buckets.clear();
    d->ready->order.clear();
    d->ready->on = true;
    for (size_t i = 0; i < params.size(); i++) {
        std::shared_ptr<ts_ready> r = d->ready;
        unsigned h = params[i].register_hook([r, i](const at::Tensor &) {
            if (r->on)
                r->order.push_back(i);
        });
        d->hooks.emplace_back(params[i], h);
    }
}

// compute_bucket_assignment_by_size over the ready order (tensor_indices
// given: no sorting), limits 1 MiB then 25 MiB per dtype.
static std::vector<std::vector<size_t>>
ts_dist_rebuild(const std::vector<at::Tensor> &params,
                const std::vector<size_t> &order)
{
    static const size_t limits[2] = {1024 * 1024, 25 * 1024 * 1024};
    struct acc {
        std::vector<size_t> idx;
        size_t size = 0;
        int limit = 0;
    };
    std::vector<std::vector<size_t>> out;
    std::map<int, acc> open;
    std::vector<int> keys; // first-seen order of the dtypes
    for (size_t i : order) {
        const at::Tensor &p = params[i];
        int k = (int)p.scalar_type();
        if (!open.count(k))
            keys.push_back(k);
        acc &b = open[k];
        b.idx.push_back(i);
        b.size += (size_t)p.numel() * p.element_size();
        if (b.size >= limits[b.limit]) {
            out.push_back(std::move(b.idx));
            int next = b.limit < 1 ? b.limit + 1 : 1;
            b = acc();
            b.limit = next;
        }
    }
    for (int k : keys)
        if (!open[k].idx.empty())
            out.push_back(std::move(open[k].idx));
    return out;
}

// One bucket: x 1/W while flattened, one SUM allreduce, copied back.
static void ts_dist_reduce_bucket(ts_dist *d,
                                  const std::vector<at::Tensor> &params,
                                  const std::vector<size_t> &bucket)
{
    const double div = 1.0 / (double)d->world;
    std::vector<at::Tensor> parts;
    for (size_t i : bucket)
        parts.push_back(params[i].grad().reshape({-1}).mul(div));
    if (parts.empty())
        return;
    std::vector<at::Tensor> flat{at::cat(parts)};
    ts_dist_allreduce(d, flat);
    int64_t off = 0;
    torch::NoGradGuard ng;
    for (size_t i : bucket) {
        at::Tensor g = params[i].grad();
        int64_t n = g.numel();
        g.copy_(flat[0].narrow(0, off, n).view(g.sizes()));
        off += n;
    }
}

void ts_dist_reduce_grads(ts_dist *d)
{
    const std::vector<at::Tensor> &params = d->params;
    if (d->buckets.empty()) {
        // the layout from the wrapper's step 2 on, from this backward's
        // ready order (a trainable tensor that got no gradient goes last)
        d->ready->on = false;
        std::vector<bool> seen(params.size(), false);
        std::vector<size_t> uniq;
        for (size_t i : d->ready->order)
            if (i < params.size() && !seen[i]) {
                seen[i] = true;
                uniq.push_back(i);
            }
        for (size_t i = 0; i < params.size(); i++)
            if (!seen[i])
                uniq.push_back(i);
        d->buckets = ts_dist_rebuild(params, uniq);
        ts_dist_unhook(d);
    }
    if (d->initial) {
        // the wrapper's step 1 itself: one bucket per dtype in parameter
        // order
        d->initial = false;
        std::map<int, std::vector<size_t>> by;
        std::vector<int> keys;
        for (size_t i = 0; i < params.size(); i++) {
            if (!params[i].grad().defined())
                continue;
            int k = (int)params[i].scalar_type();
            if (!by.count(k))
                keys.push_back(k);
            by[k].push_back(i);
        }
        for (int k : keys)
            ts_dist_reduce_bucket(d, params, by[k]);
        return;
    }
    for (const auto &b : d->buckets) {
        std::vector<size_t> defined;
        for (size_t i : b)
            if (params[i].grad().defined())
                defined.push_back(i);
        ts_dist_reduce_bucket(d, params, defined);
    }
}

extern "C" {

int ts_dist_join(const ts_dist_config *c, ts_dist **out)
{
    TS_PROTECT(
        *out = nullptr;
        if (c->world < 1 || c->rank < 0 || c->rank >= c->world)
            return ts_fail("rank out of range");
        if (std::strcmp(c->device, "cpu") != 0)
            return ts_fail("data-parallel training on cuda needs NCCL, and "
                           "this build has only gloo (CPU): train with "
                           "--device cpu, or build against a CUDA libtorch");
        auto timeout = std::chrono::milliseconds(
            (int64_t)(c->timeout_s * 1000.0));
        c10d::TCPStoreOptions o;
        o.port = (uint16_t)c->port;
        o.isServer = c->host_store != 0;
        // every side counts itself in, or the host waits out the timeout
        o.numWorkers = (std::size_t)c->world;
        o.timeout = timeout;
        std::unique_ptr<ts_dist> d(new ts_dist);
        d->rank = c->rank;
        d->world = c->world;
        auto tcp = c10::make_intrusive<c10d::TCPStore>(std::string(c->addr), o);
        std::string prefix = c->prefix && *c->prefix ? c->prefix : "";
        d->store = c10::make_intrusive<c10d::PrefixStore>(prefix + "/tui", tcp);
        auto opts = c10d::ProcessGroupGloo::Options::create();
        opts->timeout = timeout;
        const char *ifname = std::getenv("GLOO_SOCKET_IFNAME");
        if (ifname && *ifname)
            opts->devices.push_back(
                c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
        else
            opts->devices.push_back(
                c10d::ProcessGroupGloo::createDefaultDevice());
        d->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(
            d->store, c->rank, c->world, opts);
        *out = d.release();
        return 0;)
}

int ts_dist_lost(const ts_dist *d)
{
    TS_GUARD(0, return d && d->lost ? 1 : 0;)
}

void ts_dist_free(ts_dist *d)
{
    TS_GUARD_VOID(delete d;)
}

int ts_dist_broadcast_module(ts_dist *d, ts_module *m)
{
    TS_PROTECT(
        ts_dist_sync_module(d, m);
        return 0;)
}

int ts_dist_sum(ts_dist *d, double *v, size_t n)
{
    TS_PROTECT(
        if (n)
            ts_dist_reduce_stats(d, v, (int)n);
        return 0;)
}

int ts_dist_broadcast_bytes(ts_dist *d, void *buf, size_t n)
{
    TS_PROTECT(
        if (!n)
            return 0;
        at::Tensor t = torch::from_blob(buf, {(int64_t)n}, at::kByte).clone();
        std::vector<at::Tensor> l{t};
        ts_dist_bcast(d, l);
        std::memcpy(buf, t.data_ptr(), n);
        return 0;)
}

int ts_dist_shard(const ts_tensor *perm, int rank, int world,
                  ts_tensor **out)
{
    TS_PROTECT(
        *out = nullptr;
        if (world < 1 || rank < 0 || rank >= world)
            return ts_fail("rank out of range");
        at::Tensor p = perm->t.to(at::kLong).reshape({-1});
        int64_t n = p.size(0);
        if (n == 0)
            return ts_fail("no samples to share");
        int64_t per = (n + world - 1) / world, total = per * world;
        if (total > n) {
            int64_t reps = (total - n + n - 1) / n;
            p = at::cat({p, p.repeat({reps}).narrow(0, 0, total - n)});
        }
        at::Tensor s = p.narrow(0, rank, total - rank)
                           .slice(0, 0, total - rank, world)
                           .contiguous();
        *out = new ts_tensor{s};
        return 0;)
}

} // extern "C"
