/* test_safetensors.c: the safetensors reader, path by path.
 *
 * Small headers are built in memory and fed to safetensors_parse; a few
 * go through real temp files and safetensors_read. With $FIX set, the
 * header-only bert-base-uncased from gen_synthetic.py is checked tensor
 * by tensor against its expected.json.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "check.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../../tui/core/err.h"
#include "../../tui/core/table.h"
#include "../../tui/formats/fileio.h"
#include "../../tui/formats/formats.h"
#include "synthetic.h"

/* 8-byte LE length + the header bytes; *len gets 8 + hlen. */
static unsigned char *mk(const char *hdr, size_t hlen, size_t *len)
{
    unsigned char *b = malloc(8 + hlen + 1);
    uint64_t n = hlen;
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(n >> (8 * i));
    memcpy(b + 8, hdr, hlen);
    *len = 8 + hlen;
    return b;
}

/* Parses `hdr` as the header of a file with `data` bytes of data. */
static int parse(const char *hdr, uint64_t data, table *t)
{
    size_t len;
    unsigned char *b = mk(hdr, strlen(hdr), &len);
    int r = safetensors_parse(b, len, len + data, 0, t);
    free(b);
    return r;
}

/* Expects the header to be refused with `want` in the message. */
static void refuse(const char *hdr, uint64_t data, const char *want, int line)
{
    table t;
    table_init(&t);
    err_clear();
    int r = parse(hdr, data, &t);
    CHECK(r == -1);
    if (r != -1 || !strstr(err_msg(), want))
        fprintf(stderr, "line %d: want '%s', got '%s'\n", line, want,
                err_msg());
    CHECK(strstr(err_msg(), want) != NULL);
    table_free(&t);
}
#define REFUSE(h, d, w) refuse(h, d, w, __LINE__)

static void accept(const char *hdr, uint64_t data, size_t count, int line)
{
    table t;
    table_init(&t);
    int r = parse(hdr, data, &t);
    if (r != 0)
        fprintf(stderr, "line %d: refused: %s\n", line, err_msg());
    CHECK(r == 0);
    CHECK_EQ_U64(t.count, count);
    table_free(&t);
}
#define ACCEPT(h, d, n) accept(h, d, n, __LINE__)

static void test_valid(void)
{
    const char *h =
        "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"x\"},"
        "\"b.running_mean\":{\"dtype\":\"F32\",\"shape\":[2],"
        "\"data_offsets\":[24,32]},"
        "\"a.weight\":{\"shape\":[2,3],\"data_offsets\":[0,24],"
        "\"dtype\":\"F32\",\"extra\":{\"k\":[1.5,2e9]}},"
        "\"c.idx\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[32,40]},"
        "\"z\":{\"dtype\":\"BF16\",\"shape\":[0,5],\"data_offsets\":[40,40]}}";
    table t;
    table_init(&t);
    size_t len;
    unsigned char *b = mk(h, strlen(h), &len);
    CHECK(safetensors_parse(b, len, len + 40, 7, &t) == 0);
    CHECK_EQ_U64(t.count, 4);
    long a = table_find(&t, "a.weight", 8);
    long bm = table_find(&t, "b.running_mean", 14);
    long ci = table_find(&t, "c.idx", 5);
    CHECK(a >= 0 && bm >= 0 && ci >= 0);
    if (a >= 0 && bm >= 0 && ci >= 0) {
        CHECK_EQ_U64(table_at(&t, a)->offset, len);        /* absolute */
        CHECK_EQ_U64(table_at(&t, bm)->offset, len + 24);
        CHECK_EQ_U64(table_at(&t, ci)->offset, len + 32);
        CHECK_EQ_U64(table_at(&t, a)->file, 7);
        CHECK_EQ_U64(table_at(&t, a)->ndim, 2);
        CHECK_EQ_U64(table_shape(&t, a)[1], 3);
        CHECK_EQ_U64(table_at(&t, a)->numel, 6);
        CHECK(table_at(&t, a)->kind == TK_PARAMETER);
        CHECK(table_at(&t, bm)->kind == TK_BUFFER);
        CHECK(table_at(&t, ci)->kind == TK_BUFFER);
        CHECK_EQ_U64(table_at(&t, ci)->ndim, 0);
        CHECK_EQ_U64(table_at(&t, ci)->numel, 1);
    }
    CHECK_EQ_U64(t.nmeta, 2);
    if (t.nmeta == 2) {
        CHECK_STR(table_meta_key(&t, 0), "format");
        CHECK_STR(table_meta_value(&t, 0), "pt");
    }
    CHECK_STR(t.format, "");   /* parse leaves the format to its caller */
    free(b);
    table_free(&t);

    ACCEPT("{}      ", 0, 0);                     /* the spec's test vector */
    ACCEPT("   \n\t{}\r\n  ", 0, 0);              /* leading whitespace too */
    ACCEPT("{\"__metadata__\":null}", 0, 0);
    ACCEPT("{\"__metadata__\":{}}", 0, 0);
    ACCEPT("{\"s\":{\"dtype\":\"U8\",\"shape\":[9007199254740991],"
           "\"data_offsets\":[0,9007199254740991]}}", 9007199254740991ull, 1);
    ACCEPT("{\"f4\":{\"dtype\":\"F4\",\"shape\":[4],\"data_offsets\":[0,2]}}",
           2, 1);
    ACCEPT("{\"e\":{\"dtype\":\"F8_E4M3\",\"shape\":[0],"
           "\"data_offsets\":[0,0]},\"f\":{\"dtype\":\"U8\",\"shape\":[1],"
           "\"data_offsets\":[0,1]}}", 1, 2);
    ACCEPT("{\"n\\u00e9\\u4e2d\":{\"dtype\":\"BOOL\",\"shape\":[1],"
           "\"data_offsets\":[0,1]}}", 1, 1);
    ACCEPT("{\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\":{\"dtype\":\"BOOL\","
           "\"shape\":[1],\"data_offsets\":[0,1]}}", 1, 1);
}

static void test_prefix(void)
{
    table t;
    table_init(&t);
    unsigned char b[16] = {0};
    CHECK(safetensors_parse(b, 5, 5, 0, &t) == -1);
    CHECK(strstr(err_msg(), "shorter than the 8-byte") != NULL);
    memset(b, 0xff, 8);
    CHECK(safetensors_parse(b, 16, 16, 0, &t) == -1);
    CHECK(strstr(err_msg(), "header length 18446744073709551615 exceeds "
                            "100000000") != NULL);
    uint64_t n = 100000001;
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(n >> (8 * i));
    CHECK(safetensors_parse(b, 16, 200000000, 0, &t) == -1);
    CHECK(strstr(err_msg(), "exceeds 100000000") != NULL);
    n = 1000;
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(n >> (8 * i));
    CHECK(safetensors_parse(b, 16, 16, 0, &t) == -1);
    CHECK(strstr(err_msg(), "runs past the end of the file") != NULL);
    CHECK(safetensors_parse(b, 16, 5000, 0, &t) == -1);   /* buf too short */
    CHECK(strstr(err_msg(), "in memory") != NULL);
    CHECK_EQ_U64(t.count, 0);
    table_free(&t);
}

static void test_text(void)
{
    REFUSE("{\"a\xff\":{}}", 0, "not valid UTF-8 at byte 3");
    REFUSE("{\"a\xc0\x80\":{}}", 0, "not valid UTF-8");      /* overlong */
    REFUSE("{\"a\xed\xa0\x80\":{}}", 0, "not valid UTF-8");  /* surrogate */
    REFUSE("{\"a\xf4\x90\x80\x80\":{}}", 0, "not valid UTF-8");
    REFUSE("{\"a\xe4\xb8\":{}}", 0, "not valid UTF-8");      /* cut short */
    REFUSE("\xef\xbf\xbe{", 0, "not valid JSON");
    REFUSE("{\"a\x01\":{}}", 0, "control byte 0x01");
    REFUSE("{\"a\\u0000b\":{\"dtype\":\"U8\",\"shape\":[1],"
           "\"data_offsets\":[0,1]}}", 1, "\\u0000");
    REFUSE("{\"a\":1,}", 0, "not valid JSON");
    REFUSE("{\"a\":", 0, "not valid JSON");
    REFUSE("", 0, "not valid JSON");
    REFUSE("[1,2]", 0, "not a JSON object");
    REFUSE("\"x\"", 0, "not a JSON object");
    REFUSE("{} x", 0, "bytes after the JSON value");
    REFUSE("{}{}", 0, "bytes after the JSON value");
    char deep[4100];
    memset(deep, '[', 4000);
    deep[4000] = '\0';
    REFUSE(deep, 0, "JSON values for 0 entries");  /* bounded before cJSON */
    /* within the value bound, cJSON's own nesting limit (1000) holds */
    char *h = malloc(12000);
    size_t at = (size_t)sprintf(h, "{");
    for (int i = 0; i < 100; i++)
        at += (size_t)sprintf(h + at, "\"t%d\":{\"dtype\":\"U8\",\"shape\":[0],"
                              "\"data_offsets\":[0,0]},", i);
    at += (size_t)sprintf(h + at, "\"z\":");
    memset(h + at, '[', 1001);
    h[at + 1001] = '\0';
    REFUSE(h, 0, "not valid JSON");
    free(h);
}

static void test_entries(void)
{
    REFUSE("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
           "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
           2, "duplicate tensor name 'a'");
    REFUSE("{\"__metadata__\":{},\"__metadata__\":{}}", 0,
           "duplicate __metadata__");
    REFUSE("{\"__metadata__\":{\"format\":1}}", 0,
           "__metadata__ value for 'format' is not a string");
    REFUSE("{\"__metadata__\":{\"a\":null}}", 0, "not a string");
    REFUSE("{\"__metadata__\":[\"a\"]}", 0, "__metadata__ is not an object");
    REFUSE("{\"a\":[1]}", 0, "tensor 'a': entry is not an object");
    REFUSE("{\"a\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
           "tensor 'a': no 'dtype' field");
    REFUSE("{\"a\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1,
           "no 'shape' field");
    REFUSE("{\"a\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1,
           "no 'data_offsets' field");
    REFUSE("{\"a\":{\"dtype\":8,\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
           "dtype is not a string");
    REFUSE("{\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],"
           "\"data_offsets\":[0,1]}}", 1, "duplicate field 'dtype'");
    REFUSE("{\"a\":{\"dtype\":\"U8\",\"shape\":1,\"data_offsets\":[0,1]}}", 1,
           "shape: not an array");
    REFUSE("{\"a\":{\"dtype\":\"U8\",\"shape\":[\"1\"],"
           "\"data_offsets\":[0,1]}}", 1, "not a number");
    REFUSE("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}",
           1, "data_offsets: more than 2 values");
    REFUSE("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1]}}",
           1, "holds 1 values, not 2");
    REFUSE("{\"a\":{\"dtype\":\"Q8\",\"shape\":[1],\"data_offsets\":[0,1]}}",
           1, "unknown dtype 'Q8'");
    REFUSE("{\"a\":{\"dtype\":\"C128\",\"shape\":[1],"
           "\"data_offsets\":[0,16]}}", 16, "unknown dtype 'C128'");
    REFUSE("{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
           4, "unknown dtype");
    char many[512] = "{\"a\":{\"dtype\":\"U8\",\"shape\":[";
    for (int i = 0; i < 65; i++)
        strcat(many, i ? ",1" : "1");
    strcat(many, "],\"data_offsets\":[0,1]}}");
    REFUSE(many, 1, "more than 64 values");
}

static void test_numbers(void)
{
    REFUSE("{\"a\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]}}",
           1, "shape: value -1 is negative");
    REFUSE("{\"a\":{\"dtype\":\"U8\",\"shape\":[1.5],\"data_offsets\":[0,1]}}",
           1, "value 1.5 is not an integer");
    REFUSE("{\"a\":{\"dtype\":\"U8\",\"shape\":[1.0],\"data_offsets\":[0,1]}}",
           1, "not written as a plain integer");
    REFUSE("{\"a\":{\"dtype\":\"U8\",\"shape\":[1e0],\"data_offsets\":[0,1]}}",
           1, "not written as a plain integer");
    REFUSE("{\"a\":{\"dtype\":\"U8\",\"shape\":[01],\"data_offsets\":[0,1]}}",
           1, "not written as a plain integer");
    REFUSE("{\"a\":{\"dtype\":\"U8\",\"shape\":[-0],\"data_offsets\":[0,0]}}",
           0, "not written as a plain integer");
    REFUSE("{\"a\":{\"dtype\":\"U8\",\"shape\":[9007199254740992],"
           "\"data_offsets\":[0,9007199254740992]}}", 9007199254740992ull,
           "offsets and dimensions above 2^53 are refused");
    REFUSE("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],"
           "\"data_offsets\":[0,18446744073709551617]}}", 1, "2^53");
    REFUSE("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],"
           "\"data_offsets\":[0,1e400]}}", 1, "2^53");
    REFUSE("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],"
           "\"data_offsets\":[0,1.0000000000000000001]}}", 1, "plain integer");
    /* an odd number in an unknown field does not taint the next ones */
    ACCEPT("{\"a\":{\"x\":[1.5,[-2,{\"y\":3e5}]],\"dtype\":\"U8\","
           "\"shape\":[2],\"data_offsets\":[0,2],\"z\":0.5},"
           "\"b\":{\"q\":-1,\"dtype\":\"U8\",\"shape\":[1],"
           "\"data_offsets\":[2,3]}}", 3, 2);
    /* and the walk still finds the odd one after them */
    REFUSE("{\"a\":{\"x\":[1.5,-2],\"dtype\":\"U8\",\"shape\":[2],"
           "\"data_offsets\":[0,2]},\"b\":{\"dtype\":\"U8\",\"shape\":[1],"
           "\"data_offsets\":[2,3.0]}}", 3, "tensor 'b': data_offsets");
}

static void test_offsets(void)
{
    REFUSE("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[1,3]}}",
           3, "first tensor starts at 1, not 0");
    REFUSE("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
           "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[3,5]}}",
           5, "tensor 'b': gap");
    REFUSE("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
           "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[1,3]}}",
           3, "overlap");
    REFUSE("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
           "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}",
           2, "overlap");
    REFUSE("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[4,2]}}",
           4, "end before they begin");
    REFUSE("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}",
           4, "hold 4 bytes, its shape and dtype need 8");
    REFUSE("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}",
           3, "1 trailing bytes after the last tensor");
    REFUSE("{}", 1, "1 trailing bytes");
    REFUSE("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}",
           1, "runs past the end of the file");
    REFUSE("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],"
           "\"data_offsets\":[0,0]}}", 0, "overflows 64 bits");
    REFUSE("{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}",
           2, "not a whole number of bytes");
    REFUSE("{\"a\":{\"dtype\":\"F6_E2M3\",\"shape\":[3],"
           "\"data_offsets\":[0,2]}}", 2, "not a whole number of bytes");
}

static void test_bounds(void)
{
    /* An entry dragging 2000 extra values is refused before cJSON runs. */
    char *h = malloc(8000);
    strcpy(h, "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],"
              "\"x\":[");
    for (int i = 0; i < 2000; i++)
        strcat(h, i ? ",0" : "0");
    strcat(h, "]}}");
    REFUSE(h, 1, "JSON values for 1 entries");
    free(h);

    /* 200,000 tiny tensors: bounded time; print it, do not assert it. */
    size_t n = 200000, cap = n * 80 + 64, at = 0;
    char *big = malloc(cap);
    at += (size_t)snprintf(big + at, cap - at, "{");
    for (size_t i = 0; i < n; i++)
        at += (size_t)snprintf(big + at, cap - at,
                               "%s\"t.%zu\":{\"dtype\":\"U8\",\"shape\":[1],"
                               "\"data_offsets\":[%zu,%zu]}", i ? "," : "",
                               i, i, i + 1);
    at += (size_t)snprintf(big + at, cap - at, "}");
    table t;
    table_init(&t);
    size_t len;
    unsigned char *b = mk(big, at, &len);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(safetensors_parse(b, len, len + n, 0, &t) == 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_EQ_U64(t.count, n);
    CHECK_EQ_U64(table_at(&t, n - 1)->offset, len + n - 1);
    printf("200k tiny tensors, %zu-byte header: %.1f ms\n", at,
           (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
    free(b);
    free(big);
    table_free(&t);
}

/* Writes a file: 8-byte length, header, then `data` zero bytes. */
static void write_st(const char *path, const char *hdr, size_t data)
{
    size_t len;
    unsigned char *b = mk(hdr, strlen(hdr), &len);
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, len, f);
    for (size_t i = 0; i < data; i++)
        fputc(0, f);
    fclose(f);
    free(b);
}

static void test_read_file(void)
{
    char dir[] = "/tmp/test_st_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char p[256];
    table t;
    table_init(&t);

    snprintf(p, sizeof p, "%s/ok.safetensors", dir);
    const char *h = "{\"w\":{\"dtype\":\"F16\",\"shape\":[2,2],"
                    "\"data_offsets\":[0,8]}}   ";
    write_st(p, h, 8);
    uint64_t reads = fileio_reads(), bytes = fileio_bytes_read();
    CHECK(safetensors_read(p, &t) == 0);
    CHECK_EQ_U64(fileio_reads() - reads, 2);           /* prefix + header */
    CHECK_EQ_U64(fileio_bytes_read() - bytes, 8 + strlen(h));
    CHECK_STR(t.format, "safetensors");
    CHECK_EQ_U64(t.nfiles, 1);
    CHECK_STR(table_file_path(&t, 0), p);
    CHECK_EQ_U64(t.files[0].size, 8 + strlen(h) + 8);
    CHECK_EQ_U64(table_at(&t, 0)->offset, 8 + strlen(h));
    /* a second file gets the next file index */
    snprintf(p, sizeof p, "%s/two.safetensors", dir);
    write_st(p, "{\"v\":{\"dtype\":\"U8\",\"shape\":[3],"
                "\"data_offsets\":[0,3]}}", 3);
    CHECK(safetensors_read(p, &t) == 0);
    CHECK_EQ_U64(table_at(&t, 1)->file, 1);
    unlink(p);

    snprintf(p, sizeof p, "%s/short.safetensors", dir);
    FILE *f = fopen(p, "wb");
    fputs("abc", f);
    fclose(f);
    CHECK(safetensors_read(p, &t) == -1);
    CHECK(strncmp(err_msg(), p, strlen(p)) == 0);
    CHECK(strstr(err_msg(), "file of 3 bytes is shorter") != NULL);
    unlink(p);

    snprintf(p, sizeof p, "%s/bad.safetensors", dir);
    write_st(p, "{\"w2\":{\"dtype\":\"F16\",\"shape\":[2],"
                "\"data_offsets\":[0,4]}}", 5);
    CHECK(safetensors_read(p, &t) == -1);
    CHECK(strncmp(err_msg(), p, strlen(p)) == 0);
    CHECK(strstr(err_msg(), ": 1 trailing bytes") != NULL);
    if (!strstr(err_msg(), ": 1 trailing bytes"))
        fprintf(stderr, "got '%s'\n", err_msg());
    unlink(p);

    snprintf(p, sizeof p, "%s/huge.safetensors", dir);
    f = fopen(p, "wb");
    fwrite("\xff\xff\xff\xff\xff\xff\xff\xff{}", 1, 10, f);
    fclose(f);
    CHECK(safetensors_read(p, &t) == -1);
    CHECK(strstr(err_msg(), "huge.safetensors: header length "
                            "18446744073709551615 exceeds 100000000"));
    unlink(p);

    snprintf(p, sizeof p, "%s/missing.safetensors", dir);
    CHECK(safetensors_read(p, &t) == -1);
    CHECK(strstr(err_msg(), "missing.safetensors") != NULL);
    CHECK(safetensors_read(dir, &t) == -1);            /* a folder */
    snprintf(p, sizeof p, "%s/ok.safetensors", dir);
    unlink(p);
    rmdir(dir);
    table_free(&t);
}

/* Compares the table with gen_synthetic.py's expected.json. */
static void test_synthetic_bert(void)
{
    const char *fix = synth_fix_dir("synthetic bert");
    if (!fix)
        return;
    cJSON *exp = synth_load_expected(fix, "bert-base-uncased");
    CHECK(exp != NULL);
    if (!exp)
        return;

    char p[1024];
    table t;
    table_init(&t);
    snprintf(p, sizeof p, "%s/synthetic/bert-base-uncased/model.safetensors",
             fix);
    int r = safetensors_read(p, &t);
    if (r)
        fprintf(stderr, "bert: %s\n", err_msg());
    CHECK(r == 0);
    table_totals tot;
    table_get_totals(&t, &tot);
    CHECK_EQ_U64(t.count, 206);
    CHECK_EQ_U64(tot.tensors, 206);
    CHECK_EQ_U64(tot.parameter_numel + tot.buffer_numel, 110106428);
    CHECK_EQ_U64(tot.bytes, 440425712);
    CHECK_EQ_U64(t.nmeta, 1);
    long first = table_find(&t, "bert.embeddings.LayerNorm.beta", 30);
    CHECK(first >= 0 && table_at(&t, first)->offset ==
                            t.files[0].size - 440425712);
    CHECK_STR(t.format, "safetensors");
    size_t dcount[DT_COUNT] = {0};
    CHECK_EQ_U64(cJSON_GetArraySize(cJSON_GetObjectItem(exp, "tensors")),
                 t.count);
    CHECK_EQ_U64(synth_count_mismatches(&t, exp, dcount), 0);
    CHECK_EQ_U64(dcount[DT_F32], 206); /* formats.md: all F32 */
    cJSON_Delete(exp);
    table_free(&t);
}

int main(void)
{
    test_valid();
    test_prefix();
    test_text();
    test_entries();
    test_numbers();
    test_offsets();
    test_bounds();
    test_read_file();
    test_synthetic_bert();
    return check_report_named("test_safetensors");
}
