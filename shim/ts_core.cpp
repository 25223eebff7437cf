// ts_core.cpp: errors, process-wide settings, random generators, data
// tensors.
#include "ts_impl.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/jit/python/update_graph_executor_opt.h>
#include <torch/cuda.h>

#include <cstdint>
#include <cstring>
#include <memory>

#ifdef TS_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

// One fixed buffer per thread: storing a message never allocates, and
// the old one is simply overwritten (nothing to leak or free).
static thread_local char ts_err[1024];

// Copies the informative line of `msg`: the last non-empty line of a
// TorchScript traceback ("RuntimeError: ..."), else the first line.
int ts_fail(const char *msg)
{
    if (!msg)
        msg = "unknown error";
    const char *line = msg;
    size_t len = std::strcspn(msg, "\n");
    if (std::strstr(msg, "Traceback")) {
        const char *p = msg;
        while (*p) {
            size_t n = std::strcspn(p, "\n");
            size_t k = 0;
            while (k < n && (p[k] == ' ' || p[k] == '\t'))
                k++;
            if (k < n) {
                line = p + k;
                len = n - k;
            }
            p += n;
            if (*p == '\n')
                p++;
        }
    }
    if (len >= sizeof ts_err)
        len = sizeof ts_err - 1;
    std::memcpy(ts_err, line, len);
    ts_err[len] = '\0';
    return -1;
}

int ts_fail_current()
{
    try {
        throw;
    } catch (const c10::Error &e) {
        return ts_fail(e.what_without_backtrace());
    } catch (const std::exception &e) {
        return ts_fail(e.what());
    } catch (...) {
        return ts_fail("unknown C++ exception");
    }
}

at::ScalarType ts_dtype_parse(const char *name)
{
    static const struct { const char *n; at::ScalarType s; } map[] = {
        {"F32", at::kFloat}, {"F64", at::kDouble}, {"F16", at::kHalf},
        {"BF16", at::kBFloat16}, {"I64", at::kLong}, {"I32", at::kInt},
        {"I16", at::kShort}, {"I8", at::kChar}, {"U8", at::kByte},
        {"BOOL", at::kBool}, {"C64", at::kComplexFloat},
        {"C128", at::kComplexDouble},
    };
    for (const auto &e : map)
        if (name && std::strcmp(name, e.n) == 0)
            return e.s;
    throw std::invalid_argument(std::string("unsupported dtype ") +
                                (name ? name : "(null)"));
}

const char *ts_dtype_name(at::ScalarType s)
{
    switch (s) {
    case at::kFloat: return "F32";
    case at::kDouble: return "F64";
    case at::kHalf: return "F16";
    case at::kBFloat16: return "BF16";
    case at::kLong: return "I64";
    case at::kInt: return "I32";
    case at::kShort: return "I16";
    case at::kChar: return "I8";
    case at::kByte: return "U8";
    case at::kBool: return "BOOL";
    case at::kComplexFloat: return "C64";
    case at::kComplexDouble: return "C128";
    default: return "?";
    }
}

c10::Device ts_device_parse(const char *name)
{
    if (name && std::strcmp(name, "cpu") == 0)
        return c10::Device(c10::kCPU);
    if (name && std::strcmp(name, "cuda") == 0)
        return c10::Device(c10::kCUDA, 0);
    throw std::invalid_argument(std::string("unknown device ") +
                                (name ? name : "(null)"));
}

extern "C" {

const char *ts_last_error(void)
{
    TS_GUARD(ts_err, return ts_err;)
}

const char *ts_version(void)
{
    TS_GUARD("?", return TORCH_VERSION;)
}

int ts_cuda_available(int *out)
{
    TS_PROTECT(*out = torch::cuda::is_available() ? 1 : 0; return 0;)
}

int ts_set_threads(int n)
{
    TS_PROTECT(if (n < 1) return ts_fail("thread count must be >= 1");
               at::set_num_threads(n); return 0;)
}

int ts_get_threads(int *n)
{
    TS_PROTECT(*n = at::get_num_threads(); return 0;)
}

int ts_manual_seed(uint64_t seed)
{
    TS_PROTECT(torch::manual_seed(seed); return 0;)
}

static at::Generator ts_gen(const char *device)
{
    c10::Device d = ts_device_parse(device);
    return at::globalContext().defaultGenerator(d);
}

int ts_rng_get(const char *device, void *buf, size_t *n)
{
    TS_PROTECT(
        at::Generator g = ts_gen(device);
        at::Tensor s;
        {
            std::lock_guard<std::mutex> lock(g.mutex());
            s = g.get_state();
        }
        size_t size = (size_t)s.numel() * s.element_size();
        if (buf)
            std::memcpy(buf, s.data_ptr(), *n < size ? *n : size);
        *n = size;
        return 0;)
}

int ts_rng_set(const char *device, const void *buf, size_t n)
{
    TS_PROTECT(
        at::Generator g = ts_gen(device);
        std::lock_guard<std::mutex> lock(g.mutex());
        at::Tensor cur = g.get_state();
        if ((size_t)cur.numel() * cur.element_size() != n)
            return ts_fail("random generator state has the wrong size");
        at::Tensor s = torch::empty({(int64_t)n}, torch::kUInt8);
        std::memcpy(s.data_ptr(), buf, n);
        g.set_state(s);
        return 0;)
}

int ts_cuda_peak_bytes(uint64_t *out)
{
    TS_PROTECT(
        *out = 0;
#ifdef TS_CUDA
        if (torch::cuda::is_available()) {
            auto st = c10::cuda::CUDACachingAllocator::getDeviceStats(0);
            *out = (uint64_t)st.allocated_bytes[0].peak; // 0: aggregate
        }
#endif
        return 0;)
}

int ts_cuda_reset_peak(void)
{
    TS_PROTECT(
#ifdef TS_CUDA
        if (torch::cuda::is_available())
            c10::cuda::CUDACachingAllocator::resetPeakStats(0);
#endif
        return 0;)
}

// --- data -----------------------------------------------------------------

int ts_tensor_from_blob(const void *data, const char *dtype, unsigned ndim,
                        const int64_t *shape, const int64_t *strides,
                        ts_tensor **out)
{
    TS_PROTECT(
        *out = nullptr;
        if (ndim > TS_MAX_DIMS) return ts_fail("too many dimensions");
        at::ScalarType st = ts_dtype_parse(dtype);
        auto opts = torch::TensorOptions().dtype(st);
        std::vector<int64_t> sh(shape, shape + ndim), sd;
        if (strides)
            sd.assign(strides, strides + ndim);
        else {
            sd.assign(ndim, 1);
            for (unsigned i = ndim; i-- > 1;)
                sd[i - 1] = sd[i] * sh[i];
        }
        int64_t esize = (int64_t)c10::elementSize(st);
        std::unique_ptr<ts_tensor> t(new ts_tensor);
        if ((uintptr_t)data % (uintptr_t)esize == 0) {
            t->t = torch::from_blob(const_cast<void *>(data), sh, sd, opts);
        } else {
            // Misaligned in the file: one aligned copy of the extent.
            int64_t extent = 1;
            bool empty = false;
            for (unsigned i = 0; i < ndim; i++) {
                if (sh[i] == 0)
                    empty = true;
                extent += (sh[i] - 1) * sd[i];
            }
            if (empty)
                extent = 0;
            at::Tensor flat = torch::empty({extent}, opts);
            if (extent)
                std::memcpy(flat.data_ptr(), data, (size_t)(extent * esize));
            t->t = flat.as_strided(sh, sd);
        }
        *out = t.release();
        return 0;)
}

void ts_tensor_free(ts_tensor *t)
{
    TS_GUARD_VOID(delete t;)
}

int64_t ts_tensor_rows(const ts_tensor *t)
{
    TS_GUARD(-1, return t->t.dim() ? t->t.size(0) : 0;)
}

int ts_randperm(int64_t n, uint64_t seed, ts_tensor **out)
{
    TS_PROTECT(
        *out = nullptr;
        at::Generator g = at::detail::createCPUGenerator(seed);
        std::unique_ptr<ts_tensor> t(new ts_tensor);
        t->t = at::randperm(n, g, torch::TensorOptions().dtype(at::kLong));
        *out = t.release();
        return 0;)
}

int ts_tensor_rows_select(const ts_tensor *src, const ts_tensor *perm,
                          int64_t start, int64_t count, const char *device,
                          ts_tensor **out)
{
    TS_PROTECT(
        *out = nullptr;
        c10::Device d = ts_device_parse(device);
        at::Tensor r;
        if (perm)
            r = src->t.index_select(0, perm->t.narrow(0, start, count));
        else
            r = src->t.narrow(0, start, count);
        std::unique_ptr<ts_tensor> t(new ts_tensor);
        t->t = r.to(d);
        *out = t.release();
        return 0;)
}

} // extern "C"
