/* sniff.c: what a file is when it is not a checkpoint (see sniff.h). */
#include "sniff.h"

#include <stdio.h>
#include <string.h>

#include "fileio.h"

#define SNIFF_TAIL (65535u + 22u) /* a zip's end record lies in here */

/* The phrases. Each says what the file is and, where one exists, the
 * next step. */
#define DECOMPRESS " (decompress it first; the checkpoint is inside)"
#define EXTRACT " (extract the checkpoint from it first)"

typedef struct {
    const char *magic;
    size_t len, at;
    const char *what;
} magic_row;

static const magic_row magics[] = {
    {"\x1f\x8b", 2, 0, "a gzip file" DECOMPRESS},
    {"\xfd" "7zXZ\0", 6, 0, "an xz file" DECOMPRESS},
    {"\x28\xb5\x2f\xfd", 4, 0, "a zstd file" DECOMPRESS},
    {"7z\xbc\xaf\x27\x1c", 6, 0, "a 7z archive" EXTRACT},
    {"Rar!\x1a\x07", 6, 0, "a RAR archive" EXTRACT},
    {"ustar", 5, 257, "a tar archive" EXTRACT},
    {"\x89PNG\r\n\x1a\n", 8, 0, "a PNG image"},
    {"\xff\xd8\xff", 3, 0, "a JPEG image"},
    {"GIF87a", 6, 0, "a GIF image"},
    {"GIF89a", 6, 0, "a GIF image"},
    {"%PDF-", 5, 0, "a PDF document"},
    {"\x93NUMPY", 6, 0, "a NumPy array (.npy)"},
    {"\x89HDF\r\n\x1a\n", 8, 0,
     "an HDF5 file (a Keras .h5 model?): save the weights as safetensors "
     "or a PyTorch state_dict"},
    {"GGUF", 4, 0, "a GGUF file (llama.cpp)"},
    {"TFL3", 4, 4, "a TensorFlow Lite model"},
    {"\x7f" "ELF", 4, 0, "an executable (ELF)"},
    {"PK\x05\x06", 4, 0, "an empty zip archive"},
    {"version https://git-lfs.github.com/spec/", 40, 0,
     "a Git LFS pointer, not the file itself (run `git lfs pull` in its "
     "repository)"},
};

static int put(char *buf, size_t cap, const char *s)
{
    snprintf(buf, cap, "%s", s);
    return 1;
}

static int is_ident(int ch, int dot)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '_' || (dot && ch == '.');
}

/* "c<module>\n<name>\n" at b (n bytes): the length of the GLOBAL
 * argument lines, or 0. */
static size_t global_len(const unsigned char *b, size_t n)
{
    size_t i = 0, lines = 0;
    while (lines < 2) {
        size_t s = i;
        while (i < n && is_ident(b[i], lines == 0))
            i++;
        if (i == s || i >= n || b[i] != '\n')
            return 0;
        i++;
        lines++;
    }
    return i;
}

/* A pickle that is not protocol 2 or later (no PROTO opcode): it starts
 * with an opcode that protocol 0 or 1 writes first and ends with STOP. */
static int is_old_pickle(const unsigned char *b, size_t n, int last)
{
    if (n < 2 || last != '.' || b[1] == '\0') /* strchr finds the NUL */
        return 0;
    switch (b[0]) {
    case '(':
        return strchr("dltcSVIFNLKJXU}])(", b[1]) != NULL;
    case '}':
    case ']':
    case ')':
        return strchr("qpr(.", b[1]) != NULL;
    case 'c':
        return global_len(b + 1, n - 1) > 0;
    default:
        return 0;
    }
}

/* The first bytes are a binary format's signature. */
static int sniff_magic(const unsigned char *b, size_t n,
                       unsigned long long size, int last, char *buf,
                       size_t cap)
{
    if (size == 0)
        return put(buf, cap, "an empty file (0 bytes)");
    for (size_t i = 0; i < sizeof magics / sizeof *magics; i++) {
        const magic_row *m = &magics[i];
        if (n >= m->at + m->len && memcmp(b + m->at, m->magic, m->len) == 0)
            return put(buf, cap, m->what);
    }
    if (is_old_pickle(b, n, last))
        return put(buf, cap,
                   "a raw pickle (protocol 0 or 1; torch.save writes "
                   "protocol 2 inside a zip archive): refused, it could "
                   "only be read by running pickle code");
    /* ONNX: a ModelProto starts with ir_version (field 1, a small
     * varint), then producer_name (field 2) or the graph (field 7). */
    if (n >= 4 && b[0] == 0x08 && b[1] >= 1 && b[1] <= 30 &&
        (b[2] == 0x12 || b[2] == 0x3a) && b[3] > 0 && b[3] < 0x80)
        return put(buf, cap, "an ONNX model");
    return 0;
}

/* Valid UTF-8 text without control bytes other than tab, newline, CR
 * and form feed; a sequence cut by the end of the buffer is accepted
 * when the file goes on. */
static int is_text(const unsigned char *b, size_t n, int cut)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = b[i];
        size_t k;
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' &&
                 c != '\f') || c == 0x7f)
                return 0;
            i++;
            continue;
        }
        k = c >= 0xf0 && c <= 0xf4 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 ? 1 : 0;
        if (k == 0 || c > 0xf4)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n)
                return cut;
            if ((b[i + j] & 0xc0) != 0x80)
                return 0;
        }
        i += k + 1;
    }
    return 1;
}

static int starts_nocase(const unsigned char *b, size_t n, const char *s)
{
    size_t l = strlen(s);
    if (n < l)
        return 0;
    for (size_t i = 0; i < l; i++) {
        unsigned c = b[i];
        if (c >= 'A' && c <= 'Z')
            c += 'a' - 'A';
        if (c != (unsigned char)s[i])
            return 0;
    }
    return 1;
}

/* The first line that is neither blank nor a # comment is "key:" or
 * "key: value", or the document starts with "---" or "%YAML". */
static int is_yaml(const unsigned char *b, size_t n)
{
    size_t i = 0;
    if (starts_nocase(b, n, "---") || starts_nocase(b, n, "%yaml"))
        return 1;
    while (i < n) {
        while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r'))
            i++;
        if (i < n && b[i] == '#') {
            while (i < n && b[i] != '\n')
                i++;
        }
        if (i < n && b[i] == '\n') {
            i++;
            continue;
        }
        break;
    }
    size_t s = i;
    while (i < n && (is_ident(b[i], 1) || b[i] == '-'))
        i++;
    return i > s && i < n && b[i] == ':' &&
           (i + 1 == n || b[i + 1] == ' ' || b[i + 1] == '\n' ||
            b[i + 1] == '\r');
}

/* What a text file looks like. */
static int sniff_text(const unsigned char *b, size_t n,
                      unsigned long long size, char *buf, size_t cap)
{
    size_t i = 0;
    if (!is_text(b, n, n < size))
        return 0;
    if (n >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf)
        i = 3;
    while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' ||
                     b[i] == '\r'))
        i++;
    b += i;
    n -= i;
    if (starts_nocase(b, n, "<!doctype html") || starts_nocase(b, n, "<html")
        || starts_nocase(b, n, "<head") || starts_nocase(b, n, "<!--"))
        return put(buf, cap,
                   "an HTML page (a failed download? the server sent a web "
                   "page instead of the file)");
    if (starts_nocase(b, n, "<?xml"))
        return put(buf, cap, "an XML file");
    if (n > 0 && (b[0] == '{' || b[0] == '['))
        return put(buf, cap, "a JSON file");
    if (is_yaml(b, n))
        return put(buf, cap, "a YAML file");
    if (starts_nocase(b, n, "#!") || starts_nocase(b, n, "import ") ||
        starts_nocase(b, n, "from ") || starts_nocase(b, n, "def ") ||
        starts_nocase(b, n, "class "))
        return put(buf, cap, "looks like a script (text)");
    return put(buf, cap, "looks like text");
}

int sniff_bytes(const unsigned char *b, size_t n, unsigned long long size,
                char *buf, size_t cap)
{
    int last = n > 0 && n == size ? b[n - 1] : -1;
    buf[0] = '\0';
    return sniff_magic(b, n, size, last, buf, cap) ||
           sniff_text(b, n, size, buf, cap);
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

/* A zip whose records do not start at byte 0: the end record's central
 * directory offset is smaller than where the directory really is (with
 * a zip64 locator, the zip64 end record's offset likewise). Returns the
 * bytes in front, or 0. */
static uint64_t zip_prefix(rfile *f, const unsigned char *tail, size_t tn)
{
    uint64_t tail_at = f->size - tn;
    for (size_t i = tn >= 22 ? tn - 22 + 1 : 0; i-- > 0;) {
        if (memcmp(tail + i, "PK\x05\x06", 4) != 0)
            continue;
        uint64_t eocd = tail_at + i, cd_size = rd32(tail + i + 12),
                 cd_off = rd32(tail + i + 16), at, claimed;
        if (i >= 20 && memcmp(tail + i - 20, "PK\x06\x07", 4) == 0) {
            /* zip64: the zip64 end record sits just before its locator */
            claimed = rd64(tail + i - 20 + 8);
            if (eocd < 20 + 56)
                return 0;
            at = eocd - 20 - 56;
        } else {
            if (cd_size > eocd)
                return 0;
            claimed = cd_off;
            at = eocd - cd_size;
        }
        unsigned char sig[4];
        if (at <= claimed || rfile_pread(f, sig, 4, at) != 0 ||
            (memcmp(sig, "PK\x01\x02", 4) != 0 &&
             memcmp(sig, "PK\x06\x06", 4) != 0))
            return 0;
        return at - claimed;
    }
    return 0;
}

int sniff_file(const char *path, char *buf, size_t cap)
{
    unsigned char head[SNIFF_HEAD], tail[SNIFF_TAIL], lastb = 0;
    rfile f;
    int rc = -1;
    buf[0] = '\0';
    if (rfile_open(&f, path))
        return -1;
    size_t n = f.size < sizeof head ? (size_t)f.size : sizeof head;
    size_t tn = f.size < sizeof tail ? (size_t)f.size : sizeof tail;
    if (rfile_pread(&f, head, n, 0) ||
        (f.size > 0 && rfile_pread(&f, &lastb, 1, f.size - 1)))
        goto done;
    rc = 1;
    if (sniff_magic(head, n, f.size, f.size ? lastb : -1, buf, cap))
        goto done;
    if (f.size >= 22) {
        if (rfile_pread(&f, tail, tn, f.size - tn))
            goto fail;
        uint64_t pre = zip_prefix(&f, tail, tn);
        if (pre) {
            snprintf(buf, cap, "a zip archive with %llu byte%s in front of "
                     "it (torch.save archives start at byte 0)",
                     (unsigned long long)pre, pre == 1 ? "" : "s");
            goto done;
        }
    }
    rc = sniff_text(head, n, f.size, buf, cap);
    goto done;
fail:
    rc = -1;
done:
    rfile_close(&f);
    return rc;
}

/* ---- a pickled nn.Module ------------------------------------------ */

static const unsigned char *find(const unsigned char *h, size_t hn,
                                 const char *s)
{
    size_t l = strlen(s);
    for (size_t i = 0; l <= hn && i <= hn - l; i++)
        if (h[i] == (unsigned char)s[0] && memcmp(h + i, s, l) == 0)
            return h + i;
    return NULL;
}

/* Skips a memo PUT (BINPUT, LONG_BINPUT, PUT) at b[i]. */
static size_t skip_put(const unsigned char *b, size_t n, size_t i)
{
    if (i < n && b[i] == 'q')
        return i + 2;
    if (i < n && b[i] == 'r')
        return i + 5;
    if (i < n && b[i] == 'p') {
        while (i < n && b[i] != '\n')
            i++;
        return i + 1;
    }
    return i;
}

int sniff_pickle_model(const unsigned char *pkl, size_t len, char *cls,
                       size_t cap)
{
    cls[0] = '\0';
    /* nn.Module's own state: the keys of its __dict__ */
    if (!find(pkl, len, "_parameters") || !find(pkl, len, "_modules"))
        return 0;
    size_t i = 0;
    if (len >= 2 && pkl[0] == 0x80)
        i = 2;
    if (i >= len || pkl[i] != 'c')
        return 2;
    size_t g = global_len(pkl + i + 1, len - i - 1);
    if (g == 0)
        return 2;
    const unsigned char *mod = pkl + i + 1;
    size_t ml = (size_t)((const unsigned char *)memchr(mod, '\n', g) - mod);
    const unsigned char *name = mod + ml + 1;
    size_t nl = g - ml - 2;
    size_t j = skip_put(pkl, len, i + 1 + g);
    if (j + 1 >= len || pkl[j] != ')')
        return 2;
    j = skip_put(pkl, len, j + 1);
    if (j >= len || pkl[j] != 0x81 || (ml >= 9 &&
                                       memcmp(mod, "__torch__", 9) == 0))
        return 2;
    snprintf(cls, cap, "%.*s.%.*s", (int)ml, (const char *)mod, (int)nl,
             (const char *)name);
    return 1;
}
