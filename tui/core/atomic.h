/* atomic.h: all-or-nothing file writes (plans, exported checkpoints).
 *
 * The bytes go to a hidden temp file in the target's folder
 * (".<base>.tui-tmp.<pid>.<n>", O_EXCL), which is written in full,
 * fsync'ed and renamed over the target; then the folder is fsync'ed.
 * A reader, a crash or a kill -9 sees the old file or the new one, never
 * a mix. One save at a time per folder: the folder is flock'ed while the
 * temp file exists, so a concurrent save from another process fails
 * cleanly instead of racing. Temp files left by dead processes (same
 * base name) are removed on the next save.
 */
#ifndef TUI_CORE_ATOMIC_H
#define TUI_CORE_ATOMIC_H

#include <stddef.h>

/* Replaces `path` with `len` bytes of `buf`. The new file gets the old
 * file's permission bits, or 0644 (less the umask) when there was none.
 * A symbolic link at `path` is replaced by the file, not followed; a
 * device, pipe or socket at `path` is refused (so -o /dev/null fails
 * instead of replacing the device).
 * Returns 0, or -1 with err set, naming the path and the reason:
 *   "plan.yaml: No space left on device"
 *   "plan.yaml: cannot write in runs: folder is read-only"
 *   "plan.yaml: another save is in progress in this folder"
 * On failure the temp file is removed and the old file is untouched.
 * `buf` is not modified. */
int atomic_write(const char *path, const void *buf, size_t len);

#endif
