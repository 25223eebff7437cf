/* formats.h: open a checkpoint into a tensor table, whatever its format.
 *
 * The reader is chosen by the file's content, never by its extension.
 * Every reader runs no code from the file, validates every size against
 * the file, and bounds every count (docs/limits.md). On failure the
 * message (err_msg) names the file and the problem.
 */
#ifndef TUI_FORMATS_FORMATS_H
#define TUI_FORMATS_FORMATS_H

#include "../core/table.h"

/* Opens the checkpoint at `path`: a safetensors file, a sharded index
 * (*.safetensors.index.json, pytorch_model.bin.index.json), a folder
 * holding one of those or a single checkpoint, a torch.save zip, a
 * TorchScript archive. Fills the empty table `t` and links its tied
 * parameters (table_link_ties).
 * Returns 0, or -1 with err set; on failure `t` holds whatever was
 * added before the error and must still be table_free'd. */
int formats_open(const char *path, table *t);

/* --- the readers, each appending to `t` (used by formats_open) --- */

/* One safetensors file: adds the file (table_add_file) and gives its
 * tensors that index. Returns 0 or -1 with err set. */
int safetensors_read(const char *path, table *t);

/* Parses a safetensors header already in memory: `buf` holds the whole
 * first `len` bytes of a file of `file_size` bytes (len may be less than
 * file_size; it must cover 8 + N). Tensors get file index `file` and
 * absolute offsets. Used by safetensors_read and the fuzz target.
 * Returns 0 or -1 with err set (message without the file name). */
int safetensors_parse(const unsigned char *buf, size_t len,
                      uint64_t file_size, uint32_t file, table *t);

/* A sharded set through its index JSON (safetensors or .bin shards).
 * Returns 0 or -1 with err set. */
int index_read(const char *index_path, table *t);

/* A torch.save zip (plain state_dict or nested training checkpoint) or a
 * TorchScript archive, told apart by constants.pkl.
 * Returns 0 or -1 with err set. */
int torchzip_read(const char *path, table *t);

#endif
