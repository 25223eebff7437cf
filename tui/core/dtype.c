/* dtype.c: dtype names and sizes (see dtype.h). */
#include "dtype.h"

#include <string.h>

static const struct {
    const char *name;
    unsigned bits;
    unsigned char is_float;
} dtype_info[DT_COUNT] = {
    [DT_NONE] = {"?", 0, 0},
    [DT_BOOL] = {"BOOL", 8, 0},
    [DT_F4] = {"F4", 4, 1},
    [DT_F6_E2M3] = {"F6_E2M3", 6, 1},
    [DT_F6_E3M2] = {"F6_E3M2", 6, 1},
    [DT_U8] = {"U8", 8, 0},
    [DT_I8] = {"I8", 8, 0},
    [DT_F8_E5M2] = {"F8_E5M2", 8, 1},
    [DT_F8_E4M3] = {"F8_E4M3", 8, 1},
    [DT_F8_E8M0] = {"F8_E8M0", 8, 1},
    [DT_F8_E4M3FNUZ] = {"F8_E4M3FNUZ", 8, 1},
    [DT_F8_E5M2FNUZ] = {"F8_E5M2FNUZ", 8, 1},
    [DT_I16] = {"I16", 16, 0},
    [DT_U16] = {"U16", 16, 0},
    [DT_F16] = {"F16", 16, 1},
    [DT_BF16] = {"BF16", 16, 1},
    [DT_I32] = {"I32", 32, 0},
    [DT_U32] = {"U32", 32, 0},
    [DT_F32] = {"F32", 32, 1},
    [DT_C64] = {"C64", 64, 1},
    [DT_F64] = {"F64", 64, 1},
    [DT_I64] = {"I64", 64, 0},
    [DT_U64] = {"U64", 64, 0},
    [DT_C32] = {"C32", 32, 1},
    [DT_C128] = {"C128", 128, 1},
};

const char *dtype_name(dtype d)
{
    if ((unsigned)d >= DT_COUNT)
        return "?";
    return dtype_info[d].name;
}

dtype dtype_from_name(const char *name, unsigned long len)
{
    for (int d = 1; d < DT_COUNT; d++) {
        const char *n = dtype_info[d].name;
        if (strlen(n) == len && memcmp(n, name, len) == 0)
            return (dtype)d;
    }
    return DT_NONE;
}

unsigned dtype_bits(dtype d)
{
    if ((unsigned)d >= DT_COUNT)
        return 0;
    return dtype_info[d].bits;
}

int dtype_is_float(dtype d)
{
    if ((unsigned)d >= DT_COUNT)
        return 0;
    return dtype_info[d].is_float;
}
