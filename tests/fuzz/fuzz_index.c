/* fuzz_index.c: libFuzzer target for the sharded-index reader.
 *
 * index_read takes a path and opens the shards next to it, so the input
 * is written as <dir>/idx/model.safetensors.index.json in a private
 * folder that also holds real shards made once at start:
 *   model-00001-of-00002.safetensors  a.weight [2,2] F32, a.bias [2] F32
 *   model-00002-of-00002.safetensors  b.weight [3] BF16, b.bias [] F32
 *   link.safetensors -> ../outside.safetensors (escapes the folder)
 * so that seeds naming them reach the cross-checks (names in their
 * shard, total_size) and the symlink-escape refusal.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../tui/core/err.h"
#include "../../tui/core/table.h"
#include "../../tui/formats/formats.h"
#include "fuzz_util.h"

static char index_path[512];

/* Writes a safetensors file: header JSON (padded with spaces to 8) and
 * `data` zero bytes. */
static void put_st(const char *path, const char *json, size_t data)
{
    size_t n = strlen(json), pad = (8 - n % 8) % 8, total = 8 + n + pad + data;
    unsigned char *b = calloc(1, total);
    if (!b)
        abort();
    uint64_t hn = n + pad;
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(hn >> (8 * i));
    memcpy(b + 8, json, n);
    memset(b + 8 + n, ' ', pad);
    fz_write_file(path, b, total);
    free(b);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char p[512];
    const char *dir = fz_tmpdir();
    snprintf(p, sizeof p, "%s/idx", dir);
    if (mkdir(p, 0700) != 0)
        abort();
    snprintf(p, sizeof p, "%s/idx/model-00001-of-00002.safetensors", dir);
    put_st(p, "{\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],"
              "\"data_offsets\":[0,16]},\"a.bias\":{\"dtype\":\"F32\","
              "\"shape\":[2],\"data_offsets\":[16,24]}}", 24);
    snprintf(p, sizeof p, "%s/idx/model-00002-of-00002.safetensors", dir);
    put_st(p, "{\"__metadata__\":{\"format\":\"pt\"},\"b.weight\":{\"dtype\":"
              "\"BF16\",\"shape\":[3],\"data_offsets\":[0,6]},\"b.bias\":{"
              "\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[6,10]}}", 10);
    snprintf(p, sizeof p, "%s/outside.safetensors", dir);
    put_st(p, "{\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}",
           1);
    snprintf(p, sizeof p, "%s/idx/link.safetensors", dir);
    if (symlink("../outside.safetensors", p) != 0)
        abort();
    snprintf(index_path, sizeof index_path,
             "%s/idx/model.safetensors.index.json", dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    table t;
    table_init(&t);
    fz_write_file(index_path, data, size);
    if (index_read(index_path, &t) == 0) {
        for (size_t i = 0; i < t.count; i++) {
            const table_tensor *x = table_at(&t, i);
            if (x->file >= t.nfiles)
                abort();
            if (table_find(&t, table_name(&t, i), x->name_len) != (long)i)
                abort();
        }
        if (t.count > 4) /* only four tensors exist in the shards */
            abort();
    } else if (!err_msg()[0]) {
        abort();
    }
    table_free(&t);
    err_clear();
    return 0;
}
