/* zip.c: zip central-directory reader (see zip.h). */
#include "zip.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../core/err.h"

#define EOCD_LEN 22u
#define EOCD_SEARCH (65535u + EOCD_LEN)
#define LOC64_LEN 20u
#define EOCD64_LEN 56u
#define CEN_LEN 46u
#define LOC_LEN 30u

static uint16_t rd16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static uint64_t rd64(const unsigned char *p)
{
    return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32);
}

typedef struct {
    uint64_t count, cd_size, cd_off;
    uint64_t cd_end_limit; /* the central directory must end by here */
} zip_eocd;

/* Finds the EOCD (and zip64 EOCD) and fills `e`. */
static int zip_read_eocd(rfile *f, zip_eocd *e)
{
    unsigned char *buf = NULL;
    int rc = -1;
    size_t n = f->size < EOCD_SEARCH ? (size_t)f->size : EOCD_SEARCH;
    uint64_t base = f->size - n;
    size_t at = 0;
    int found = 0;

    if (n < EOCD_LEN) {
        err_set("%s: not a zip file (too short)", f->path);
        goto cleanup;
    }
    buf = malloc(n);
    if (!buf) {
        err_set("%s: out of memory", f->path);
        goto cleanup;
    }
    if (rfile_pread(f, buf, n, base))
        goto cleanup;
    for (size_t i = n - EOCD_LEN + 1; i-- > 0;) {
        if (memcmp(buf + i, "PK\5\6", 4) == 0 &&
            i + EOCD_LEN + rd16(buf + i + 20) == n) {
            at = i;
            found = 1;
            break;
        }
    }
    if (!found) {
        err_set("%s: zip end-of-central-directory record not found", f->path);
        goto cleanup;
    }
    const unsigned char *p = buf + at;
    uint64_t eocd_off = base + at;
    if (rd16(p + 4) != 0 || rd16(p + 6) != 0) {
        err_set("%s: multi-disk zip archives are not supported", f->path);
        goto cleanup;
    }
    e->count = rd16(p + 10);
    e->cd_size = rd32(p + 12);
    e->cd_off = rd32(p + 16);
    e->cd_end_limit = eocd_off;
    if (rd16(p + 8) != e->count) {
        err_set("%s: zip entry counts disagree", f->path);
        goto cleanup;
    }
    /* zip64 locator right before the EOCD */
    if (eocd_off >= LOC64_LEN) {
        unsigned char loc[LOC64_LEN], z64[EOCD64_LEN];
        if (at >= LOC64_LEN)
            memcpy(loc, buf + at - LOC64_LEN, LOC64_LEN);
        else if (rfile_pread(f, loc, LOC64_LEN, eocd_off - LOC64_LEN))
            goto cleanup;
        if (memcmp(loc, "PK\6\7", 4) == 0) {
            uint64_t off64 = rd64(loc + 8);
            if (rd32(loc + 4) != 0 || rd32(loc + 16) > 1) {
                err_set("%s: multi-disk zip64 archives are not supported",
                        f->path);
                goto cleanup;
            }
            if (off64 > eocd_off - LOC64_LEN ||
                eocd_off - LOC64_LEN - off64 < EOCD64_LEN) {
                err_set("%s: zip64 end record offset %llu out of range",
                        f->path, (unsigned long long)off64);
                goto cleanup;
            }
            if (rfile_pread(f, z64, EOCD64_LEN, off64))
                goto cleanup;
            if (memcmp(z64, "PK\6\6", 4) != 0) {
                err_set("%s: zip64 end record signature missing", f->path);
                goto cleanup;
            }
            if (rd32(z64 + 16) != 0 || rd32(z64 + 20) != 0 ||
                rd64(z64 + 24) != rd64(z64 + 32)) {
                err_set("%s: multi-disk zip64 archives are not supported",
                        f->path);
                goto cleanup;
            }
            e->count = rd64(z64 + 32);
            e->cd_size = rd64(z64 + 40);
            e->cd_off = rd64(z64 + 48);
            e->cd_end_limit = off64;
        }
    }
    if (e->count == 0) {
        err_set("%s: empty zip archive", f->path);
        goto cleanup;
    }
    if (e->count > ZIP_MAX_ENTRIES) {
        err_set("%s: %llu zip entries (limit %u)", f->path,
                (unsigned long long)e->count, ZIP_MAX_ENTRIES);
        goto cleanup;
    }
    if (e->cd_size > ZIP_MAX_CD || e->cd_off > e->cd_end_limit ||
        e->cd_size > e->cd_end_limit - e->cd_off) {
        err_set("%s: zip central directory (%llu bytes at %llu) out of range",
                f->path, (unsigned long long)e->cd_size,
                (unsigned long long)e->cd_off);
        goto cleanup;
    }
    if (e->count > e->cd_size / CEN_LEN) {
        err_set("%s: %llu zip entries cannot fit in a %llu-byte central "
                "directory", f->path, (unsigned long long)e->count,
                (unsigned long long)e->cd_size);
        goto cleanup;
    }
    rc = 0;
cleanup:
    free(buf);
    return rc;
}

/* Applies the zip64 extra field (id 1) of one central entry. */
static int zip_apply_zip64(rfile *f, const char *name, const unsigned char *x,
                           size_t xlen, uint32_t csize32, uint32_t usize32,
                           uint32_t lho32, zip_entry *e)
{
    size_t need = (usize32 == 0xFFFFFFFFu) * 8u + (csize32 == 0xFFFFFFFFu) * 8u +
                  (lho32 == 0xFFFFFFFFu) * 8u;
    size_t i = 0;
    if (need == 0)
        return 0;
    while (xlen - i >= 4) {
        uint16_t id = rd16(x + i), len = rd16(x + i + 2);
        if (len > xlen - i - 4)
            break;
        if (id == 1) {
            const unsigned char *p = x + i + 4;
            if (len < need)
                return err_set("%s: %s: zip64 extra field too short (%u bytes,"
                               " need %zu)", f->path, name, len, need);
            if (usize32 == 0xFFFFFFFFu) {
                e->size = rd64(p);
                p += 8;
            }
            if (csize32 == 0xFFFFFFFFu) {
                e->comp_size = rd64(p);
                p += 8;
            }
            if (lho32 == 0xFFFFFFFFu)
                e->lho = rd64(p);
            return 0;
        }
        i += 4u + len;
    }
    return err_set("%s: %s: zip64 extra field missing for a 0xFFFFFFFF size "
                   "or offset", f->path, name);
}

/* Checks an entry name: printable, relative, no empty/./.. segment. */
static int zip_check_name(const char *n, size_t len)
{
    size_t seg = 0;
    if (len == 0 || n[0] == '/')
        return -1;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || n[i] == '/') {
            size_t sl = i - seg;
            if (sl == 0 && i != len)
                return -1;
            if ((sl == 1 && n[seg] == '.') ||
                (sl == 2 && n[seg] == '.' && n[seg + 1] == '.'))
                return -1;
            seg = i + 1;
            continue;
        }
        unsigned char c = (unsigned char)n[i];
        if (c < 0x20 || c == 0x7f || c == '\\')
            return -1;
    }
    return 0;
}

static const zip_archive *sort_arch;

static int zip_cmp_rel(const void *a, const void *b)
{
    const zip_entry *x = &sort_arch->entries[*(const size_t *)a];
    const zip_entry *y = &sort_arch->entries[*(const size_t *)b];
    return strcmp(x->rel, y->rel);
}

static int zip_cmp_lho(const void *a, const void *b)
{
    const zip_entry *x = &sort_arch->entries[*(const size_t *)a];
    const zip_entry *y = &sort_arch->entries[*(const size_t *)b];
    return x->lho < y->lho ? -1 : x->lho > y->lho;
}

/* Parses the central directory in `cd` into z->entries and z->names. */
static int zip_parse_cd(zip_archive *z, const unsigned char *cd, size_t cd_len,
                        size_t count)
{
    rfile *f = z->f;
    size_t pos = 0, names_len = 0;
    size_t root_len = 0;
    for (size_t k = 0; k < count; k++) {
        zip_entry *e = &z->entries[k];
        if (cd_len - pos < CEN_LEN || memcmp(cd + pos, "PK\1\2", 4) != 0)
            return err_set("%s: zip central entry %zu: bad signature or "
                           "truncated", f->path, k);
        const unsigned char *p = cd + pos;
        uint16_t flags = rd16(p + 8), method = rd16(p + 10);
        uint32_t csize = rd32(p + 20), usize = rd32(p + 24);
        size_t nlen = rd16(p + 28), xlen = rd16(p + 30), clen = rd16(p + 32);
        uint32_t lho = rd32(p + 42);
        if (nlen + xlen + clen > cd_len - pos - CEN_LEN)
            return err_set("%s: zip central entry %zu: name/extra/comment "
                           "lengths run past the central directory",
                           f->path, k);
        if (nlen == 0 || nlen > ZIP_MAX_NAME)
            return err_set("%s: zip central entry %zu: bad name length %zu",
                           f->path, k, nlen);
        char *name = z->names + names_len;
        memcpy(name, p + CEN_LEN, nlen);
        name[nlen] = '\0';
        names_len += nlen + 1;
        if (memchr(name, '\0', nlen) || zip_check_name(name, nlen))
            return err_set("%s: zip member name '%.200s' refused (absolute, "
                           "'..', empty segment or control bytes)",
                           f->path, name);
        if (k == 0) {
            const char *slash = strchr(name, '/');
            if (!slash || slash == name)
                return err_set("%s: zip member '%.200s' is not inside an "
                               "archive folder", f->path, name);
            root_len = (size_t)(slash - name);
            memcpy(z->root, name, root_len);
            z->root[root_len] = '\0';
        }
        if (nlen <= root_len + 1 || memcmp(name, z->root, root_len) != 0 ||
            name[root_len] != '/')
            return err_set("%s: zip member '%.200s' is outside the archive "
                           "folder '%s'", f->path, name, z->root);
        e->name = name;
        e->rel = name + root_len + 1;
        e->method = method;
        e->crc = rd32(p + 16);
        e->comp_size = csize;
        e->size = usize;
        e->lho = lho;
        if (flags & 0x41u)
            return err_set("%s: %s: encrypted zip member refused", f->path,
                           name);
        if (method != ZIP_STORED && method != ZIP_DEFLATE)
            return err_set("%s: %s: unsupported zip compression method %u",
                           f->path, name, method);
        if (zip_apply_zip64(f, name, p + CEN_LEN + nlen, xlen, csize, usize,
                            lho, e))
            return -1;
        if (method == ZIP_STORED && e->comp_size != e->size)
            return err_set("%s: %s: stored zip member with compressed size "
                           "%llu != size %llu", f->path, name,
                           (unsigned long long)e->comp_size,
                           (unsigned long long)e->size);
        pos += CEN_LEN + nlen + xlen + clen;
    }
    return 0;
}

/* Reads each local header: signature, name, data offset, bounds. */
static int zip_read_locals(zip_archive *z, uint64_t cd_off)
{
    rfile *f = z->f;
    unsigned char hdr[LOC_LEN + ZIP_MAX_NAME];
    for (size_t k = 0; k < z->count; k++) {
        zip_entry *e = &z->entries[k];
        size_t nlen = strlen(e->name);
        if (e->lho > cd_off || cd_off - e->lho < LOC_LEN + nlen)
            return err_set("%s: %s: local header offset %llu out of range",
                           f->path, e->name, (unsigned long long)e->lho);
        if (rfile_pread(f, hdr, LOC_LEN + nlen, e->lho))
            return -1;
        if (memcmp(hdr, "PK\3\4", 4) != 0)
            return err_set("%s: %s: local header signature missing",
                           f->path, e->name);
        if (rd16(hdr + 26) != nlen || memcmp(hdr + LOC_LEN, e->name, nlen))
            return err_set("%s: %s: local header name differs from the "
                           "central directory", f->path, e->name);
        if (rd16(hdr + 8) != e->method)
            return err_set("%s: %s: local header method differs from the "
                           "central directory", f->path, e->name);
        uint64_t off = e->lho + LOC_LEN + nlen + rd16(hdr + 28);
        if (off > cd_off || e->comp_size > cd_off - off)
            return err_set("%s: %s: %llu bytes at offset %llu run past the "
                           "end of the data area (%llu)", f->path, e->name,
                           (unsigned long long)e->comp_size,
                           (unsigned long long)off,
                           (unsigned long long)cd_off);
        e->data_off = off;
    }
    return 0;
}

int zip_open(zip_archive *z, rfile *f)
{
    zip_eocd eo;
    unsigned char *cd = NULL;
    size_t *by_lho = NULL;
    int rc = -1;

    memset(z, 0, sizeof *z);
    z->f = f;
    if (zip_read_eocd(f, &eo))
        goto cleanup;
    z->count = (size_t)eo.count;
    cd = malloc((size_t)eo.cd_size + 1);
    z->entries = calloc(z->count, sizeof *z->entries);
    z->sorted = malloc(z->count * sizeof *z->sorted);
    by_lho = malloc(z->count * sizeof *by_lho);
    z->names = malloc((size_t)eo.cd_size + 1); /* names fit in the CD */
    if (!cd || !z->entries || !z->sorted || !by_lho || !z->names) {
        err_set("%s: out of memory for the zip directory", f->path);
        goto cleanup;
    }
    if (rfile_pread(f, cd, (size_t)eo.cd_size, eo.cd_off) ||
        zip_parse_cd(z, cd, (size_t)eo.cd_size, z->count) ||
        zip_read_locals(z, eo.cd_off))
        goto cleanup;
    for (size_t k = 0; k < z->count; k++)
        z->sorted[k] = by_lho[k] = k;
    sort_arch = z;
    qsort(z->sorted, z->count, sizeof *z->sorted, zip_cmp_rel);
    qsort(by_lho, z->count, sizeof *by_lho, zip_cmp_lho);
    sort_arch = NULL;
    for (size_t k = 1; k < z->count; k++) {
        const zip_entry *a = &z->entries[z->sorted[k - 1]];
        const zip_entry *b = &z->entries[z->sorted[k]];
        if (strcmp(a->rel, b->rel) == 0) {
            err_set("%s: duplicate zip member '%.200s'", f->path, b->name);
            goto cleanup;
        }
    }
    for (size_t k = 1; k < z->count; k++) {
        const zip_entry *a = &z->entries[by_lho[k - 1]];
        const zip_entry *b = &z->entries[by_lho[k]];
        if (a->data_off + a->comp_size > b->lho) {
            err_set("%s: zip members '%.200s' and '%.200s' overlap", f->path,
                    a->name, b->name);
            goto cleanup;
        }
    }
    rc = 0;
cleanup:
    free(cd);
    free(by_lho);
    if (rc)
        zip_close(z);
    z->f = f;
    return rc;
}

void zip_close(zip_archive *z)
{
    if (!z)
        return;
    free(z->entries);
    free(z->sorted);
    free(z->names);
    z->entries = NULL;
    z->sorted = NULL;
    z->names = NULL;
    z->count = 0;
}

const zip_entry *zip_find(const zip_archive *z, const char *rel, size_t len)
{
    size_t lo = 0, hi = z->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const zip_entry *e = &z->entries[z->sorted[mid]];
        int c = strncmp(e->rel, rel, len);
        if (c == 0 && e->rel[len] != '\0')
            c = 1;
        if (c == 0)
            return e;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Inflates `in` (raw deflate) into exactly `out_len` bytes. */
static int zip_inflate(const unsigned char *in, size_t in_len,
                       unsigned char *out, size_t out_len)
{
    z_stream s;
    int r;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, -MAX_WBITS) != Z_OK)
        return -1;
    s.next_in = (unsigned char *)in;
    s.avail_in = (uInt)in_len;
    s.next_out = out;
    s.avail_out = (uInt)out_len;
    r = inflate(&s, Z_FINISH);
    int ok = r == Z_STREAM_END && s.total_out == out_len;
    inflateEnd(&s);
    return ok ? 0 : -1;
}

int zip_read_entry(const zip_archive *z, const zip_entry *e, size_t cap,
                   unsigned char **out, size_t *len)
{
    unsigned char *buf = NULL, *comp = NULL;
    int rc = -1;
    *out = NULL;
    *len = 0;
    if (e->size > cap || (e->method == ZIP_DEFLATE && e->comp_size > cap)) {
        err_set("%s: %s: record of %llu bytes exceeds the %zu-byte limit",
                z->f->path, e->name, (unsigned long long)e->size, cap);
        goto cleanup;
    }
    if (e->method == ZIP_DEFLATE &&
        (e->size > 0xFFFFFFFFu || e->comp_size > 0xFFFFFFFFu)) {
        err_set("%s: %s: deflated record too large", z->f->path, e->name);
        goto cleanup;
    }
    buf = malloc((size_t)e->size + 1);
    if (!buf) {
        err_set("%s: %s: out of memory", z->f->path, e->name);
        goto cleanup;
    }
    if (e->method == ZIP_STORED) {
        if (rfile_pread(z->f, buf, (size_t)e->size, e->data_off))
            goto cleanup;
    } else {
        comp = malloc((size_t)e->comp_size + 1);
        if (!comp) {
            err_set("%s: %s: out of memory", z->f->path, e->name);
            goto cleanup;
        }
        if (rfile_pread(z->f, comp, (size_t)e->comp_size, e->data_off))
            goto cleanup;
        if (zip_inflate(comp, (size_t)e->comp_size, buf, (size_t)e->size)) {
            err_set("%s: %s: corrupt deflate data", z->f->path, e->name);
            goto cleanup;
        }
    }
    if (e->size <= 0xFFFFFFFFu &&
        (uint32_t)crc32(0L, buf, (uInt)e->size) != e->crc) {
        err_set("%s: %s: CRC mismatch", z->f->path, e->name);
        goto cleanup;
    }
    buf[e->size] = '\0';
    *out = buf;
    *len = (size_t)e->size;
    buf = NULL;
    rc = 0;
cleanup:
    free(buf);
    free(comp);
    return rc;
}
