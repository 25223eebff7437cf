/* test_score_cache.c: the spectral score cache (core/score_cache.h) on a
 * real safetensors file: what is saved reads back bit for bit (Inf and
 * NaN too); a cache is ignored, with one line naming the reason and
 * nothing kept, when it is truncated at any byte, has any byte changed,
 * is hostile with a valid checksum (a huge count or name, an unknown or
 * doubled name, another shape, trailing bytes, another version), was
 * made for another tensor list, or the checkpoint changed since (its
 * time, or its bytes with the time put back); TUI_CACHE_DIR=off turns
 * it off; the folder is made when missing. */
#include "check.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../tui/core/err.h"
#include "../../tui/core/score_cache.h"
#include "../../tui/formats/formats.h"

static char dir[] = "/tmp/test_score_cache.XXXXXX";
static char ckpt[600], cache_root[600];

/* A safetensors file: a.weight F32 [2,3] and a.<bias> F32 [2] holding
 * seed-derived values, b F32 [4]. */
static void write_named(const char *path, float seed, const char *bias)
{
    char h[400];
    int len0 = snprintf(h, sizeof h,
                        "{\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],"
                        "\"data_offsets\":[0,24]},\"a.%s\":{\"dtype\":\"F32\","
                        "\"shape\":[2],\"data_offsets\":[24,32]},\"b\":{\"dtype\":"
                        "\"F32\",\"shape\":[4],\"data_offsets\":[32,48]}}", bias);
    size_t len = (size_t)len0, pad = (8 - len % 8) % 8;
    memset(h + len, ' ', pad);
    len += pad;
    FILE *f = fopen(path, "wb");
    uint64_t n = len;
    unsigned char le[8];
    for (int k = 0; k < 8; k++)
        le[k] = (unsigned char)(n >> (8 * k));
    fwrite(le, 1, 8, f);
    fwrite(h, 1, len, f);
    for (int i = 0; i < 12; i++) {
        float v = seed + (float)i * 0.25f;
        fwrite(&v, sizeof v, 1, f);
    }
    fclose(f);
}

static void write_ckpt(const char *path, float seed)
{
    write_named(path, seed, "bias");
}

static int open_ckpt(const char *path, table *t)
{
    table_init(t);
    int rc = formats_open(path, t);
    if (rc)
        fprintf(stderr, "open: %s\n", err_msg());
    return rc;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    long sz = file_size(path);
    unsigned char *b = malloc(sz > 0 ? (size_t)sz : 1);
    *n = f && b ? fread(b, 1, (size_t)sz, f) : 0;
    if (f)
        fclose(f);
    return b;
}

static void spit(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(b, 1, n, f);
        fclose(f);
    }
}

/* The FNV-1a checksum the format ends with, recomputed over b[0..n-8). */
static void reseal(unsigned char *b, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i + 8 < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    for (int k = 0; k < 8; k++)
        b[n - 8 + k] = (unsigned char)(h >> (8 * k));
}

static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Loads t's cache into a fresh one: the result, and c kept for looks. */
static int load(const table *t, score_cache *c)
{
    if (score_cache_open(c, t))
        return -2;
    err_clear();
    return score_cache_load(c, t);
}

/* A load that must be refused with a message holding `why`. */
static void refused(const table *t, const char *why, const char *what)
{
    score_cache c;
    int rc = load(t, &c);
    int ok = rc == -1 && c.n == 0 && strstr(err_msg(), why) &&
             strstr(err_msg(), "ignoring the score cache") &&
             !strchr(err_msg(), '\n');
    if (!ok)
        fprintf(stderr, "  %s: rc %d, n %zu, '%s'\n", what, rc, c.n,
                err_msg());
    CHECK(ok);
    score_cache_free(&c);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(ckpt, sizeof ckpt, "%s/m.safetensors", dir);
    snprintf(cache_root, sizeof cache_root, "%s/deep/er/cache", dir);
    setenv("TUI_CACHE_DIR", cache_root, 1);
    write_ckpt(ckpt, 1.0f);
    table t;
    CHECK(open_ckpt(ckpt, &t) == 0);
    long ia = table_find(&t, "a.weight", 8), ib = table_find(&t, "a.bias", 6);
    long ic = table_find(&t, "b", 1);
    CHECK(ia >= 0 && ib >= 0 && ic >= 0);
    char path[4096];
    CHECK(score_cache_path(&t, path, sizeof path) == 1);
    CHECK(strncmp(path, cache_root, strlen(cache_root)) == 0 &&
          strstr(path, "/scores/") && strlen(strrchr(path, '/')) == 69);

    /* no cache yet */
    score_cache c;
    CHECK(load(&t, &c) == 0 && c.n == 0);
    score_cache_free(&c);

    /* save, read back bit for bit; the folders are made */
    CHECK(score_cache_open(&c, &t) == 0);
    score_entry ea = {0.125, 2.5, 20.0, 2, 3};
    score_entry eb = {INFINITY, INFINITY, 1.5, 1, 2};
    score_entry ec = {NAN, -0.0, 0.0, 1, 4};
    score_cache_put(&c, (size_t)ia, &ea);
    score_cache_put(&c, (size_t)ib, &eb);
    score_cache_put(&c, (size_t)ic, &ec);
    CHECK(c.n == 3);
    CHECK(score_cache_save(&c, &t) == 1);
    score_cache_free(&c);
    struct stat st;
    CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode));
    CHECK(load(&t, &c) == 1);
    CHECK(c.n == 3 && c.created > 0 && labs((long)(c.created - time(NULL))) < 60);
    CHECK(same_bits(c.e[ia].score, 0.125) && same_bits(c.e[ia].smax, 20.0) &&
          c.e[ia].m == 2 && c.e[ia].n == 3);
    CHECK(isinf(c.e[ib].score) && same_bits(c.e[ib].smax, 1.5));
    CHECK(isnan(c.e[ic].score) && same_bits(c.e[ic].snr, -0.0) &&
          c.e[ic].m == 1 && c.e[ic].n == 4);
    score_cache_free(&c);

    size_t n;
    unsigned char *good = slurp(path, &n);
    CHECK(n > 100);
    unsigned char *b = malloc(n + 64);

    /* truncated at every byte */
    int bad = 0;
    for (size_t k = 0; k < n; k++) {
        spit(path, good, k);
        score_cache cc;
        int rc = load(&t, &cc);
        if (rc != -1 || cc.n != 0)
            bad++;
        score_cache_free(&cc);
    }
    CHECK(bad == 0);
    /* any one byte changed */
    bad = 0;
    for (size_t k = 0; k < n; k++) {
        memcpy(b, good, n);
        b[k] ^= 0x40;
        spit(path, b, n);
        score_cache cc;
        int rc = load(&t, &cc);
        if (rc != -1 || cc.n != 0)
            bad++;
        score_cache_free(&cc);
    }
    CHECK(bad == 0);
    memcpy(b, good, n);
    b[n / 2] ^= 1;
    spit(path, b, n);
    refused(&t, "checksum", "a flipped bit");

    /* hostile, with a valid checksum. Layout: 88 bytes of head, one file
     * (24), the count (8), then entries in table order. */
    size_t head = 88 + 24;
    memcpy(b, good, n);
    memcpy(b, "tui-snX\n", 8);
    reseal(b, n);
    spit(path, b, n);
    refused(&t, "not a score cache", "magic");
    memcpy(b, good, n);
    b[8] = 2;
    reseal(b, n);
    spit(path, b, n);
    refused(&t, "version 2", "version");
    memcpy(b, good, n);
    b[head + 7] = 0x7f; /* count ~ 2^63 */
    reseal(b, n);
    spit(path, b, n);
    refused(&t, "more than the checkpoint", "count");
    memcpy(b, good, n);
    b[head] = 2;        /* count 2: bytes left over */
    reseal(b, n);
    spit(path, b, n);
    refused(&t, "after the last entry", "trailing bytes");
    size_t e0 = head + 8; /* the first entry: its name length */
    memcpy(b, good, n);
    b[e0 + 3] = 0x10;   /* a name of 2^28 bytes */
    reseal(b, n);
    spit(path, b, n);
    refused(&t, "truncated", "a huge name");
    memcpy(b, good, n);
    b[e0 + 4] ^= 0x20;  /* the first name's first letter */
    reseal(b, n);
    spit(path, b, n);
    refused(&t, "names no weight", "an unknown name");
    /* the second entry a copy of the first, two entries in all */
    uint32_t l0 = good[e0] | good[e0 + 1] << 8;
    size_t elen = 4 + l0 + 48, n2 = e0 + 2 * elen + 8;
    memcpy(b, good, n);
    memcpy(b + e0 + elen, good + e0, elen);
    b[head] = 2;
    reseal(b, n2);
    spit(path, b, n2);
    refused(&t, "twice", "a doubled name");
    memcpy(b, good, n);
    b[e0 + 4 + l0 + 8] ^= 1; /* m */
    reseal(b, n);
    spit(path, b, n);
    refused(&t, "another shape", "another shape");
    /* bigger than scores of this checkpoint can be */
    memcpy(b, good, n);
    memset(b + n, 0, 64);
    spit(path, b, n + 64);
    refused(&t, "more than scores", "oversized");
    /* not a file */
    unlink(path);
    CHECK(mkdir(path, 0700) == 0);
    refused(&t, "not a regular file", "a folder");
    rmdir(path);

    /* made for another tensor list: the file copied to its name */
    table t2;
    char other[700];
    snprintf(other, sizeof other, "%s/other.safetensors", dir);
    write_named(other, 1.0f, "biaz");
    CHECK(open_ckpt(other, &t2) == 0);
    CHECK(table_find(&t2, "a.biaz", 6) >= 0);
    char opath[4096];
    CHECK(score_cache_path(&t2, opath, sizeof opath) == 1 &&
          strcmp(opath, path) != 0);
    CHECK(load(&t2, &c) == 0); /* none of its own */
    score_cache_free(&c);
    spit(opath, good, n);
    refused(&t2, "another tensor list", "another fingerprint");
    table_free(&t2);

    /* the good one reads again */
    spit(path, good, n);
    CHECK(load(&t, &c) == 1 && c.n == 3);
    score_cache_free(&c);

    /* the checkpoint changed: its time alone, then its bytes with the
     * same size and the time put back */
    struct stat was;
    CHECK(stat(ckpt, &was) == 0);
    struct timespec ts[2] = {was.st_atim, was.st_mtim};
    ts[1].tv_nsec = (ts[1].tv_nsec + 1) % 1000000000;
    CHECK(utimensat(AT_FDCWD, ckpt, ts, 0) == 0);
    refused(&t, "changed since", "a new time");
    write_ckpt(ckpt, 2.0f);
    ts[1] = was.st_mtim;
    CHECK(utimensat(AT_FDCWD, ckpt, ts, 0) == 0);
    refused(&t, "its bytes", "new bytes, old time");
    write_ckpt(ckpt, 1.0f);
    CHECK(utimensat(AT_FDCWD, ckpt, ts, 0) == 0);
    CHECK(load(&t, &c) == 1 && c.n == 3);
    score_cache_free(&c);

    /* off */
    setenv("TUI_CACHE_DIR", "off", 1);
    CHECK(score_cache_path(&t, path, sizeof path) == 0);
    CHECK(load(&t, &c) == 0);
    CHECK(score_cache_save(&c, &t) == 0);
    score_cache_free(&c);
    /* XDG_CACHE_HOME, then HOME */
    unsetenv("TUI_CACHE_DIR");
    setenv("XDG_CACHE_HOME", "/x/cache", 1);
    CHECK(score_cache_path(&t, path, sizeof path) == 1 &&
          strncmp(path, "/x/cache/tui/scores/", 20) == 0);
    setenv("XDG_CACHE_HOME", "relative", 1);
    setenv("HOME", "/home/u", 1);
    CHECK(score_cache_path(&t, path, sizeof path) == 1 &&
          strncmp(path, "/home/u/.cache/tui/scores/", 26) == 0);
    unsetenv("XDG_CACHE_HOME");
    unsetenv("HOME");
    CHECK(score_cache_path(&t, path, sizeof path) == -1);

    free(good);
    free(b);
    table_free(&t);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_report();
}
