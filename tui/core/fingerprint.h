/* fingerprint.h: a checksum that ties a plan to a checkpoint's tensor list.
 *
 * The fingerprint is "sha256:" and 64 lower-case hex digits of the model
 * tensors (kind parameter or buffer; optimizer state and other tensors
 * are left out), sorted by name bytewise, each serialized as
 *     name TAB DTYPE TAB d0,d1,...,dn LF
 * (DTYPE as dtype_name() gives it, "F32"; a scalar has an empty shape
 * field). Offsets, files, formats and the bytes themselves do not take
 * part, so the same model saved as safetensors or as a .bin gives the
 * same fingerprint. docs/plan-format.md documents the canonical form.
 */
#ifndef TUI_CORE_FINGERPRINT_H
#define TUI_CORE_FINGERPRINT_H

#include "table.h"

#define FINGERPRINT_LEN 71 /* "sha256:" + 64 hex; out[] holds 72 with NUL */

/* Writes the fingerprint of `t` into `out` (NUL-terminated). The table is
 * untouched. Returns 0, or -1 with err set (out of memory). */
int table_fingerprint(const table *t, char out[72]);

#endif
