/* dtype.h: element types, named as safetensors names them. */
#ifndef TUI_CORE_DTYPE_H
#define TUI_CORE_DTYPE_H

#include <stdint.h>

/* Order follows the safetensors enum (its writer sorts by it), then the
 * torch-only types. DT_NONE is "unknown" and never stored in a table. */
typedef enum {
    DT_NONE = 0,
    DT_BOOL, DT_F4, DT_F6_E2M3, DT_F6_E3M2,
    DT_U8, DT_I8, DT_F8_E5M2, DT_F8_E4M3, DT_F8_E8M0,
    DT_F8_E4M3FNUZ, DT_F8_E5M2FNUZ,
    DT_I16, DT_U16, DT_F16, DT_BF16,
    DT_I32, DT_U32, DT_F32,
    DT_C64, DT_F64, DT_I64, DT_U64,
    DT_C32, DT_C128,              /* torch complex32 / complex128 */
    DT_COUNT
} dtype;

/* The dtype's name ("F32", "BF16", ...). DT_NONE gives "?". Cannot fail. */
const char *dtype_name(dtype d);

/* The dtype for a safetensors name, matched exactly; DT_NONE if unknown.
 * `len` is the name's length (the name need not be NUL-terminated). */
dtype dtype_from_name(const char *name, unsigned long len);

/* Bits per element (8 for BOOL, 4 for F4, 6 for F6_*). 0 for DT_NONE. */
unsigned dtype_bits(dtype d);

/* 1 for floating and complex types (the ones that can be trained). */
int dtype_is_float(dtype d);

#endif
