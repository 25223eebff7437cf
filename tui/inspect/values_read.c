/* values_read.c: tensors' elements through mmap (values.h). */
#include "values.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../core/err.h"
#include "stats.h"

int tensor_reader_open(tensor_reader *r, const table *t, size_t i)
{
    const table_tensor *x = table_at(t, i);
    const char *path = table_file_path(t, x->file);
    uint64_t span = 0, pg = (uint64_t)sysconf(_SC_PAGESIZE);
    memset(r, 0, sizeof *r);
    r->esz = dtype_bits((dtype)x->dtype) / 8;
    r->ndim = x->ndim;
    r->sh = table_shape(t, i);
    r->st = table_strides(t, i);
    if (x->numel == 0 || stats_tensor_span(t, i, &span) || span == 0)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set("%s: %s", path, strerror(errno));
    uint64_t start = x->offset - x->offset % pg;
    r->maplen = (size_t)(span + (x->offset - start));
    r->base = mmap(NULL, r->maplen, PROT_READ, MAP_PRIVATE, fd,
                   (off_t)start);
    int e = errno;
    close(fd);
    if (r->base == MAP_FAILED) {
        r->base = NULL;
        return err_set("%s: mmap: %s", path, strerror(e));
    }
    madvise(r->base, r->maplen, MADV_SEQUENTIAL);
    r->p = (const unsigned char *)r->base + (x->offset - start);
    return 0;
}

void tensor_reader_close(tensor_reader *r)
{
    if (r->base)
        munmap(r->base, r->maplen);
    r->base = NULL;
}

void tensor_reader_next(tensor_reader *r, unsigned char *buf, size_t n)
{
    if (!r->st) {
        memcpy(buf, r->p + r->pos * r->esz, n * r->esz);
        r->pos += n;
        return;
    }
    for (size_t k = 0; k < n; k++) {
        uint64_t off = 0;
        for (unsigned d = 0; d < r->ndim; d++)
            off += r->idx[d] * r->st[d];
        memcpy(buf + k * r->esz, r->p + off * r->esz, r->esz);
        for (unsigned d = r->ndim; d-- > 0;) {
            if (++r->idx[d] < r->sh[d])
                break;
            r->idx[d] = 0;
        }
    }
    r->pos += n;
}

