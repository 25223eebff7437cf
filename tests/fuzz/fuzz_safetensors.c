/* fuzz_safetensors.c: libFuzzer target for the safetensors header parser.
 *
 * The input is the start of a safetensors file. It is parsed twice: as a
 * whole file (file size = input size) and as the head of a file 4 KiB
 * longer (so offsets may point past the bytes read). On success the
 * table's invariants are checked (names unique and found again, offsets
 * inside the declared file, byte sizes consistent).
 */
#include <stdint.h>
#include <stdlib.h>

#include "../../tui/core/err.h"
#include "../../tui/core/table.h"
#include "../../tui/formats/formats.h"

static void check_table(const table *t, uint64_t file_size)
{
    for (size_t i = 0; i < t->count; i++) {
        const table_tensor *x = table_at(t, i);
        if (table_find(t, table_name(t, i), x->name_len) != (long)i)
            abort();
        if (x->offset > file_size || x->nbytes > file_size - x->offset)
            abort();
        if (x->ndim > TABLE_MAX_DIMS || x->name_len > TABLE_MAX_NAME)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t extra[2] = {0, 4096};
    for (int k = 0; k < 2; k++) {
        table t;
        table_init(&t);
        if (safetensors_parse(data, size, size + extra[k], 0, &t) == 0)
            check_table(&t, size + extra[k]);
        else if (!err_msg()[0])
            abort(); /* a failure must say why */
        table_free(&t);
        err_clear();
    }
    return 0;
}
