// ts_module.cpp: TorchScript modules: load, list, set requires_grad, copy
// weights in and out, modes, save.
#include "ts_impl.hpp"
#include <sstream>

#include <torch/csrc/jit/python/update_graph_executor_opt.h>

#include <cstring>
#include <map>
#include <memory>

static std::string ts_shape_str(const std::vector<int64_t> &s)
{
    std::string r = "[";
    for (size_t i = 0; i < s.size(); i++) {
        if (i)
            r += ",";
        r += std::to_string(s[i]);
    }
    return r + "]";
}

static void ts_entries_fill(ts_module *m)
{
    std::map<std::string, std::string> types;
    for (const auto &nm : m->m.named_modules()) {
        auto cls = nm.value.type()->name();
        types[nm.name] = cls ? cls->qualifiedName() : std::string("?");
    }
    auto add = [&](const std::string &name, const at::Tensor &t, bool buf) {
        ts_entry e;
        e.name = name;
        size_t dot = name.rfind('.');
        e.owner = dot == std::string::npos ? "" : name.substr(0, dot);
        auto it = types.find(e.owner);
        e.owner_type = it == types.end() ? "?" : it->second;
        e.t = t;
        e.shape = t.sizes().vec();
        e.is_buffer = buf;
        m->entries.push_back(std::move(e));
    };
    for (const auto &p : m->m.named_parameters(true))
        add(p.name, p.value, false);
    for (const auto &b : m->m.named_buffers(true))
        add(b.name, b.value, true);
}

static ts_entry &ts_entry_at(const ts_module *m, size_t i)
{
    if (i >= m->entries.size())
        throw std::out_of_range("tensor index out of range");
    return const_cast<ts_entry &>(m->entries[i]);
}

extern "C" {

int ts_module_load(const char *path, const char *device, ts_module **out)
{
    TS_PROTECT(
        *out = nullptr;
        c10::Device d = ts_device_parse(device);
        // The interpreter with eager autograd: the same numbers as eager
        // PyTorch, no profiling runs, no specialisation per input shape.
        torch::jit::setGraphExecutorOptimize(false);
        std::unique_ptr<ts_module> m(new ts_module);
        m->dev = d;
        m->m = torch::jit::load(path, d);
        ts_entries_fill(m.get());
        *out = m.release();
        return 0;)
}

void ts_module_free(ts_module *m)
{
    TS_GUARD_VOID(delete m;)
}

size_t ts_module_count(const ts_module *m)
{
    TS_GUARD(0, return m->entries.size();)
}

int ts_module_info(const ts_module *m, size_t i, ts_tensor_info *out)
{
    TS_PROTECT(
        const ts_entry &e = ts_entry_at(m, i);
        out->name = e.name.c_str();
        out->dtype = ts_dtype_name(e.t.scalar_type());
        out->ndim = (unsigned)e.shape.size();
        out->shape = e.shape.data();
        out->numel = (uint64_t)e.t.numel();
        out->nbytes = (uint64_t)e.t.numel() * e.t.element_size();
        out->is_buffer = e.is_buffer;
        out->requires_grad = e.t.requires_grad();
        out->owner = e.owner.c_str();
        out->owner_type = e.owner_type.c_str();
        return 0;)
}

int ts_module_set_requires_grad(ts_module *m, size_t i, int on)
{
    TS_PROTECT(
        ts_entry &e = ts_entry_at(m, i);
        if (e.is_buffer && on)
            return ts_fail("a buffer cannot be trained");
        e.t.requires_grad_(on != 0);
        return 0;)
}

int ts_module_load_blob(ts_module *m, size_t i, const void *data,
                        const char *dtype, unsigned ndim,
                        const int64_t *shape, const int64_t *strides)
{
    TS_PROTECT(
        ts_entry &e = ts_entry_at(m, i);
        at::ScalarType st = ts_dtype_parse(dtype);
        std::vector<int64_t> sh(shape, shape + ndim);
        if (sh != e.shape)
            return ts_fail(("shape " + ts_shape_str(sh) + " in the file, " +
                            ts_shape_str(e.shape) + " in the module")
                               .c_str());
        if (st != e.t.scalar_type())
            return ts_fail((std::string("dtype ") + dtype +
                            " in the file, " +
                            ts_dtype_name(e.t.scalar_type()) +
                            " in the module")
                               .c_str());
        auto opts = torch::TensorOptions().dtype(st);
        at::Tensor src =
            strides ? torch::from_blob(const_cast<void *>(data), sh,
                                       std::vector<int64_t>(strides,
                                                            strides + ndim),
                                       opts)
                    : torch::from_blob(const_cast<void *>(data), sh, opts);
        torch::NoGradGuard ng;
        e.t.copy_(src);
        return 0;)
}

int ts_module_read(const ts_module *m, size_t i, void *dst, size_t nbytes)
{
    TS_PROTECT(
        const ts_entry &e = ts_entry_at(m, i);
        at::Tensor c = e.t.detach().to(c10::kCPU).contiguous();
        if ((size_t)c.numel() * c.element_size() != nbytes)
            return ts_fail("read: size mismatch");
        if (nbytes)
            std::memcpy(dst, c.data_ptr(), nbytes);
        return 0;)
}

int ts_module_write(ts_module *m, size_t i, const void *src, size_t nbytes)
{
    TS_PROTECT(
        ts_entry &e = ts_entry_at(m, i);
        if ((size_t)e.t.numel() * e.t.element_size() != nbytes)
            return ts_fail((e.name + ": size mismatch").c_str());
        at::Tensor s = torch::from_blob(
            const_cast<void *>(src), e.shape,
            torch::TensorOptions().dtype(e.t.scalar_type()));
        torch::NoGradGuard ng;
        e.t.copy_(s);
        return 0;)
}

int ts_module_set_mode(ts_module *m, int on, const char *const *eval_paths,
                       size_t n)
{
    TS_PROTECT(
        m->m.train(on != 0);
        if (!on || n == 0)
            return 0;
        std::map<std::string, torch::jit::Module> subs;
        for (const auto &nm : m->m.named_modules())
            subs.emplace(nm.name, nm.value);
        for (size_t i = 0; i < n; i++) {
            auto it = subs.find(eval_paths[i]);
            if (it == subs.end())
                return ts_fail((std::string("no module ") + eval_paths[i])
                                   .c_str());
            it->second.train(false);
        }
        return 0;)
}

// libtorch writes a file archive's end from the writer's destructor, so
// a full disk there throws from a destructor and terminates the process.
// The archive is built in memory instead (that cannot fail half-way) and
// the caller writes it (core/atomic.h).
static void ts_archive(ts_module *m)
{
    std::ostringstream os;
    m->m.save(os);
    m->archive = os.str();
}

int ts_module_archive(ts_module *m, const void **data, size_t *len)
{
    TS_PROTECT(
        *data = nullptr;
        *len = 0;
        m->archive.clear();
        if (m->dev.is_cpu()) {
            ts_archive(m);
        } else {
            // Tensors keep their identity through to() (set_data), so
            // the trainer's references stay valid.
            m->m.to(c10::Device(c10::kCPU));
            try {
                ts_archive(m);
            } catch (...) {
                m->m.to(m->dev);
                throw;
            }
            m->m.to(m->dev);
        }
        *data = m->archive.data();
        *len = m->archive.size();
        return 0;)
}

} // extern "C"
