/* activation_json.h: a measurement from the --json line of
 * `tui --headless --plan P --measure-memory --json` (docs/memory.md), as
 * the editor reads it from the measuring child, and the warning it
 * derives from it: frozen modules that sit after a trainable one in the
 * forward order keep their activations. No curses, no libtorch. */
#ifndef TUI_CORE_ACTIVATION_JSON_H
#define TUI_CORE_ACTIVATION_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "activation.h"
#include "bitset.h"
#include "table.h"

/* Parses `len` bytes of `text` (one JSON object, surrounding whitespace
 * allowed) into *a: batch_size, activation_bytes, peak_bytes, device,
 * libtorch and per_module [{module, activation_bytes}]; the other keys
 * --measure-memory prints (saved_tensors, storages, static, peak_margin,
 * total, step_seconds, fit) are accepted and ignored, any other key is
 * refused. Returns 0 with *a filled (owned; free with activation_free),
 * or -1 with err set ("measurement: 'batch_size' must be at least 1",
 * "measurement: not JSON near byte 17", a figure that is not an integer
 * in [0, 2^53), a missing key, an empty module name, out of memory);
 * *a is then empty. *a's old contents are not freed. */
int activation_parse_json(activation *a, const char *text, size_t len);

/* What a module path holds, as the callback of
 * activation_frozen_after_trainable tells it. */
typedef enum {
    ACT_MOD_NONE = 0,      /* no parameters ("relu", "(loss)", "(root)") */
    ACT_MOD_TRAINABLE = 1, /* at least one trainable parameter */
    ACT_MOD_FROZEN = 2,    /* parameters, all of them frozen */
} activation_mod_state;

typedef activation_mod_state (*activation_mod_fn)(const char *module,
                                                  void *ctx);

/* The frozen modules that come after the first trainable one in the
 * forward order of a->modules and still hold saved bytes (so freezing
 * them saved no activation memory): their number into *count and their
 * bytes into *bytes. Returns 0 (both 0 when there are none), or -1 with
 * err set (the bytes overflow 64 bits; *count and *bytes then 0). */
int activation_frozen_after_trainable(const activation *a,
                                      activation_mod_fn state, void *ctx,
                                      size_t *count, uint64_t *bytes);

/* The callback for a table and its frozen set: ctx points to an
 * activation_table_ctx. Cannot fail. */
typedef struct {
    const table *t;
    const bitset *frozen; /* t->count bits, a set bit is frozen */
} activation_table_ctx;
activation_mod_state activation_table_state(const char *module, void *ctx);

#endif
