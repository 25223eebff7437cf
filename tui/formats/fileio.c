/* fileio.c: bounded, counted reads (see fileio.h). */
#define _POSIX_C_SOURCE 200809L
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/err.h"

static uint64_t bytes_read;
static uint64_t read_calls;

int rfile_open(rfile *f, const char *path)
{
    struct stat st;
    f->fd = -1;
    f->size = 0;
    f->path = path;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set("%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return err_set("%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return err_set("%s: not a regular file", path);
    }
    f->fd = fd;
    f->size = (uint64_t)st.st_size;
    return 0;
}

int rfile_pread(rfile *f, void *buf, size_t len, uint64_t off)
{
    if (off > f->size || len > f->size - off)
        return err_set("%s: truncated: %zu bytes at offset %llu run past "
                       "the end (size %llu)", f->path, len,
                       (unsigned long long)off, (unsigned long long)f->size);
    size_t done = 0;
    read_calls++;
    while (done < len) {
        ssize_t n = pread(f->fd, (char *)buf + done, len - done,
                          (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return err_set("%s: %s", f->path, strerror(errno));
        if (n == 0)
            return err_set("%s: file shrank while reading", f->path);
        done += (size_t)n;
        bytes_read += (uint64_t)n;
    }
    return 0;
}

void rfile_close(rfile *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

uint64_t fileio_bytes_read(void)
{
    return bytes_read;
}

uint64_t fileio_reads(void)
{
    return read_calls;
}
