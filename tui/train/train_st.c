/* train_st.c: writing safetensors files (checkpoints' state files and
 * the run's weights), through core/atomic's writer, and removing a
 * checkpoint folder. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/atomic.h"
#include "../core/err.h"
#include "../core/jsonw.h"
#include "train_impl.h"

/* The header: 8 bytes of length, then the JSON padded with spaces to a
 * multiple of 8. *out malloc'ed. Returns 0, or -1 with err set. */
static int st_header(const st_entry *e, size_t n, const char *const *meta,
                     size_t nmeta, char **out, size_t *len, uint64_t *maxb)
{
    char *buf = NULL;
    size_t blen = 0;
    uint64_t off = 0;
    FILE *f = open_memstream(&buf, &blen);
    if (!f)
        return err_set("out of memory");
    fwrite("\0\0\0\0\0\0\0\0{", 1, 9, f);
    if (nmeta) {
        fputs("\"__metadata__\":{", f);
        for (size_t i = 0; i < nmeta; i++) {
            fputs(i ? "," : "", f);
            jsonw_string(f, meta[2 * i], strlen(meta[2 * i]));
            putc(':', f);
            jsonw_string(f, meta[2 * i + 1], strlen(meta[2 * i + 1]));
        }
        putc('}', f);
    }
    *maxb = 1;
    for (size_t i = 0; i < n; i++) {
        fputs(nmeta || i ? "," : "", f);
        jsonw_string(f, e[i].name, strlen(e[i].name));
        fputs(":{\"dtype\":", f);
        jsonw_string(f, e[i].dtype, strlen(e[i].dtype));
        fputs(",\"shape\":[", f);
        for (unsigned d = 0; d < e[i].ndim; d++)
            fprintf(f, "%s%lld", d ? "," : "", (long long)e[i].shape[d]);
        fprintf(f, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                (unsigned long long)(off + e[i].nbytes));
        off += e[i].nbytes;
        if (e[i].nbytes > *maxb)
            *maxb = e[i].nbytes;
    }
    putc('}', f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || !buf) {
        free(buf);
        return err_set("out of memory");
    }
    size_t hlen = blen - 8, pad = (8 - hlen % 8) % 8;
    char *nb = realloc(buf, blen + pad);
    if (!nb) {
        free(buf);
        return err_set("out of memory");
    }
    memset(nb + blen, ' ', pad);
    hlen += pad;
    for (int i = 0; i < 8; i++)
        nb[i] = (char)(unsigned char)((uint64_t)hlen >> (8 * i));
    *out = nb;
    *len = blen + pad;
    return 0;
}

/* Where the bytes go: an atomic_file (replace), or a new file (fd). */
typedef struct {
    atomic_file af;
    int fd, replace;
    const char *path;
} st_sink;

static int sink_put(st_sink *k, const void *p, size_t n)
{
    if (k->replace)
        return atomic_put(&k->af, p, n);
    if (atomic_write_all(k->fd, p, n) < 0)
        return err_set("%s: %s", k->path, strerror(errno));
    return 0;
}

int st_write(const char *path, int replace, const st_entry *e, size_t n,
             const char *const *meta, size_t nmeta, st_fill_fn fill,
             void *ctx)
{
    int rc = -1, made = 0;
    char *head = NULL;
    size_t hlen = 0;
    void *buf = NULL;
    uint64_t maxb = 1;
    st_sink k = {.fd = -1, .replace = replace, .path = path};
    if (st_header(e, n, meta, nmeta, &head, &hlen, &maxb) < 0)
        return -1;
    if (maxb > SIZE_MAX || !(buf = malloc((size_t)maxb))) {
        err_set("out of memory");
        goto cleanup;
    }
    if (replace) {
        if (atomic_open(&k.af, path) < 0)
            goto cleanup;
    } else if ((k.fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                            0644)) < 0) {
        err_set("%s: %s", path, strerror(errno));
        goto cleanup;
    }
    made = 1;
    if (sink_put(&k, head, hlen) < 0)
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        if (!e[i].nbytes)
            continue;
        if (fill(ctx, i, buf, (size_t)e[i].nbytes) < 0 ||
            sink_put(&k, buf, (size_t)e[i].nbytes) < 0)
            goto cleanup;
    }
    if (replace) {
        made = 0; /* committed or removed, either way released */
        rc = atomic_commit(&k.af);
        goto cleanup;
    }
    if (fsync(k.fd) < 0) {
        err_set("%s: %s", path, strerror(errno));
        goto cleanup;
    }
    int fd = k.fd;
    k.fd = -1;
    if (close(fd) < 0) {
        err_set("%s: %s", path, strerror(errno));
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (made && replace && rc < 0)
        atomic_abort(&k.af);
    if (k.fd >= 0)
        close(k.fd);
    if (made && !replace && rc < 0)
        unlink(path);
    free(buf);
    free(head);
    return rc;
}

void train_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        char p[4200];
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}
