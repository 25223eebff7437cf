/* zip.h: a read-only zip central-directory reader for torch.save and
 * TorchScript archives.
 *
 * It reads the end-of-central-directory records (the classic one, found
 * in the last 64 KiB + 22 bytes, and the zip64 one through its locator),
 * the central directory and each entry's local header, and nothing else:
 * record contents are read only on request (zip_read_entry).
 *
 * Checks (hostile-inputs.md row 14): every count, length and offset is
 * bounded by the file; zip64 extra fields must supply every 0xFFFFFFFF
 * placeholder; each local header must carry the signature and the same
 * name as its central entry; the ranges [local header, data end) are
 * inside the file, before the central directory and pairwise disjoint;
 * names are unique, relative, with no "." / ".." / empty segment and no
 * control byte or backslash; all share one root folder (the first
 * entry's prefix up to '/'); methods are 0 (stored) or 8 (deflate);
 * encrypted entries are refused.
 */
#ifndef TUI_FORMATS_ZIP_H
#define TUI_FORMATS_ZIP_H

#include <stddef.h>
#include <stdint.h>

#include "fileio.h"

#define ZIP_MAX_ENTRIES 2000000u        /* entries in one archive */
#define ZIP_MAX_CD (512u << 20)         /* bytes of central directory */
#define ZIP_MAX_NAME 4096u              /* bytes in one entry name */

enum { ZIP_STORED = 0, ZIP_DEFLATE = 8 };

typedef struct {
    const char *name;   /* full name, NUL-terminated (in the archive) */
    const char *rel;    /* the name after "<root>/" */
    uint16_t method;    /* ZIP_STORED or ZIP_DEFLATE */
    uint32_t crc;       /* CRC-32 from the central directory */
    uint64_t comp_size; /* bytes stored in the file */
    uint64_t size;      /* uncompressed bytes */
    uint64_t lho;       /* offset of the local header */
    uint64_t data_off;  /* offset of the stored bytes (from the local header) */
} zip_entry;

typedef struct {
    rfile *f;           /* borrowed */
    zip_entry *entries; /* in central-directory order */
    size_t count;
    size_t *sorted;     /* entry indexes sorted by rel, for zip_find */
    char *names;        /* all names, NUL-terminated */
    char root[ZIP_MAX_NAME + 1]; /* the root folder, without the '/' */
} zip_archive;

/* Reads the directory of the zip file `f` (already open, borrowed; it
 * must stay open while `z` is used) into `z`.
 * Returns 0, or -1 with err set to "<path>: <problem>"; on failure `z`
 * holds nothing (zip_close is still safe). */
int zip_open(zip_archive *z, rfile *f);

/* Frees what zip_open allocated. NULL-safe, idempotent. */
void zip_close(zip_archive *z);

/* The entry named "<root>/<rel>", or NULL when absent. `len` is the
 * length of `rel` (need not be NUL-terminated). Cannot fail. */
const zip_entry *zip_find(const zip_archive *z, const char *rel, size_t len);

/* The entry's index in z->entries (e must come from z). Cannot fail. */
static inline size_t zip_index(const zip_archive *z, const zip_entry *e)
{
    return (size_t)(e - z->entries);
}

/* Reads (and for deflate, inflates) one entry into a new buffer of
 * e->size bytes plus a NUL byte; *out and *len receive it (the caller
 * frees *out). Refuses entries whose uncompressed size exceeds `cap`,
 * and contents whose CRC-32 differs from the central directory's.
 * Returns 0, or -1 with err set ("<path>: <name>: ...") and *out NULL. */
int zip_read_entry(const zip_archive *z, const zip_entry *e, size_t cap,
                   unsigned char **out, size_t *len);

#endif
