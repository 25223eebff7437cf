/* train_st.c: writing safetensors files, and the durable-file helpers
 * (fsync, publish by rename) of checkpoints and outputs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/err.h"
#include "train_impl.h"

typedef struct {
    char *b;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *s, const char *p, size_t n)
{
    if (s->oom)
        return;
    if (s->n + n + 1 > s->cap) {
        size_t c = s->cap ? s->cap : 1024;
        while (c < s->n + n + 1)
            c *= 2;
        char *nb = realloc(s->b, c);
        if (!nb) {
            s->oom = 1;
            return;
        }
        s->b = nb;
        s->cap = c;
    }
    memcpy(s->b + s->n, p, n);
    s->n += n;
    s->b[s->n] = '\0';
}

static void sb_str(sbuf *s, const char *p)
{
    sb_put(s, p, strlen(p));
}

/* A JSON string literal. */
static void sb_json(sbuf *s, const char *p)
{
    sb_put(s, "\"", 1);
    for (; *p; p++) {
        unsigned char c = (unsigned char)*p;
        char e[8];
        if (c == '"' || c == '\\') {
            e[0] = '\\';
            e[1] = (char)c;
            sb_put(s, e, 2);
        } else if (c < 0x20) {
            snprintf(e, sizeof e, "\\u%04x", c);
            sb_put(s, e, 6);
        } else {
            sb_put(s, p, 1);
        }
    }
    sb_put(s, "\"", 1);
}

static int write_all(int fd, const void *p, size_t n, const char *path)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return err_set("%s: %s", path, strerror(errno));
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int st_write(const char *path, const st_entry *e, size_t n,
             const char *const *meta, size_t nmeta, st_fill_fn fill,
             void *ctx)
{
    int rc = -1, fd = -1;
    sbuf h = {0};
    void *buf = NULL;
    uint64_t off = 0, maxb = 1;
    char num[64];
    sb_str(&h, "{");
    if (nmeta) {
        sb_str(&h, "\"__metadata__\":{");
        for (size_t i = 0; i < nmeta; i++) {
            if (i)
                sb_str(&h, ",");
            sb_json(&h, meta[2 * i]);
            sb_str(&h, ":");
            sb_json(&h, meta[2 * i + 1]);
        }
        sb_str(&h, "}");
    }
    for (size_t i = 0; i < n; i++) {
        if (nmeta || i)
            sb_str(&h, ",");
        sb_json(&h, e[i].name);
        sb_str(&h, ":{\"dtype\":");
        sb_json(&h, e[i].dtype);
        sb_str(&h, ",\"shape\":[");
        for (unsigned d = 0; d < e[i].ndim; d++) {
            snprintf(num, sizeof num, "%s%lld", d ? "," : "",
                     (long long)e[i].shape[d]);
            sb_str(&h, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}",
                 (unsigned long long)off,
                 (unsigned long long)(off + e[i].nbytes));
        sb_str(&h, num);
        off += e[i].nbytes;
        if (e[i].nbytes > maxb)
            maxb = e[i].nbytes;
    }
    sb_str(&h, "}");
    while (!h.oom && h.n % 8)
        sb_str(&h, " ");
    if (h.oom || !(buf = malloc((size_t)maxb))) {
        err_set("out of memory");
        goto cleanup;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        err_set("%s: %s", path, strerror(errno));
        goto cleanup;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)h.n >> (8 * i));
    if (write_all(fd, len8, 8, path) < 0 || write_all(fd, h.b, h.n, path) < 0)
        goto cleanup;
    for (size_t i = 0; i < n; i++) {
        if (!e[i].nbytes)
            continue;
        if (fill(ctx, i, buf, (size_t)e[i].nbytes) < 0 ||
            write_all(fd, buf, (size_t)e[i].nbytes, path) < 0)
            goto cleanup;
    }
    if (fsync(fd) < 0) {
        err_set("%s: %s", path, strerror(errno));
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (fd >= 0 && close(fd) < 0 && rc == 0)
        rc = err_set("%s: %s", path, strerror(errno));
    if (rc < 0 && fd >= 0)
        unlink(path);
    free(buf);
    free(h.b);
    return rc;
}

int train_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return err_set("%s: %s", dir, strerror(errno));
    int r = fsync(fd);
    int e = errno;
    close(fd);
    if (r < 0 && e != EINVAL)
        return err_set("%s: %s", dir, strerror(e));
    return 0;
}

int train_publish(const char *dir, const char *name,
                  int (*write_fn)(const char *tmp, void *ctx), void *ctx)
{
    char tmp[4200], dst[4200];
    snprintf(tmp, sizeof tmp, "%s/.%s.tui-tmp.%ld", dir, name, (long)getpid());
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    unlink(tmp);
    if (write_fn(tmp, ctx) < 0) {
        unlink(tmp);
        return -1;
    }
    int fd = open(tmp, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        int r = fsync(fd);
        close(fd);
        if (r < 0) {
            unlink(tmp);
            return err_set("%s: %s", tmp, strerror(errno));
        }
    }
    if (rename(tmp, dst) < 0) {
        int e = errno;
        unlink(tmp);
        return err_set("%s: %s", dst, strerror(e));
    }
    return train_fsync_dir(dir);
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
