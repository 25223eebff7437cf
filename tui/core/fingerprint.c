/* fingerprint.c: the model fingerprint (see fingerprint.h). */
#include "fingerprint.h"

#include "err.h"

#include <inttypes.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    size_t index;
} fp_entry;

static int entry_cmp(const void *pa, const void *pb)
{
    const fp_entry *a = pa, *b = pb;
    /* names hold no NUL, so strcmp is the bytewise order (unsigned) */
    return strcmp(a->name, b->name);
}

int table_fingerprint(const table *t, char out[72])
{
    static const char hex[] = "0123456789abcdef";
    struct sha256_ctx ctx;
    uint8_t digest[SHA256_DIGEST_SIZE];
    fp_entry *e = NULL;
    size_t n = 0;
    int rc = -1;

    if (t->count) {
        e = malloc(t->count * sizeof *e);
        if (!e) {
            err_set("fingerprint: out of memory for %zu tensors", t->count);
            goto cleanup;
        }
    }
    for (size_t i = 0; i < t->count; i++) {
        const table_tensor *x = table_at(t, i);
        if (x->kind != TK_PARAMETER && x->kind != TK_BUFFER)
            continue;
        e[n].name = table_name(t, i);
        e[n].index = i;
        n++;
    }
    if (n > 1)
        qsort(e, n, sizeof *e, entry_cmp);
    sha256_init(&ctx);
    for (size_t k = 0; k < n; k++) {
        const table_tensor *x = table_at(t, e[k].index);
        const uint64_t *shape = table_shape(t, e[k].index);
        const char *dt = dtype_name((dtype)x->dtype);
        char num[24];
        sha256_update(&ctx, x->name_len, (const uint8_t *)e[k].name);
        sha256_update(&ctx, 1, (const uint8_t *)"\t");
        sha256_update(&ctx, strlen(dt), (const uint8_t *)dt);
        sha256_update(&ctx, 1, (const uint8_t *)"\t");
        for (unsigned d = 0; d < x->ndim; d++) {
            int w = snprintf(num, sizeof num, "%s%" PRIu64, d ? "," : "",
                             shape[d]);
            sha256_update(&ctx, (size_t)w, (const uint8_t *)num);
        }
        sha256_update(&ctx, 1, (const uint8_t *)"\n");
    }
    sha256_digest(&ctx, sizeof digest, digest);
    memcpy(out, "sha256:", 7);
    for (size_t i = 0; i < sizeof digest; i++) {
        out[7 + 2 * i] = hex[digest[i] >> 4];
        out[8 + 2 * i] = hex[digest[i] & 15];
    }
    out[FINGERPRINT_LEN] = '\0';
    rc = 0;
cleanup:
    free(e);
    return rc;
}
