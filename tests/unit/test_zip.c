/* test_zip.c: the zip directory reader on archives written here,
 * including a sparse zip64 archive with a 5 GiB member. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "../../tui/core/err.h"
#include "../../tui/formats/zip.h"
#include "check.h"

/* ---- a tiny zip writer (pwrite at offsets; gaps stay sparse) ---------- */

typedef struct {
    const char *name;
    const unsigned char *data; /* NULL: a sparse member of `size` zeros */
    uint64_t size;
    int deflate;
    uint64_t lho, csize;
    uint32_t crc;
    unsigned char *comp;
} wz_ent;

static int wz_err;

static void wr(int fd, const void *p, size_t n, uint64_t off)
{
    if (pwrite(fd, p, n, (off_t)off) != (ssize_t)n)
        wz_err = 1;
}

static void put16(unsigned char *p, unsigned v) { p[0] = v & 0xff; p[1] = (v >> 8) & 0xff; }
static void put32(unsigned char *p, uint32_t v) { put16(p, v & 0xffff); put16(p + 2, v >> 16); }
static void put64(unsigned char *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }

/* Writes the archive; `mutate` (may be NULL) edits central entry k. */
static int wz_write(const char *path, wz_ent *e, size_t n,
                    void (*mutate)(size_t k, unsigned char *cen))
{
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    uint64_t off = 0;
    unsigned char h[512];
    if (fd < 0)
        return -1;
    for (size_t k = 0; k < n; k++) {
        size_t nl = strlen(e[k].name);
        e[k].lho = off;
        e[k].crc = e[k].data ? (uint32_t)crc32(0, e[k].data, (uInt)e[k].size) : 0;
        e[k].csize = e[k].size;
        e[k].comp = NULL;
        if (e[k].deflate) {
            uLongf cl = compressBound((uLong)e[k].size);
            unsigned char *c = malloc(cl);
            compress(c, &cl, e[k].data, (uLong)e[k].size);
            e[k].comp = c;
            e[k].csize = cl - 6; /* raw deflate: drop zlib header/trailer */
        }
        memset(h, 0, 30);
        memcpy(h, "PK\3\4", 4);
        put16(h + 8, e[k].deflate ? 8 : 0);
        put16(h + 26, (unsigned)nl);
        memcpy(h + 30, e[k].name, nl);
        wr(fd, h, 30 + nl, off);
        off += 30 + nl;
        if (e[k].comp)
            wr(fd, e[k].comp + 2, e[k].csize, off);
        else if (e[k].data)
            wr(fd, e[k].data, e[k].size, off);
        off += e[k].csize;
    }
    uint64_t cd = off;
    for (size_t k = 0; k < n; k++) {
        size_t nl = strlen(e[k].name), xl = 0;
        unsigned char x[28];
        int big = e[k].size >= 0xFFFFFFFFu || e[k].lho >= 0xFFFFFFFFu;
        memset(h, 0, 46);
        memcpy(h, "PK\1\2", 4);
        put16(h + 10, e[k].deflate ? 8 : 0);
        put32(h + 16, e[k].crc);
        put32(h + 20, big ? 0xFFFFFFFFu : (uint32_t)e[k].csize);
        put32(h + 24, big ? 0xFFFFFFFFu : (uint32_t)e[k].size);
        put32(h + 42, big ? 0xFFFFFFFFu : (uint32_t)e[k].lho);
        if (big) {
            put16(x, 1);
            put16(x + 2, 24);
            put64(x + 4, e[k].size);
            put64(x + 12, e[k].csize);
            put64(x + 20, e[k].lho);
            xl = 28;
        }
        put16(h + 28, (unsigned)nl);
        put16(h + 30, (unsigned)xl);
        memcpy(h + 46, e[k].name, nl);
        memcpy(h + 46 + nl, x, xl);
        if (mutate)
            mutate(k, h);
        wr(fd, h, 46 + nl + xl, off);
        off += 46 + nl + xl;
        free(e[k].comp);
    }
    uint64_t cds = off - cd, z64 = off;
    memset(h, 0, 98);
    memcpy(h, "PK\6\6", 4);
    put64(h + 4, 44);
    put64(h + 24, n);
    put64(h + 32, n);
    put64(h + 40, cds);
    put64(h + 48, cd);
    memcpy(h + 56, "PK\6\7", 4);
    put64(h + 64, z64);
    put32(h + 72, 1);
    memcpy(h + 76, "PK\5\6", 4);
    put16(h + 84, 0xFFFF);
    put16(h + 86, 0xFFFF);
    put32(h + 88, 0xFFFFFFFFu);
    put32(h + 92, 0xFFFFFFFFu);
    wr(fd, h, 98, off);
    close(fd);
    return wz_err ? -1 : 0;
}

static char path[256];

static int open_fails(const char *want)
{
    rfile f;
    zip_archive z;
    int ok = 0;
    if (rfile_open(&f, path) == 0) {
        ok = zip_open(&z, &f) == -1 && strstr(err_msg(), want) &&
             strstr(err_msg(), path);
        if (!ok)
            fprintf(stderr, "  want '%s', got '%s'\n", want, err_msg());
        zip_close(&z);
        rfile_close(&f);
    }
    return ok;
}

static void mut_lho(size_t k, unsigned char *cen)
{
    if (k == 1)
        put32(cen + 42, 0); /* points at entry 0's local header */
}

static void mut_size(size_t k, unsigned char *cen)
{
    if (k == 0) {
        put32(cen + 20, 40); /* runs into entry 1 */
        put32(cen + 24, 40);
    }
}

static void mut_z64short(size_t k, unsigned char *cen)
{
    if (k == 0) {
        put32(cen + 20, 0xFFFFFFFFu);
        put32(cen + 24, 0xFFFFFFFFu);
        put16(cen + 30, 0);
    }
}

int main(void)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    unsigned char text[3000];
    rfile f;
    zip_archive z;
    unsigned char *out;
    size_t len;
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (unsigned char)("class M(Module):\n"[i % 17]);
    snprintf(path, sizeof path, "%s/test_zip_%d.zip", tmp, (int)getpid());

    /* stored + deflated members */
    wz_ent e[] = {
        {"ar/aa", (const unsigned char *)"hello", 5, 0, 0, 0, 0, NULL},
        {"ar/code/m.py", text, sizeof text, 1, 0, 0, 0, NULL},
        {"ar/data/0", (const unsigned char *)"0123456789abcdef", 16, 0, 0, 0,
         0, NULL},
    };
    CHECK(wz_write(path, e, 3, NULL) == 0);
    CHECK(rfile_open(&f, path) == 0);
    CHECK(zip_open(&z, &f) == 0);
    CHECK_EQ_U64(z.count, 3);
    CHECK_STR(z.root, "ar");
    const zip_entry *a = zip_find(&z, "aa", 2);
    const zip_entry *m = zip_find(&z, "code/m.py", 9);
    const zip_entry *d = zip_find(&z, "data/0xyz", 6);
    CHECK(a && m && d && zip_find(&z, "data", 4) == NULL &&
          zip_find(&z, "zz", 2) == NULL);
    if (a && m && d) {
        CHECK_EQ_U64(a->data_off, 30 + 5);
        CHECK_EQ_U64(d->size, 16);
        CHECK_EQ_U64(m->method, ZIP_DEFLATE);
        CHECK(zip_read_entry(&z, a, 100, &out, &len) == 0 && len == 5 &&
              memcmp(out, "hello", 6) == 0);
        free(out);
        CHECK(zip_read_entry(&z, m, 1 << 20, &out, &len) == 0 &&
              len == sizeof text && memcmp(out, text, len) == 0);
        free(out);
        CHECK(zip_read_entry(&z, m, 100, &out, &len) == -1 &&
              strstr(err_msg(), "exceeds") && out == NULL);
    }
    zip_close(&z);
    zip_close(&z);
    rfile_close(&f);

    /* hostile directories */
    wz_ent dup[] = {{"ar/aa", (const unsigned char *)"x", 1, 0, 0, 0, 0, NULL},
                    {"ar/aa", (const unsigned char *)"y", 1, 0, 0, 0, 0, NULL}};
    wz_write(path, dup, 2, NULL);
    CHECK(open_fails("duplicate zip member"));
    wz_write(path, e, 3, mut_lho);
    CHECK(open_fails("local header name differs"));
    wz_write(path, e, 3, mut_size);
    CHECK(open_fails("overlap"));
    wz_write(path, e, 3, mut_z64short);
    CHECK(open_fails("zip64 extra field missing"));
    wz_ent bad[] = {{"ar/../x", (const unsigned char *)"x", 1, 0, 0, 0, 0, NULL}};
    wz_write(path, bad, 1, NULL);
    CHECK(open_fails("refused"));
    wz_ent noroot[] = {{"x", (const unsigned char *)"x", 1, 0, 0, 0, 0, NULL}};
    wz_write(path, noroot, 1, NULL);
    CHECK(open_fails("not inside an archive folder"));
    wz_ent two[] = {{"a/x", (const unsigned char *)"x", 1, 0, 0, 0, 0, NULL},
                    {"b/y", (const unsigned char *)"y", 1, 0, 0, 0, 0, NULL}};
    wz_write(path, two, 2, NULL);
    CHECK(open_fails("outside the archive folder"));
    {   /* truncated: no end record */
        int fd = open(path, O_WRONLY);
        CHECK(fd >= 0 && ftruncate(fd, 40) == 0);
        close(fd);
        CHECK(open_fails("end-of-central-directory"));
    }

    /* zip64: a sparse 5 GiB member, then a small one past 4 GiB */
    wz_ent big[] = {
        {"arch/data/0", NULL, 5ull << 30, 0, 0, 0, 0, NULL},
        {"arch/data.pkl", (const unsigned char *)"\x80\x02N.", 4, 0, 0, 0, 0,
         NULL},
    };
    CHECK(wz_write(path, big, 2, NULL) == 0);
    CHECK(rfile_open(&f, path) == 0);
    CHECK(zip_open(&z, &f) == 0);
    const zip_entry *b0 = zip_find(&z, "data/0", 6);
    const zip_entry *b1 = zip_find(&z, "data.pkl", 8);
    CHECK(b0 && b1);
    if (b0 && b1) {
        CHECK_EQ_U64(b0->size, 5ull << 30);
        CHECK_EQ_U64(b0->data_off, 30 + 11);
        CHECK(b1->lho > 0xFFFFFFFFull);
        CHECK_EQ_U64(b1->data_off, b1->lho + 30 + 13);
        CHECK(zip_read_entry(&z, b1, 100, &out, &len) == 0 && len == 4 &&
              memcmp(out, "\x80\x02N.", 4) == 0);
        free(out);
    }
    zip_close(&z);
    rfile_close(&f);
    unlink(path);
    return check_report();
}
