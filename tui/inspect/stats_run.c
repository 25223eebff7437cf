/* stats_run.c: streaming a table's tensors through mmap windows on
 * several threads (stats.h). */
#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/err.h"

int stats_tensor_span(const table *t, size_t i, uint64_t *span)
{
    const table_tensor *x = table_at(t, i);
    const uint64_t *st = table_strides(t, i), *sh = table_shape(t, i);
    uint64_t esz = dtype_bits((dtype)x->dtype) / 8;
    if (!st || x->numel == 0) {
        *span = x->numel ? x->nbytes : 0;
        return 0;
    }
    uint64_t last = 0, a;
    for (unsigned d = 0; d < x->ndim; d++)
        if (__builtin_mul_overflow(sh[d] - 1, st[d], &a) ||
            __builtin_add_overflow(last, a, &last))
            return -1;
    if (__builtin_add_overflow(last, 1, &last) ||
        __builtin_mul_overflow(last, esz, span))
        return -1;
    return 0;
}

static int selected(const bitset *sel, size_t i)
{
    return !sel || bitset_get(sel, i);
}

int stats_check(const table *t, const bitset *sel)
{
    for (size_t i = 0; i < t->count; i++) {
        if (!selected(sel, i))
            continue;
        const table_tensor *x = table_at(t, i);
        const char *path = table_file_path(t, x->file), *name = table_name(t, i);
        uint64_t span, end;
        struct stat st;
        if (!stats_dtype_ok((dtype)x->dtype))
            return err_set("%s: tensor '%s': dtype %s has no real values to "
                           "take statistics of", path, name,
                           dtype_name((dtype)x->dtype));
        if (x->flags & TF_SPARSE)
            return err_set("%s: tensor '%s': sparse tensors have no "
                           "statistics", path, name);
        if (stat(path, &st) != 0)
            return err_set("%s: %s", path, strerror(errno));
        if (stats_tensor_span(t, i, &span) ||
            __builtin_add_overflow(x->offset, span, &end))
            return err_set("%s: tensor '%s': byte range overflows", path,
                           name);
        if (end > (uint64_t)st.st_size)
            return err_set("%s: tensor '%s': %llu bytes at offset %llu run "
                           "past the end (size %llu)", path, name,
                           (unsigned long long)span,
                           (unsigned long long)x->offset,
                           (unsigned long long)st.st_size);
    }
    return 0;
}

/* Maps [off, off + len) of fd; base and maplen get what to munmap. */
static const unsigned char *map_range(int fd, uint64_t off, uint64_t len,
                                      void **base, size_t *maplen)
{
    uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t start = off - off % pg;
    *maplen = (size_t)(len + (off - start));
    *base = mmap(NULL, *maplen, PROT_READ, MAP_PRIVATE, fd, (off_t)start);
    if (*base == MAP_FAILED)
        return NULL;
    madvise(*base, *maplen, MADV_SEQUENTIAL);
    return (const unsigned char *)*base + (off - start);
}

typedef struct {
    const table *t;
    const size_t *todo;     /* selected tensor indices */
    size_t ntodo;
    tensor_stats *out;
    atomic_size_t next;
    atomic_ulong done_bytes;
    atomic_uint running;
    pthread_mutex_t lock;
    char err[1024];         /* the first error, "" when none */
    atomic_int failed;
} job;

static void job_fail(job *j, const char *fmt, const char *a, const char *b)
{
    pthread_mutex_lock(&j->lock);
    if (!j->err[0])
        snprintf(j->err, sizeof j->err, fmt, a, b);
    pthread_mutex_unlock(&j->lock);
    atomic_store(&j->failed, 1);
}

/* Strided tensor: gathers elements by the odometer into blocks. */
static void add_strided(tensor_stats *s, const table *t, size_t i,
                        const unsigned char *p)
{
    const table_tensor *x = table_at(t, i);
    const uint64_t *st = table_strides(t, i), *sh = table_shape(t, i);
    size_t esz = dtype_bits((dtype)x->dtype) / 8;
    uint64_t idx[TABLE_MAX_DIMS] = {0};
    unsigned char buf[STATS_BLOCK * 8];
    size_t k = 0;
    for (uint64_t e = 0; e < x->numel; e++) {
        uint64_t off = 0;
        for (unsigned d = 0; d < x->ndim; d++)
            off += idx[d] * st[d];
        memcpy(buf + k * esz, p + off * esz, esz);
        if (++k == STATS_BLOCK) {
            stats_add_raw(s, (dtype)x->dtype, buf, k);
            k = 0;
        }
        for (unsigned d = x->ndim; d-- > 0;) {
            if (++idx[d] < sh[d])
                break;
            idx[d] = 0;
        }
    }
    if (k)
        stats_add_raw(s, (dtype)x->dtype, buf, k);
}

/* One tensor. Returns 0, or -1 after job_fail. */
static int one_tensor(job *j, size_t i)
{
    const table *t = j->t;
    const table_tensor *x = table_at(t, i);
    const char *path = table_file_path(t, x->file);
    dtype d = (dtype)x->dtype;
    uint64_t esz = dtype_bits(d) / 8, span;
    tensor_stats s;
    stats_init(&s);
    if (x->numel == 0 || stats_tensor_span(t, i, &span) || span == 0) {
        j->out[i] = s;
        return 0;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        job_fail(j, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    void *base;
    size_t maplen;
    if (table_strides(t, i)) {
        const unsigned char *p = map_range(fd, x->offset, span, &base,
                                           &maplen);
        if (p) {
            add_strided(&s, t, i, p);
            munmap(base, maplen);
            atomic_fetch_add(&j->done_bytes, x->nbytes);
        }
        rc = p ? 0 : -1;
    } else {
        uint64_t per = STATS_WINDOW / esz, pos = 0;
        while (pos < x->numel && !atomic_load(&j->failed)) {
            uint64_t n = x->numel - pos < per ? x->numel - pos : per;
            const unsigned char *p = map_range(fd, x->offset + pos * esz,
                                               n * esz, &base, &maplen);
            if (!p) {
                rc = -1;
                break;
            }
            stats_add_raw(&s, d, p, n);
            munmap(base, maplen);
            atomic_fetch_add(&j->done_bytes, n * esz);
            pos += n;
        }
    }
    if (rc)
        job_fail(j, "%s: mmap: %s", path, strerror(errno));
    close(fd);
    j->out[i] = s;
    return rc;
}

static void *worker(void *arg)
{
    job *j = arg;
    for (;;) {
        size_t k = atomic_fetch_add(&j->next, 1);
        if (k >= j->ntodo || atomic_load(&j->failed) ||
            one_tensor(j, j->todo[k]))
            break;
    }
    atomic_fetch_sub(&j->running, 1);
    return NULL;
}

int stats_run(const table *t, const bitset *sel, tensor_stats *out,
              unsigned threads, stats_progress_fn progress, void *ctx)
{
    if (stats_check(t, sel))
        return -1;
    job j;
    memset(&j, 0, sizeof j);
    j.t = t;
    j.out = out;
    size_t *todo = malloc((t->count ? t->count : 1) * sizeof *todo);
    pthread_t *tid = NULL;
    if (!todo)
        return err_set("out of memory");
    uint64_t total = 0;
    for (size_t i = 0; i < t->count; i++)
        if (selected(sel, i)) {
            todo[j.ntodo++] = i;
            total += table_at(t, i)->nbytes;
        }
    j.todo = todo;
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 1;
    }
    if (threads > j.ntodo)
        threads = j.ntodo ? (unsigned)j.ntodo : 1;
    if (threads > 256)
        threads = 256;
    tid = malloc(threads * sizeof *tid);
    int rc = -1;
    if (!tid) {
        err_set("out of memory");
        goto out;
    }
    pthread_mutex_init(&j.lock, NULL);
    unsigned started = 0;
    atomic_store(&j.running, threads);
    for (; started < threads; started++)
        if (pthread_create(&tid[started], NULL, worker, &j) != 0)
            break;
    atomic_fetch_sub(&j.running, threads - started);
    if (started == 0) { /* no thread could start: do it here */
        atomic_store(&j.running, 1);
        worker(&j);
    }
    while (progress && atomic_load(&j.running) > 0) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        progress(ctx, atomic_load(&j.done_bytes), total);
        nanosleep(&ts, NULL);
    }
    for (unsigned k = 0; k < started; k++)
        pthread_join(tid[k], NULL);
    pthread_mutex_destroy(&j.lock);
    if (progress)
        progress(ctx, atomic_load(&j.done_bytes), total);
    rc = j.err[0] ? err_set("%s", j.err) : 0;
out:
    free(tid);
    free(todo);
    return rc;
}
