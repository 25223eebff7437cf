/* sniff.h: say what a file is when it is not a checkpoint.
 *
 * formats_open chooses a reader by the first bytes; when none of them
 * fits, sniff_file looks at the first SNIFF_HEAD bytes (and, for a zip
 * with bytes in front of it, the end record in the last 64 KiB) and names
 * what the file looks like: "looks like text", "a PNG image", "a pickle
 * of protocol 0 or 1 ...". A file it does not recognize is left to the
 * safetensors reader, whose checks say what is wrong.
 *
 * sniff_pickle_model looks at the pickle of a torch.save archive that the
 * unpickler refused, and tells a whole pickled model (torch.save(model))
 * from anything else, so the refusal can say what to save instead.
 *
 * Nothing here runs or decodes the file beyond these byte patterns.
 */
#ifndef TUI_FORMATS_SNIFF_H
#define TUI_FORMATS_SNIFF_H

#include <stddef.h>

#define SNIFF_HEAD 512u

/* What the file at `path` is, as a phrase after "not a checkpoint: "
 * (written NUL-terminated into buf, cap bytes, truncated to fit).
 * Returns 1 when recognized, 0 when not (buf holds ""), -1 with err set
 * when the file cannot be read. */
int sniff_file(const char *path, char *buf, size_t cap);

/* What the first `n` bytes `b` of a file of `size` bytes look like;
 * the part of sniff_file that needs no reading (the zip-with-a-prefix
 * case needs the file's end and is sniff_file's). Same result values,
 * never -1. Used by the unit test. */
int sniff_bytes(const unsigned char *b, size_t n, unsigned long long size,
                char *buf, size_t cap);

/* Whether the pickle `pkl` (len bytes) is a pickled nn.Module: its first
 * object is built (GLOBAL, EMPTY_TUPLE, NEWOBJ) from a class whose state
 * holds nn.Module's "_parameters" and "_modules", as torch.save(model)
 * writes. Writes "module.Class" into cls (cap bytes) and returns 1; when
 * the module object is inside a dict (a training checkpoint saving the
 * model itself), writes "" and returns 2; returns 0 otherwise. Cannot
 * fail. */
int sniff_pickle_model(const unsigned char *pkl, size_t len, char *cls,
                       size_t cap);

#endif
