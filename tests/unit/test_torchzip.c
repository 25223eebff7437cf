/* test_torchzip.c: torchzip_read on torch.save-shaped archives written
 * here (state_dict, training checkpoint, TorchScript), on errors, on the
 * bytes it reads, and on $FIX/models (h3's real torch fixtures) when
 * present. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "../../tui/core/err.h"
#include "../../tui/formats/fileio.h"
#include "../../tui/formats/formats.h"
#include "check.h"

/* ---- pickle bytes --------------------------------------------------- */

static unsigned char pk[1 << 16];
static size_t pl;

static void op(int c) { pk[pl++] = (unsigned char)c; }
static void raw(const void *p, size_t n) { memcpy(pk + pl, p, n); pl += n; }
static void str(const char *s)
{
    uint32_t n = (uint32_t)strlen(s);
    op('X');
    for (int i = 0; i < 4; i++)
        op((int)((n >> (8 * i)) & 0xff));
    raw(s, n);
}
static void num(int32_t v)
{
    op('J');
    for (int i = 0; i < 4; i++)
        op((int)(((uint32_t)v >> (8 * i)) & 0xff));
}
static void glob(const char *m, const char *n)
{
    op('c');
    raw(m, strlen(m));
    op('\n');
    raw(n, strlen(n));
    op('\n');
}
/* _rebuild_tensor_v2 of storage `key` with ndim dims */
static void tensor(const char *cls, const char *key, int numel, int off,
                   int ndim, const int *size, const int *stride, int rg)
{
    glob("torch._utils", "_rebuild_tensor_v2");
    op('(');
    op('(');
    str("storage");
    glob("torch", cls);
    str(key);
    str("cpu");
    num(numel);
    op('t');
    op('Q');
    num(off);
    op('(');
    for (int i = 0; i < ndim; i++)
        num(size[i]);
    op('t');
    op('(');
    for (int i = 0; i < ndim; i++)
        num(stride[i]);
    op('t');
    op(rg ? 0x88 : 0x89);
    glob("collections", "OrderedDict");
    op(')');
    op('R');
    op('t');
    op('R');
}
static void begin(void) { pl = 0; op(0x80); op(2); }

/* ---- a zip writer (stored or deflated; NULL data = sparse) ------------ */

typedef struct {
    const char *name;
    const void *data;
    size_t size;
    int deflate;
} ent;

static int werr;
static void wr(int fd, const void *p, size_t n, uint64_t off)
{
    if (pwrite(fd, p, n, (off_t)off) != (ssize_t)n)
        werr = 1;
}
static void p16(unsigned char *p, unsigned v) { p[0] = v & 0xff; p[1] = (v >> 8) & 0xff; }
static void p32(unsigned char *p, uint32_t v) { p16(p, v & 0xffff); p16(p + 2, v >> 16); }

static int wzip(const char *path, const ent *e, size_t n)
{
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    uint64_t off = 0, lho[16], cs[16];
    uint32_t crc[16];
    unsigned char h[600];
    if (fd < 0)
        return -1;
    for (size_t k = 0; k < n; k++) {
        size_t nl = strlen(e[k].name);
        unsigned char *c = NULL;
        lho[k] = off;
        cs[k] = e[k].size;
        crc[k] = e[k].data ? (uint32_t)crc32(0, e[k].data, (uInt)e[k].size) : 0;
        memset(h, 0, 30);
        memcpy(h, "PK\3\4", 4);
        p16(h + 8, e[k].deflate ? 8 : 0);
        p16(h + 26, (unsigned)nl);
        memcpy(h + 30, e[k].name, nl);
        wr(fd, h, 30 + nl, off);
        off += 30 + nl;
        if (e[k].deflate) {
            uLongf cl = compressBound((uLong)e[k].size);
            c = malloc(cl);
            compress(c, &cl, e[k].data, (uLong)e[k].size);
            cs[k] = cl - 6;
            wr(fd, c + 2, (size_t)cs[k], off);
            free(c);
        } else if (e[k].data) {
            wr(fd, e[k].data, e[k].size, off);
        }
        off += cs[k];
    }
    uint64_t cd = off;
    for (size_t k = 0; k < n; k++) {
        size_t nl = strlen(e[k].name);
        memset(h, 0, 46);
        memcpy(h, "PK\1\2", 4);
        p16(h + 10, e[k].deflate ? 8 : 0);
        p32(h + 16, crc[k]);
        p32(h + 20, (uint32_t)cs[k]);
        p32(h + 24, (uint32_t)e[k].size);
        p16(h + 28, (unsigned)nl);
        p32(h + 42, (uint32_t)lho[k]);
        memcpy(h + 46, e[k].name, nl);
        wr(fd, h, 46 + nl, off);
        off += 46 + nl;
    }
    memset(h, 0, 22);
    memcpy(h, "PK\5\6", 4);
    p16(h + 8, (unsigned)n);
    p16(h + 10, (unsigned)n);
    p32(h + 12, (uint32_t)(off - cd));
    p32(h + 16, (uint32_t)cd);
    wr(fd, h, 22, off);
    close(fd);
    return werr ? -1 : 0;
}

static char path[256];
static float f10[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
static int64_t one = 1;

static float read_f32(uint64_t off)
{
    float v = -1;
    int fd = open(path, O_RDONLY);
    if (pread(fd, &v, 4, (off_t)off) != 4)
        v = -1;
    close(fd);
    return v;
}

static long find(const table *t, const char *name)
{
    return table_find(t, name, strlen(name));
}

static void test_state_dict(void)
{
    table t;
    int s23[] = {2, 3}, st31[] = {3, 1}, s32[] = {3, 2}, st13[] = {1, 3};
    int s2[] = {2}, s3[] = {3}, st1[] = {1};
    begin();
    glob("collections", "OrderedDict");
    op(')');
    op('R');
    op('(');
    str("conv.weight");
    tensor("FloatStorage", "0", 6, 0, 2, s23, st31, 0);
    str("conv.weightT");
    tensor("FloatStorage", "0", 6, 0, 2, s32, st13, 0);
    str("bn.running_mean");
    tensor("FloatStorage", "1", 2, 0, 1, s2, st1, 0);
    str("bn.num_batches_tracked");
    tensor("LongStorage", "2", 1, 0, 0, NULL, NULL, 0);
    str("v");
    tensor("FloatStorage", "3", 10, 2, 1, s3, st1, 0);
    op('u');
    op('.');
    ent e[] = {{"sd/data.pkl", pk, pl, 0}, {"sd/data/0", f10, 24, 0},
               {"sd/data/1", f10, 8, 0}, {"sd/data/2", &one, 8, 0},
               {"sd/data/3", f10, 40, 0}, {"sd/version", "3\n", 2, 0}};
    CHECK(wzip(path, e, 6) == 0);
    table_init(&t);
    CHECK(torchzip_read(path, &t) == 0);
    CHECK_STR(t.format, "pytorch");
    CHECK_EQ_U64(t.count, 5);
    CHECK_EQ_U64(t.nfiles, 1);
    if (t.count == 5) {
        CHECK_STR(table_name(&t, 0), "conv.weight");
        CHECK_STR(table_name(&t, 4), "v");
        CHECK_EQ_U64(table_at(&t, 0)->kind, TK_PARAMETER);
        CHECK_EQ_U64(table_at(&t, 2)->kind, TK_BUFFER);
        CHECK_EQ_U64(table_at(&t, 3)->kind, TK_BUFFER);
        CHECK_EQ_U64(table_at(&t, 3)->dtype, DT_I64);
        CHECK_EQ_U64(table_at(&t, 3)->ndim, 0);
        CHECK_EQ_U64(table_at(&t, 3)->numel, 1);
        /* tied: same storage, both flagged; the transpose is strided */
        CHECK(table_at(&t, 0)->flags & TF_SHARED);
        CHECK(table_at(&t, 1)->flags & TF_SHARED);
        CHECK(!(table_at(&t, 2)->flags & TF_SHARED));
        CHECK_EQ_U64(table_at(&t, 0)->storage, table_at(&t, 1)->storage);
        CHECK(table_at(&t, 0)->storage != table_at(&t, 2)->storage);
        CHECK(table_strides(&t, 0) == NULL);
        const uint64_t *st = table_strides(&t, 1);
        CHECK(st && st[0] == 1 && st[1] == 3);
        /* offsets point at the bytes: the view starts at element 2 */
        CHECK(read_f32(table_at(&t, 4)->offset) == 2.0f);
        CHECK(read_f32(table_at(&t, 0)->offset + 4) == 1.0f);
        CHECK_EQ_U64(table_at(&t, 4)->nbytes, 12);
    }
    table_free(&t);
}

static void test_checkpoint(void)
{
    table t;
    int s2[] = {2}, st1[] = {1};
    begin();
    op('}');
    op('(');
    str("epoch");
    num(3);
    str("model");
    op('}');
    str("w");
    tensor("FloatStorage", "0", 2, 0, 1, s2, st1, 0);
    op('s');
    str("optimizer");
    op('}');
    op('(');
    str("state");
    op('}');
    num(0);
    op('}');
    str("exp_avg");
    tensor("FloatStorage", "1", 2, 0, 1, s2, st1, 0);
    op('s');
    op('s');
    str("param_groups");
    op(']');
    op('}');
    op('(');
    str("lr");
    raw("G\x3f\x50\x62\x4d\xd2\xf1\xa9\xfc", 9);
    str("params");
    op(']');
    num(0);
    op('a');
    op('u');
    op('a');
    op('u');
    str("config");
    op('}');
    str("name");
    str("x");
    op('s');
    str("extra");
    tensor("FloatStorage", "2", 2, 0, 1, s2, st1, 0);
    op('u');
    op('.');
    ent e[] = {{"ck/data.pkl", pk, pl, 0}, {"ck/data/0", f10, 8, 0},
               {"ck/data/1", f10, 8, 0}, {"ck/data/2", f10, 8, 0}};
    CHECK(wzip(path, e, 4) == 0);
    table_init(&t);
    CHECK(torchzip_read(path, &t) == 0);
    CHECK_EQ_U64(t.count, 3);
    long w = find(&t, "w"), o = find(&t, "optimizer.state.0.exp_avg");
    long x = find(&t, "extra");
    CHECK(w >= 0 && o >= 0 && x >= 0);
    if (w >= 0 && o >= 0 && x >= 0) {
        CHECK_EQ_U64(table_at(&t, (size_t)w)->kind, TK_PARAMETER);
        CHECK_EQ_U64(table_at(&t, (size_t)o)->kind, TK_OPTIMIZER);
        CHECK_EQ_U64(table_at(&t, (size_t)x)->kind, TK_OTHER);
    }
    const char *want[][2] = {{"epoch", "3"},
                             {"optimizer.param_groups.0.lr", "0.001"},
                             {"optimizer.param_groups.0.params", "[0]"},
                             {"config.name", "x"}};
    for (size_t k = 0; k < 4; k++) {
        int found = 0;
        for (size_t i = 0; i < t.nmeta; i++)
            if (strcmp(table_meta_key(&t, i), want[k][0]) == 0)
                found = strcmp(table_meta_value(&t, i), want[k][1]) == 0;
        CHECK(found);
    }
    table_free(&t);
}

static const char code_src[] =
    "class Sub(Module):\n"
    "  __parameters__ = [\"weight\", ]\n"
    "  __buffers__ = [\"running_mean\", ]\n"
    "  weight : Tensor\n"
    "  def forward(self: __torch__.m.Sub, x: Tensor) -> Tensor:\n"
    "    return x\n"
    "class Top(Module):\n"
    "  __parameters__ = []\n"
    "  __buffers__ = []\n"
    "  sub : __torch__.m.Sub\n";

static void test_torchscript(void)
{
    table t;
    int s2[] = {2}, st1[] = {1};
    begin();
    glob("__torch__.m", "Top");
    op(')');
    op(0x81);
    op('}');
    op('(');
    str("training");
    op(0x88);
    str("sub");
    glob("__torch__.m", "Sub");
    op(')');
    op(0x81);
    op('}');
    op('(');
    str("weight");
    tensor("FloatStorage", "0", 2, 0, 1, s2, st1, 1);
    str("running_mean");
    tensor("FloatStorage", "1", 2, 0, 1, s2, st1, 0);
    str("bias");
    op('N');
    op('u');
    op('b');
    str("plain");
    tensor("FloatStorage", "2", 2, 0, 1, s2, st1, 0);
    str("sizes");
    glob("torch.jit._pickle", "build_intlist");
    op('(');
    op(']');
    num(3);
    op('a');
    op('t');
    op('R');
    op('u');
    op('b');
    op('.');
    ent e[] = {{"ts/data/0", f10, 8, 0}, {"ts/data/1", f10, 8, 0},
               {"ts/data/2", f10, 8, 0}, {"ts/data.pkl", pk, pl, 0},
               {"ts/code/__torch__/m.py", code_src, sizeof code_src - 1, 1},
               {"ts/constants.pkl", "\x80\x02).", 4, 0}};
    CHECK(wzip(path, e, 6) == 0);
    table_init(&t);
    CHECK(torchzip_read(path, &t) == 0);
    CHECK_STR(t.format, "torchscript");
    CHECK_EQ_U64(t.count, 3);
    long w = find(&t, "sub.weight"), r = find(&t, "sub.running_mean");
    long p = find(&t, "plain");
    CHECK(w >= 0 && r >= 0 && p >= 0);
    if (w >= 0 && r >= 0 && p >= 0) {
        CHECK_EQ_U64(table_at(&t, (size_t)w)->kind, TK_PARAMETER);
        CHECK(table_at(&t, (size_t)w)->flags & TF_REQUIRES_GRAD);
        CHECK_EQ_U64(table_at(&t, (size_t)r)->kind, TK_BUFFER);
        CHECK(!(table_at(&t, (size_t)r)->flags & TF_REQUIRES_GRAD));
        CHECK_EQ_U64(table_at(&t, (size_t)p)->kind, TK_OTHER);
    }
    table_free(&t);
}

static int fails(const char *want)
{
    table t;
    table_init(&t);
    int ok = torchzip_read(path, &t) == -1 && strstr(err_msg(), want) &&
             strstr(err_msg(), path);
    if (!ok)
        fprintf(stderr, "  want '%s', got '%s'\n", want, err_msg());
    table_free(&t);
    return ok;
}

static void test_errors(void)
{
    int s2[] = {2}, st1[] = {1};
    begin();
    op('}');
    str("w");
    tensor("FloatStorage", "0", 4, 0, 1, s2, st1, 0);
    op('s');
    op('.');
    ent e[] = {{"x/data.pkl", pk, pl, 0}, {"x/data/0", f10, 8, 0}};
    wzip(path, e, 2);
    CHECK(fails("data/0: storage of 4 x 4 bytes, record holds 8"));
    begin();
    glob("os", "system");
    op('.');
    ent e2[] = {{"x/data.pkl", pk, pl, 0}};
    wzip(path, e2, 1);
    CHECK(fails("data.pkl: unsafe global 'os.system' refused"));
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    CHECK(write(fd, "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
                    "\x2e\x80\x02M\xe9\x03.", 21) == 21);
    close(fd);
    CHECK(fails("legacy (pre-1.6) torch.save format"));
}

/* Listing must not read the storages: < 1% of a 64 MiB archive. */
static void test_bytes_read(void)
{
    table t;
    int s[] = {4096, 4096}, st[] = {4096, 1};
    begin();
    op('}');
    str("big");
    tensor("FloatStorage", "0", 4096 * 4096, 0, 2, s, st, 0);
    op('s');
    op('.');
    ent e[] = {{"b/data/0", NULL, 4096u * 4096u * 4u, 0},
               {"b/data.pkl", pk, pl, 0}};
    CHECK(wzip(path, e, 2) == 0);
    uint64_t before = fileio_bytes_read();
    table_init(&t);
    CHECK(torchzip_read(path, &t) == 0);
    uint64_t got = fileio_bytes_read() - before;
    CHECK(got < (64u << 20) / 100);
    CHECK_EQ_U64(t.count, 1);
    table_free(&t);
}

/* h3's real fixtures: every torch file listed must match its
 * expected.json in names, dtypes, shapes and kinds. */
static void test_fixtures(void)
{
    const char *fix = getenv("FIX");
    char mp[1024], line[1024], fp[2048];
    if (!fix)
        return;
    snprintf(mp, sizeof mp, "%s/models/MANIFEST.txt", fix);
    FILE *m = fopen(mp, "r");
    if (!m)
        return;
    while (fgets(line, sizeof line, m)) {
        line[strcspn(line, "\r\n")] = '\0';
        size_t n = strlen(line);
        if (n < 4 || (strcmp(line + n - 3, ".pt") && (n < 5 ||
            strcmp(line + n - 4, ".pth"))))
            continue;
        snprintf(fp, sizeof fp, "%s/models/%s.expected.json", fix, line);
        FILE *j = fopen(fp, "r");
        if (!j)
            continue;
        static char js[1 << 22];
        size_t jl = fread(js, 1, sizeof js - 1, j);
        fclose(j);
        js[jl] = '\0';
        cJSON *doc = cJSON_Parse(js);
        cJSON *ts = cJSON_GetObjectItem(doc, "tensors");
        snprintf(fp, sizeof fp, "%s/models/%s", fix, line);
        table t;
        table_init(&t);
        int rc = torchzip_read(fp, &t);
        CHECK(rc == 0);
        if (rc)
            fprintf(stderr, "  %s: %s\n", line, err_msg());
        int bad = 0, count = cJSON_GetArraySize(ts);
        for (int i = 0; rc == 0 && i < count; i++) {
            cJSON *x = cJSON_GetArrayItem(ts, i);
            const char *nm = cJSON_GetStringValue(cJSON_GetObjectItem(x, "name"));
            long k = nm ? find(&t, nm) : -1;
            if (k < 0) {
                bad++;
                continue;
            }
            const table_tensor *tt = table_at(&t, (size_t)k);
            const char *dt = cJSON_GetStringValue(cJSON_GetObjectItem(x, "dtype"));
            const char *kd = cJSON_GetStringValue(cJSON_GetObjectItem(x, "kind"));
            cJSON *sh = cJSON_GetObjectItem(x, "shape");
            if (!dt || strcmp(dt, dtype_name(tt->dtype)) ||
                !kd || strcmp(kd, table_kind_name(tt->kind)) ||
                cJSON_GetArraySize(sh) != tt->ndim)
                bad++;
            for (unsigned d = 0; d < tt->ndim && d < (unsigned)cJSON_GetArraySize(sh); d++)
                if ((uint64_t)cJSON_GetArrayItem(sh, (int)d)->valuedouble !=
                    table_shape(&t, (size_t)k)[d])
                    bad++;
        }
        if (rc == 0 && (bad || (size_t)count != t.count))
            fprintf(stderr, "  %s: %d mismatches, %zu tensors, want %d\n",
                    line, bad, t.count, count);
        CHECK(rc != 0 || (bad == 0 && (size_t)count == t.count));
        table_free(&t);
        cJSON_Delete(doc);
    }
    fclose(m);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(path, sizeof path, "%s/test_torchzip_%d.pt", tmp, (int)getpid());
    test_state_dict();
    test_checkpoint();
    test_torchscript();
    test_errors();
    test_bytes_read();
    unlink(path);
    test_fixtures();
    return check_report();
}
