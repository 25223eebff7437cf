/* fuzz_torchzip.c: libFuzzer target for whole torch.save / TorchScript
 * reading: the input is a .pt file, put in a memfd and read with
 * torchzip_read (zip directory, data.pkl through the pickle machine, the
 * walk that turns values into tensors, code/ for TorchScript classes,
 * storage records checked against their sizes).
 */
#include <stdint.h>
#include <stdlib.h>

#include "../../tui/core/err.h"
#include "../../tui/core/table.h"
#include "../../tui/formats/formats.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    table t;
    table_init(&t);
    fz_memfd(data, size, path, sizeof path);
    if (torchzip_read(path, &t) == 0) {
        for (size_t i = 0; i < t.count; i++) {
            const table_tensor *x = table_at(&t, i);
            if (table_find(&t, table_name(&t, i), x->name_len) != (long)i)
                abort();
            if (x->file >= t.nfiles)
                abort();
        }
    } else if (!err_msg()[0]) {
        abort();
    }
    table_free(&t);
    err_clear();
    return 0;
}
