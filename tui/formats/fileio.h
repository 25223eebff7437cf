/* fileio.h: bounded, counted reads from checkpoint files.
 *
 * Every read of a checkpoint goes through here, so the program can say
 * how many bytes it read (TUI_TIMING=1) and no reader does its own I/O.
 */
#ifndef TUI_FORMATS_FILEIO_H
#define TUI_FORMATS_FILEIO_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int fd;
    uint64_t size;    /* file size at open */
    const char *path; /* borrowed from the caller, for messages */
} rfile;

/* Opens a regular file for reading. Returns 0, or -1 with err set
 * ("path: No such file or directory", "path: not a regular file"). */
int rfile_open(rfile *f, const char *path);

/* Reads exactly `len` bytes at `off`. Returns 0, or -1 with err set
 * ("path: truncated: N bytes at offset O run past the end (size S)").
 * The message names the file. */
int rfile_pread(rfile *f, void *buf, size_t len, uint64_t off);

/* Closes the file; safe on a closed or zeroed rfile. */
void rfile_close(rfile *f);

/* Bytes read through rfile_pread by this process so far. */
uint64_t fileio_bytes_read(void);

/* Number of rfile_pread calls so far. */
uint64_t fileio_reads(void);

#endif
