/* activation.h: one activation measurement of a plan's model
 * (`tui --headless --measure-memory`, docs/memory.md) as the editor,
 * --summary, the presets and the plan's `estimate.activations:` hold it.
 * The core never measures (that needs libtorch, tui/train/); it keeps the
 * figures, reads them from the measuring process's --json line and from
 * a plan, and derives from them. */
#ifndef TUI_CORE_ACTIVATION_H
#define TUI_CORE_ACTIVATION_H
#include <stddef.h>
#include <stdint.h>

/* The bytes saved for backward while one module's own forward ran. */
typedef struct {
    char *module;   /* dotted module path ("layer1.0"), "(root)" or
                       "(loss)"; owned */
    uint64_t bytes;
} activation_module;

typedef struct {
    uint64_t batch;            /* the batch size measured */
    uint64_t activation_bytes; /* saved for backward, unique storages,
                                  parameters, buffers and batch excluded */
    uint64_t peak_bytes;       /* high-water of the step above its start */
    char *device;              /* "cpu", "cuda", "cuda:1"; owned, NULL
                                  when unknown */
    char *libtorch;            /* libtorch's version; owned, NULL when
                                  unknown */
    activation_module *modules; /* per module, in forward order; owned */
    size_t nmodules;
} activation;

/* Makes an empty measurement (no modules, every figure 0). Cannot fail. */
void activation_init(activation *a);

/* Frees what a holds and leaves it as activation_init. NULL-safe. */
void activation_free(activation *a);

/* Copies src into dst (dst's old contents are not freed: pass an
 * initialized or freed dst). Returns 0, or -1 with err set (out of
 * memory), dst then empty. */
int activation_copy(activation *dst, const activation *src);

#endif
