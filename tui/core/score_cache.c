/* score_cache.c: the spectral scores on disk (score_cache.h): where, the
 * stamps and samples that tell a stale cache, reading and writing. */
#include "score_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "err.h"
#include "fingerprint.h"

#define MAGIC "tui-snr\n"
#define HEAD_BYTES (8 + 4 + 4 + 8 + 64) /* magic .. fingerprint */
#define FILE_BYTES 24
#define ENTRY_BYTES (4 + 8 * 6)         /* without the name */
#define SAMPLE_BYTES 256                /* per window; three windows */
#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

int score_cache_tensor_ok(const table *t, size_t i)
{
    const table_tensor *x = table_at(t, i);
    if (x->kind != TK_PARAMETER || x->ndim == 0 || x->numel == 0 ||
        (x->flags & TF_SPARSE))
        return 0;
    switch ((dtype)x->dtype) {
    case DT_F64: case DT_F32: case DT_F16: case DT_BF16:
    case DT_F8_E5M2: case DT_F8_E4M3: case DT_F8_E4M3FNUZ:
    case DT_F8_E5M2FNUZ:
        return 1;
    default:
        return 0;
    }
}

void score_cache_dims(const table *t, size_t i, uint64_t *m, uint64_t *n)
{
    const table_tensor *x = table_at(t, i);
    *m = x->ndim == 1 || table_shape(t, i)[0] == 0 ? 1 : table_shape(t, i)[0];
    *n = x->numel / *m;
}

int score_cache_open(score_cache *c, const table *t)
{
    memset(c, 0, sizeof *c);
    c->count = t->count;
    c->e = calloc(t->count ? t->count : 1, sizeof *c->e);
    c->stamp = calloc(t->nfiles ? t->nfiles : 1, sizeof *c->stamp);
    if (!c->e || !c->stamp || bitset_init(&c->have, t->count)) {
        score_cache_free(c);
        return err_set("out of memory");
    }
    c->nfiles = t->nfiles;
    for (size_t f = 0; f < t->nfiles; f++) {
        struct stat st;
        if (stat(table_file_path(t, f), &st) < 0) {
            err_set("%s: %s", table_file_path(t, f), strerror(errno));
            score_cache_free(c);
            return -1;
        }
        c->stamp[f].size = (uint64_t)st.st_size;
        c->stamp[f].sec = (int64_t)st.st_mtim.tv_sec;
        c->stamp[f].nsec = (uint32_t)st.st_mtim.tv_nsec;
    }
    return 0;
}

void score_cache_free(score_cache *c)
{
    if (!c)
        return;
    free(c->e);
    free(c->stamp);
    bitset_free(&c->have);
    memset(c, 0, sizeof *c);
}

void score_cache_put(score_cache *c, size_t i, const score_entry *e)
{
    if (!bitset_get(&c->have, i)) {
        bitset_set(&c->have, i);
        c->n++;
    }
    c->e[i] = *e;
}

/* The cache folder into buf: 1, 0 when off, -1 with err set. */
static int cache_dir(char *buf, size_t cap)
{
    const char *own = getenv("TUI_CACHE_DIR");
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    buf[0] = '\0';
    if (own && own[0] && strcmp(own, "off") == 0)
        return 0;
    if (own && own[0])
        n = snprintf(buf, cap, "%s/scores", own);
    else if (xdg && xdg[0] == '/')
        n = snprintf(buf, cap, "%s/tui/scores", xdg);
    else if (home && home[0])
        n = snprintf(buf, cap, "%s/.cache/tui/scores", home);
    else
        return err_set("no folder for the score cache: neither "
                       "XDG_CACHE_HOME nor HOME is set");
    if (n < 0 || (size_t)n >= cap)
        return err_set("score cache folder path too long");
    return 1;
}

int score_cache_path(const table *t, char *buf, size_t cap)
{
    char fp[FINGERPRINT_LEN + 1];
    int rc = cache_dir(buf, cap);
    if (rc <= 0)
        return rc;
    size_t len = strlen(buf);
    if (table_fingerprint(t, fp))
        return -1;
    int n = snprintf(buf + len, cap - len, "/%s.snr", fp + 7);
    if (n < 0 || (size_t)n >= cap - len)
        return err_set("score cache path too long");
    return 1;
}

/* --- the bytes --- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * FNV_PRIME;
    return h;
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int k = 0; k < 8; k++)
        p[k] = (unsigned char)(v >> (8 * k));
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        p[k] = (unsigned char)(v >> (8 * k));
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--)
        v = v << 8 | p[k];
    return v;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t dbits(double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    return v;
}

static double bitsd(uint64_t v)
{
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

/* Reads tensor samples, keeping the last file open. */
typedef struct {
    const table *t;
    int fd;
    size_t file;
} sampler;

/* The sample hash of tensor i: its offset and size, then the bytes of
 * three windows of its range (start, middle, end; clipped to the file)
 * and how many were there. Returns 0, or -1 with err set (its file
 * cannot be opened or read). */
static int sample(sampler *s, size_t i, uint64_t *out)
{
    const table_tensor *x = table_at(s->t, i);
    unsigned char buf[SAMPLE_BYTES + 8];
    put64(buf, x->offset);
    put64(buf + 8, x->nbytes);
    uint64_t h = fnv(FNV_OFFSET, buf, 16);
    *out = h;
    if (x->file >= s->t->nfiles)
        return 0;
    const char *path = table_file_path(s->t, x->file);
    if (s->fd < 0 || s->file != x->file) {
        if (s->fd >= 0)
            close(s->fd);
        s->file = x->file;
        s->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (s->fd < 0)
            return err_set("%s: %s", path, strerror(errno));
    }
    uint64_t len = x->nbytes < SAMPLE_BYTES ? x->nbytes : SAMPLE_BYTES;
    uint64_t at[3] = {0, (x->nbytes - len) / 2, x->nbytes - len};
    for (int w = 0; w < 3; w++) {
        uint64_t off;
        ssize_t got = 0;
        if (!__builtin_add_overflow(x->offset, at[w], &off) &&
            off <= (uint64_t)INT64_MAX - SAMPLE_BYTES)
            got = pread(s->fd, buf, (size_t)len, (off_t)off);
        if (got < 0)
            return err_set("%s: %s", path, strerror(errno));
        put64(buf + got, (uint64_t)got);
        h = fnv(h, buf, (size_t)got + 8);
    }
    *out = h;
    return 0;
}

static void sampler_end(sampler *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

/* The most bytes a cache for t can hold. */
static uint64_t max_bytes(const table *t)
{
    uint64_t n = HEAD_BYTES + 8 + 8 + (uint64_t)t->nfiles * FILE_BYTES;
    for (size_t i = 0; i < t->count; i++)
        if (score_cache_tensor_ok(t, i))
            n += ENTRY_BYTES + table_at(t, i)->name_len;
    return n;
}

/* mkdir -p, 0700. Returns 0, or -1 with err set. */
static int make_dirs(char *path)
{
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        int rc = mkdir(path, 0700);
        int e = errno;
        *p = c;
        if (rc < 0 && e != EEXIST) {
            *p = '\0';
            err_set("%s: %s", path, strerror(e));
            *p = c;
            return -1;
        }
        if (c == '\0')
            return 0;
    }
}

int score_cache_save(const score_cache *c, const table *t)
{
    char path[4096], fp[FINGERPRINT_LEN + 1];
    int rc = score_cache_path(t, path, sizeof path);
    if (rc <= 0)
        return rc < 0 ? err_prefix("score cache not written") : 0;
    if (table_fingerprint(t, fp))
        return err_prefix("score cache not written");
    uint64_t size = HEAD_BYTES + 8 + 8 + (uint64_t)c->nfiles * FILE_BYTES;
    for (size_t i = 0; i < c->count; i++)
        if (bitset_get(&c->have, i))
            size += ENTRY_BYTES + table_at(t, i)->name_len;
    unsigned char *b = malloc((size_t)size);
    sampler s = {t, -1, 0};
    rc = -1;
    if (!b) {
        err_set("out of memory");
        goto out;
    }
    unsigned char *p = b;
    memcpy(p, MAGIC, 8);
    put32(p + 8, SCORE_CACHE_VERSION);
    put32(p + 12, (uint32_t)c->nfiles);
    put64(p + 16, (uint64_t)(int64_t)time(NULL));
    memcpy(p + 24, fp + 7, 64);
    p += HEAD_BYTES;
    for (size_t f = 0; f < c->nfiles; f++, p += FILE_BYTES) {
        put64(p, c->stamp[f].size);
        put64(p + 8, (uint64_t)c->stamp[f].sec);
        put32(p + 16, c->stamp[f].nsec);
        put32(p + 20, 0);
    }
    put64(p, c->n);
    p += 8;
    for (size_t i = 0; i < c->count; i++) {
        if (!bitset_get(&c->have, i))
            continue;
        const score_entry *e = &c->e[i];
        uint32_t len = table_at(t, i)->name_len;
        uint64_t h;
        if (sample(&s, i, &h))
            goto out;
        put32(p, len);
        memcpy(p + 4, table_name(t, i), len);
        p += 4 + len;
        put64(p, h);
        put64(p + 8, e->m);
        put64(p + 16, e->n);
        put64(p + 24, dbits(e->score));
        put64(p + 32, dbits(e->snr));
        put64(p + 40, dbits(e->smax));
        p += 48;
    }
    put64(p, fnv(FNV_OFFSET, b, (size_t)(p - b)));
    size_t dirlen = strrchr(path, '/') - path;
    path[dirlen] = '\0';
    if (make_dirs(path))
        goto out;
    path[dirlen] = '/';
    rc = atomic_write(path, b, (size_t)size) == 0 ? 1 : -1;
out:
    sampler_end(&s);
    free(b);
    return rc < 0 ? err_prefix("score cache not written") : rc;
}

/* --- reading --- */

typedef struct {
    const unsigned char *b;
    size_t n, at;       /* bytes before the checksum; the cursor */
} cursor;

/* p = the next k bytes, or NULL when fewer are left. */
static const unsigned char *take(cursor *r, size_t k)
{
    if (k > r->n - r->at)
        return NULL;
    const unsigned char *p = r->b + r->at;
    r->at += k;
    return p;
}

/* Reads entry k at the cursor into c. Returns 0, or -1 with err set. */
static int parse_entry(score_cache *c, const table *t, cursor *r,
                       sampler *s, uint64_t k)
{
    const unsigned char *p = take(r, 4), *name = NULL;
    uint32_t len = p ? get32(p) : 0;
    if (p && (name = take(r, len)) != NULL)
        p = take(r, 48);
    if (!p || !name)
        return err_set("truncated at byte %zu", r->at);
    long i = len && len <= TABLE_MAX_NAME
                 ? table_find(t, (const char *)name, len) : -1;
    if (i < 0 || !score_cache_tensor_ok(t, (size_t)i))
        return err_set("entry %llu names no weight of the checkpoint",
                       (unsigned long long)k);
    const char *nm = table_name(t, (size_t)i);
    if (bitset_get(&c->have, (size_t)i))
        return err_set("'%s' twice", nm);
    uint64_t m, n, h;
    score_cache_dims(t, (size_t)i, &m, &n);
    if (get64(p + 8) != m || get64(p + 16) != n)
        return err_set("'%s': a matrix of another shape", nm);
    if (sample(s, (size_t)i, &h))
        return -1;
    if (h != get64(p))
        return err_set("the checkpoint changed since its scores were "
                       "cached ('%s': its bytes)", nm);
    score_entry e = {bitsd(get64(p + 24)), bitsd(get64(p + 32)),
                     bitsd(get64(p + 40)), m, n};
    score_cache_put(c, (size_t)i, &e);
    return 0;
}

/* Checks the file's bytes against t and fills c. Returns 0, or -1 with
 * err set to the reason. */
static int parse(score_cache *c, const table *t, const unsigned char *b,
                 size_t n)
{
    char fp[FINGERPRINT_LEN + 1];
    cursor r = {b, n - 8, 0};
    const unsigned char *p = take(&r, HEAD_BYTES);
    if (!p || memcmp(p, MAGIC, 8) != 0)
        return err_set("not a score cache");
    if (get32(p + 8) != SCORE_CACHE_VERSION)
        return err_set("version %u (this tui reads %u)", get32(p + 8),
                       SCORE_CACHE_VERSION);
    if (get64(b + n - 8) != fnv(FNV_OFFSET, b, n - 8))
        return err_set("damaged (checksum)");
    if (table_fingerprint(t, fp))
        return -1;
    if (memcmp(p + 24, fp + 7, 64) != 0)
        return err_set("made for another tensor list");
    uint32_t nfiles = get32(p + 12);
    int64_t created = (int64_t)get64(p + 16);
    if (nfiles != c->nfiles)
        return err_set("the checkpoint changed since its scores were cached "
                       "(%u files, now %zu)", nfiles, c->nfiles);
    for (size_t f = 0; f < nfiles; f++) {
        if (!(p = take(&r, FILE_BYTES)))
            return err_set("truncated at byte %zu", r.at);
        if (get64(p) != c->stamp[f].size ||
            (int64_t)get64(p + 8) != c->stamp[f].sec ||
            get32(p + 16) != c->stamp[f].nsec)
            return err_set("the checkpoint changed since its scores were "
                           "cached (%s: size or time)", table_file_path(t, f));
    }
    if (!(p = take(&r, 8)))
        return err_set("truncated at byte %zu", r.at);
    uint64_t count = get64(p);
    if (count > t->count)
        return err_set("%llu entries, more than the checkpoint's %zu tensors",
                       (unsigned long long)count, t->count);
    sampler s = {t, -1, 0};
    int rc = 0;
    for (uint64_t k = 0; rc == 0 && k < count; k++)
        rc = parse_entry(c, t, &r, &s, k);
    sampler_end(&s);
    if (rc == 0 && r.at != r.n)
        rc = err_set("%zu bytes after the last entry", r.n - r.at);
    if (rc == 0)
        c->created = created;
    return rc;
}

int score_cache_load(score_cache *c, const table *t)
{
    char path[4096];
    int rc = score_cache_path(t, path, sizeof path);
    if (rc <= 0)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
        return 0;
    struct stat st;
    unsigned char *b = NULL;
    size_t n = 0;
    rc = -1;
    if (fd < 0 || fstat(fd, &st) < 0) {
        err_set("%s", strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        err_set("not a regular file");
    } else if ((uint64_t)st.st_size > max_bytes(t)) {
        err_set("%llu bytes, more than scores of this checkpoint take",
                (unsigned long long)st.st_size);
    } else if ((size_t)st.st_size < HEAD_BYTES + 8) {
        err_set("truncated at byte %llu", (unsigned long long)st.st_size);
    } else if (!(b = malloc((size_t)st.st_size))) {
        err_set("out of memory");
    } else {
        while (n < (size_t)st.st_size) {
            ssize_t k = read(fd, b + n, (size_t)st.st_size - n);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                break;
            n += (size_t)k;
        }
        if (n < (size_t)st.st_size)
            err_set("truncated at byte %zu", n);
        else
            rc = parse(c, t, b, n);
    }
    if (fd >= 0)
        close(fd);
    free(b);
    if (rc == 0)
        return 1;
    bitset_zero(&c->have);
    c->n = 0;
    c->created = 0;
    return err_prefix("ignoring the score cache %s", path);
}
