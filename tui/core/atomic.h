/* atomic.h: all-or-nothing file writes: plans, exported checkpoints,
 * the trainer's outputs, reports and metrics, and the state file of its
 * checkpoints (whose folder is then published by rename).
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

#define ATOMIC_TMP_MAX 264 /* a temp name: ".<base, 200 bytes at most>.tui-tmp.<pid>.<n>" */

/* A file being written: atomic_open, atomic_put as many times as
 * needed, then atomic_commit or atomic_abort (exactly one of them). */
typedef struct {
    int dfd, fd;          /* the folder (flock'ed) and the temp file */
    int have_tmp;
    char *path, *dir;     /* copies */
    const char *base;     /* in path */
    char tmp[ATOMIC_TMP_MAX];
} atomic_file;

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

/* The streaming form of atomic_write: atomic_open checks `path` as above,
 * locks its folder, removes stale temp files and creates the temp file
 * (returns 0, or -1 with err set and nothing left to release);
 * atomic_put appends `len` bytes ("path: No space left on device");
 * atomic_commit fsyncs, renames over `path` and fsyncs the folder;
 * atomic_abort removes the temp file. After atomic_commit (0 or -1) or
 * atomic_abort, `af` holds nothing; on any failure the old file is
 * untouched and the temp file removed. A failed atomic_put leaves `af`
 * open: the caller aborts. */
int atomic_open(atomic_file *af, const char *path);
int atomic_put(atomic_file *af, const void *buf, size_t len);
int atomic_commit(atomic_file *af);
void atomic_abort(atomic_file *af);

/* write() of all `len` bytes, through short writes and EINTR (a write of
 * 0 bytes is ENOSPC). Returns 0, or -1 with errno set (err untouched). */
int atomic_write_all(int fd, const void *buf, size_t len);

/* fsync of a folder (file systems that cannot: not an error). Returns 0,
 * or -1 with err set ("dir: reason"). */
int atomic_sync_dir(const char *dir);

#endif
