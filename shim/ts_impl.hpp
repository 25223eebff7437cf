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
};

struct ts_tensor {
    at::Tensor t;
};

// Stores the message of the exception being handled (first line only,
// without the backtrace). Returns -1.
int ts_fail(const char *msg);
int ts_fail_current();

// Every extern "C" entry point's body runs inside this.
#define TS_PROTECT(...)                                                   \
    try {                                                                 \
        __VA_ARGS__                                                       \
    } catch (...) {                                                       \
        return ts_fail_current();                                         \
    }

// "F32" -> at::kFloat; throws on an unknown name.
at::ScalarType ts_dtype_parse(const char *name);
// at::kFloat -> "F32" ("?" when it has no safetensors name).
const char *ts_dtype_name(at::ScalarType s);
// "cpu" / "cuda" -> a device; throws on anything else.
c10::Device ts_device_parse(const char *name);

#endif
