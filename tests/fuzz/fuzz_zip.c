/* fuzz_zip.c: libFuzzer target for the zip central-directory reader.
 *
 * The input is a whole file, put in a memfd and opened through rfile.
 * When the directory reads, every entry is looked up again by name and
 * read (inflated) with a 1 MiB cap, which exercises the CRC and size
 * checks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../tui/core/err.h"
#include "../../tui/formats/fileio.h"
#include "../../tui/formats/zip.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    rfile f = {.fd = -1};
    zip_archive z;
    memset(&z, 0, sizeof z);
    fz_memfd(data, size, path, sizeof path);
    if (rfile_open(&f, path))
        abort(); /* the memfd is a regular file */
    if (zip_open(&z, &f) == 0) {
        for (size_t i = 0; i < z.count && i < 64; i++) {
            const zip_entry *e = &z.entries[i];
            const zip_entry *g = zip_find(&z, e->rel, strlen(e->rel));
            if (!g || strcmp(g->name, e->name) != 0)
                abort();
            if (zip_index(&z, g) >= z.count)
                abort();
            unsigned char *buf = NULL;
            size_t len = 0;
            if (zip_read_entry(&z, e, 1u << 20, &buf, &len) == 0) {
                if (len != e->size || buf[len] != '\0')
                    abort();
                free(buf);
            } else if (buf) {
                abort();
            }
        }
        (void)zip_find(&z, "data.pkl", 8);
    } else if (!err_msg()[0]) {
        abort();
    }
    zip_close(&z);
    zip_close(&z); /* idempotent */
    rfile_close(&f);
    err_clear();
    return 0;
}
