/* values.h: a tensor's elements read from its file in logical order.
 *
 * The tensor's whole byte span is mapped read-only (MAP_PRIVATE,
 * MADV_SEQUENTIAL); elements are handed out a block at a time, strided
 * tensors gathered by their strides, so a view reads the same as its
 * contiguous copy. The caller checks the span lies inside the file first
 * (stats_check). Used by --diff and --rank (DESIGN.md: tui/inspect/).
 */
#ifndef TUI_INSPECT_VALUES_H
#define TUI_INSPECT_VALUES_H

#include <stddef.h>
#include <stdint.h>

#include "../core/table.h"

typedef struct {
    const unsigned char *p;  /* first element */
    void *base;              /* what to munmap; NULL when nothing mapped */
    size_t maplen;
    size_t esz;              /* bytes per element */
    unsigned ndim;
    const uint64_t *sh, *st; /* st NULL: contiguous */
    uint64_t idx[TABLE_MAX_DIMS];
    uint64_t pos;            /* elements handed out */
} tensor_reader;

/* Maps tensor i of t (nothing for a tensor without elements). Returns 0,
 * or -1 with err set ("m.pt: mmap: ..."); r needs tensor_reader_close
 * either way. */
int tensor_reader_open(tensor_reader *r, const table *t, size_t i);

/* Copies the next n elements' bytes into buf (n * esz bytes). n must not
 * run past the tensor's elements. Cannot fail. */
void tensor_reader_next(tensor_reader *r, unsigned char *buf, size_t n);

/* Unmaps; idempotent. */
void tensor_reader_close(tensor_reader *r);

#endif
