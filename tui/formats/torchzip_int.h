/* torchzip_int.h: shared by torchzip.c and torchzip_script.c only. */
#ifndef TUI_FORMATS_TORCHZIP_INT_H
#define TUI_FORMATS_TORCHZIP_INT_H

#include "../core/table.h"
#include "pickle.h"
#include "zip.h"

#define TZ_MAX_PKL (256u << 20)     /* bytes of data.pkl */
#define TZ_MAX_CODE (16u << 20)     /* bytes of one code/ file */
#define TZ_MAX_CODE_TOTAL (64u << 20)
#define TZ_MAX_VISITS 10000000u     /* values visited while walking */
#define TZ_MAX_META 10000u          /* metadata entries from one file */

typedef struct tz_code tz_code;

typedef struct {
    const char *path; /* the checkpoint, for messages */
    const char *st_dir; /* folder of storage records: "data" (NULL) or
                           "constants" (TorchScript constants.pkl) */
    zip_archive z;
    table *t;
    uint32_t file;      /* the table's file index */
    uint32_t *st_id;    /* per zip entry: storage id, or TABLE_NO_STORAGE */
    uint32_t *st_first; /* per zip entry: first tensor using it */
    uint8_t *st_dt;     /* per zip entry: storage dtype */
    uint32_t next_id;
    uint64_t visits;
    size_t meta_added, meta_dropped;
    tz_code *code;      /* TorchScript classes looked up so far */
    struct tz_src *srcs;/* code files read so far (each read once) */
    uint64_t code_bytes;
    char name[TABLE_MAX_NAME + 2]; /* the dotted path being walked */
    size_t name_len;
} tz_ctx;

/* Adds tensor value `v` under the current name with kind `kind` and
 * flags `flags`, checking its storage against its zip record.
 * Returns 0 or -1 with err set (message without the file name). */
int tz_add_tensor(tz_ctx *c, const pv *v, tensor_kind kind, unsigned flags);

/* Appends ".seg" (or "seg" at the root) to c->name; returns the old
 * length for tz_pop, or -1 with err set when the name gets too long. */
long tz_push(tz_ctx *c, const char *seg, size_t len);

static inline void tz_pop(tz_ctx *c, long old)
{
    c->name_len = (size_t)old;
    c->name[old] = '\0';
}

/* Walks a TorchScript module object (data.pkl of torch.jit.save): each
 * tensor attribute becomes a tensor named by its dotted attribute path;
 * parameter / buffer from the class's __parameters__ / __buffers__ in
 * code/ (read, never run); other tensors TK_OTHER. 0 or -1 with err. */
int tz_walk_script(tz_ctx *c, const pv *root);

/* Walks v under the current name with every tensor kind other (as the
 * non-model values of a training checkpoint). 0 or -1 with err set. */
int tz_walk_other(tz_ctx *c, const pv *v);

/* TorchScript's constants.pkl: a tuple of the constants the code uses
 * (tensors with records under constants/, a frozen module's weights),
 * run through the same machine and allowlist as data.pkl (values in
 * `pm`), never executed. Its tensors are listed as kind other, named
 * "constants.pkl.N"; an empty tuple adds nothing. 0 or -1 with err set
 * (naming the file and constants.pkl). */
int tz_read_constants(tz_ctx *c, pickle_machine *pm);

/* Frees the class-source cache. NULL-safe. */
void tz_code_free(tz_ctx *c);

#endif
