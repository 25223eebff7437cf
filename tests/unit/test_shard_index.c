/* test_shard_index.c: sharded checkpoints through their index JSON.
 *
 * Builds small shard sets in a temp folder (good ones, traversal,
 * symlink escape, missing shard/tensor, wrong shard, bad total_size)
 * and, with $FIX set, opens the header-only Llama-2, Llama-3 and
 * DeepSeek-V3 sets from gen_synthetic.py against their expected.json.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "check.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../tui/core/err.h"
#include "../../tui/core/table.h"
#include "../../tui/formats/formats.h"
#include "synthetic.h"

static char dir[64];   /* this run's temp folder */

static void put(const char *name, const void *data, size_t len)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) {
        perror(p);
        exit(1);
    }
    fwrite(data, 1, len, f);
    fclose(f);
}

static void put_text(const char *name, const char *text)
{
    put(name, text, strlen(text));
}

/* A safetensors shard holding U8 tensors named in `names` (comma
 * separated), `size` bytes each, laid out in order. */
static void put_shard(const char *name, const char *names, unsigned size)
{
    char hdr[2048], tmp[256];
    size_t at = 0, off = 0;
    at += (size_t)snprintf(hdr + at, sizeof hdr - at, "{");
    snprintf(tmp, sizeof tmp, "%s", names);
    for (char *s = strtok(tmp, ","); s; s = strtok(NULL, ",")) {
        at += (size_t)snprintf(hdr + at, sizeof hdr - at,
                               "%s\"%s\":{\"dtype\":\"U8\",\"shape\":[%u],"
                               "\"data_offsets\":[%zu,%zu]}",
                               off ? "," : "", s, size, off, off + size);
        off += size;
    }
    at += (size_t)snprintf(hdr + at, sizeof hdr - at, "}");
    unsigned char *buf = calloc(1, 8 + at + off);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)at >> (8 * i));
    memcpy(buf + 8, hdr, at);
    put(name, buf, 8 + at + off);
    free(buf);
}

static char idx_path[512];

/* Writes the index and reads it; returns index_read's result. */
static int open_index(const char *json, table *t)
{
    put_text("model.safetensors.index.json", json);
    snprintf(idx_path, sizeof idx_path, "%s/model.safetensors.index.json",
             dir);
    table_init(t);
    err_clear();
    return index_read(idx_path, t);
}

static void refuse(const char *json, const char *want, int line)
{
    table t;
    int r = open_index(json, &t);
    CHECK(r == -1);
    int ok = strstr(err_msg(), want) != NULL &&
             strncmp(err_msg(), idx_path, strlen(idx_path)) == 0;
    if (r != -1 || !ok)
        fprintf(stderr, "line %d: want '%s', got '%s'\n", line, want,
                err_msg());
    CHECK(ok);
    table_free(&t);
}
#define REFUSE(j, w) refuse(j, w, __LINE__)

static void test_good(void)
{
    put_shard("model-00001-of-00002.safetensors", "a,b", 4);
    put_shard("model-00002-of-00002.safetensors", "c", 3);
    table t;
    /* weight_map names shard 2 first: files still come in shard order */
    int r = open_index(
        "{\"metadata\":{\"total_size\":11,\"format\":\"pt\",\"x\":[1.5]},"
        "\"weight_map\":{\"c\":\"model-00002-of-00002.safetensors\","
        "\"a\":\"model-00001-of-00002.safetensors\","
        "\"b\":\"model-00001-of-00002.safetensors\"}}", &t);
    if (r)
        fprintf(stderr, "good: %s\n", err_msg());
    CHECK(r == 0);
    CHECK_EQ_U64(t.count, 3);
    CHECK_EQ_U64(t.nfiles, 2);
    CHECK_STR(t.format, "safetensors");
    if (t.nfiles == 2) {
        CHECK(strstr(table_file_path(&t, 0), "model-00001-of-00002") != NULL);
        CHECK(strstr(table_file_path(&t, 1), "model-00002-of-00002") != NULL);
    }
    long c = table_find(&t, "c", 1), b = table_find(&t, "b", 1);
    CHECK(c >= 0 && b >= 0);
    if (c >= 0 && b >= 0) {
        CHECK_EQ_U64(table_at(&t, c)->file, 1);
        CHECK_EQ_U64(table_at(&t, b)->file, 0);
        CHECK_EQ_U64(table_at(&t, b)->offset, t.files[0].size - 4);
    }
    table_free(&t);

    /* no metadata, metadata null, empty weight_map */
    r = open_index("{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                   "\"b\":\"model-00001-of-00002.safetensors\"}}", &t);
    CHECK(r == 0);
    table_free(&t);
    r = open_index(" {\"metadata\":null,\"weight_map\":{\"c\":"
                   "\"./model-00002-of-00002.safetensors\"}} \n", &t);
    CHECK(r == 0);
    CHECK_EQ_U64(t.count, 1);
    table_free(&t);
    r = open_index("{\"weight_map\":{}}", &t);
    CHECK(r == 0 && t.count == 0 && t.nfiles == 0);
    table_free(&t);

    /* a shard in a subfolder, and a symlink that stays inside */
    char p[512];
    snprintf(p, sizeof p, "%s/sub", dir);
    mkdir(p, 0755);
    put_shard("sub/s.safetensors", "d", 2);
    snprintf(p, sizeof p, "%s/alias.safetensors", dir);
    CHECK(symlink("sub/s.safetensors", p) == 0);
    r = open_index("{\"weight_map\":{\"d\":\"alias.safetensors\"}}", &t);
    CHECK(r == 0);
    table_free(&t);
    r = open_index("{\"weight_map\":{\"d\":\"sub/s.safetensors\"}}", &t);
    CHECK(r == 0);
    table_free(&t);

    /* an index path with no folder part */
    char cwd[512];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(chdir(dir) == 0);
    table_init(&t);
    r = index_read("model.safetensors.index.json", &t);
    CHECK(r == 0);
    if (t.nfiles == 1)
        CHECK_STR(table_file_path(&t, 0), "sub/s.safetensors");
    table_free(&t);
    CHECK(chdir(cwd) == 0);
}

static void test_bad(void)
{
    REFUSE("{\"weight_map\":{\"a\":\"../x.safetensors\"}}", "'..' segment");
    REFUSE("{\"weight_map\":{\"a\":\"sub/../../x.safetensors\"}}",
           "'..' segment");
    REFUSE("{\"weight_map\":{\"a\":\"sub/..\"}}", "'..' segment");
    REFUSE("{\"weight_map\":{\"a\":\"/etc/passwd\"}}", "is absolute");
    REFUSE("{\"weight_map\":{\"a\":\"\"}}", "empty shard path");
    REFUSE("{\"weight_map\":{\"a\":5}}",
           "weight_map value for 'a' is not a string");
    REFUSE("{\"weight_map\":{\"a\":\"x\\u0000.safetensors\"}}", "\\u0000");
    REFUSE("{\"weight_map\":[\"a\"]}", "weight_map is not an object");
    REFUSE("{\"metadata\":{}}", "no weight_map");
    REFUSE("[]", "index is not a JSON object");
    REFUSE("{\"weight_map\":{}", "not valid JSON");
    REFUSE("{\"weight_map\":{},\"weight_map\":{}}", "duplicate weight_map");
    REFUSE("{\"metadata\":5,\"weight_map\":{}}", "metadata is not an object");
    REFUSE("{\"metadata\":{\"total_size\":1.5},\"weight_map\":{}}",
           "metadata.total_size: value 1.5 is not an integer");
    REFUSE("{\"metadata\":{\"total_size\":-3},\"weight_map\":{}}",
           "negative");
    REFUSE("{\"metadata\":{\"total_size\":12},\"weight_map\":{"
           "\"a\":\"model-00001-of-00002.safetensors\","
           "\"b\":\"model-00001-of-00002.safetensors\","
           "\"c\":\"model-00002-of-00002.safetensors\"}}",
           "metadata.total_size is 12, the shards hold 11 bytes");
    REFUSE("{\"weight_map\":{\"a\":\"missing.safetensors\"}}",
           "shard missing.safetensors: No such file or directory");
    REFUSE("{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
           "\"b\":\"model-00001-of-00002.safetensors\","
           "\"ghost\":\"model-00001-of-00002.safetensors\"}}",
           "tensor 'ghost' is not in its shard");
    REFUSE("{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
           "\"b\":\"model-00002-of-00002.safetensors\","
           "\"c\":\"model-00002-of-00002.safetensors\"}}",
           "tensor 'b' is in");
    REFUSE("{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\"}}",
           "tensor 'b' of");
    REFUSE("{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
           "\"a\":\"model-00001-of-00002.safetensors\","
           "\"b\":\"model-00001-of-00002.safetensors\"}}",
           "lists tensor 'a' twice");

    /* the same tensor in two shards */
    put_shard("dup1.safetensors", "q", 1);
    put_shard("dup2.safetensors", "q", 1);
    REFUSE("{\"weight_map\":{\"q\":\"dup1.safetensors\","
           "\"r\":\"dup2.safetensors\"}}", "duplicate tensor name 'q'");

    /* a broken shard: the message names the index and the shard */
    put("broken.safetensors", "\x05\0\0\0\0\0\0\0{}", 10);
    REFUSE("{\"weight_map\":{\"a\":\"broken.safetensors\"}}",
           "broken.safetensors: header length 5 runs past the end");

    /* a symlink out of the folder, to a valid shard outside */
    char out[128], p[512];
    snprintf(out, sizeof out, "%s.outside.safetensors", dir);
    {
        char save[64];
        memcpy(save, dir, sizeof save);
        snprintf(dir, sizeof dir, "/");
        put_shard(out + 1, "a,b", 4);
        memcpy(dir, save, sizeof save);
    }
    snprintf(p, sizeof p, "%s/escape.safetensors", dir);
    CHECK(symlink(out, p) == 0);
    REFUSE("{\"weight_map\":{\"a\":\"escape.safetensors\","
           "\"b\":\"escape.safetensors\"}}", "outside the index's folder");
    unlink(out);

    /* not an index at all */
    table t;
    table_init(&t);
    snprintf(p, sizeof p, "%s/nope.json", dir);
    CHECK(index_read(p, &t) == -1);
    CHECK(strstr(err_msg(), "nope.json") != NULL);
    table_free(&t);
}

/* Opens a synthetic set and compares it with its expected.json. */
static void check_synthetic(const char *fix, const char *model,
                            uint64_t count, uint64_t bytes)
{
    char p[1024];
    cJSON *exp = synth_load_expected(fix, model);
    CHECK(exp != NULL);
    if (!exp)
        return;
    snprintf(p, sizeof p, "%s/synthetic/%s/model.safetensors.index.json",
             fix, model);
    table t;
    table_init(&t);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int r = index_read(p, &t);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (r)
        fprintf(stderr, "%s: %s\n", model, err_msg());
    CHECK(r == 0);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%s: %zu tensors in %zu files, %.1f ms, peak RSS so far %ld MB\n",
           model, t.count, t.nfiles,
           (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6,
           ru.ru_maxrss / 1024);
    table_totals tot;
    table_get_totals(&t, &tot);
    CHECK_EQ_U64(t.count, count);
    CHECK_EQ_U64(tot.bytes, bytes);
    CHECK_EQ_U64(tot.tensors, count);
    CHECK_STR(t.format, "safetensors");

    const cJSON *files = cJSON_GetObjectItem(exp, "files");
    CHECK_EQ_U64(t.nfiles, cJSON_GetArraySize(files));
    int bad = 0, k = 0;
    for (const cJSON *f = files ? files->child : NULL; f; f = f->next, k++) {
        const char *fp = (size_t)k < t.nfiles ? table_file_path(&t, k) : "";
        size_t fl = strlen(fp), nl = strlen(f->valuestring);
        if (fl < nl || strcmp(fp + fl - nl, f->valuestring) != 0)
            bad++;
    }
    CHECK_EQ_U64(bad, 0);

    size_t dcount[DT_COUNT] = {0};
    CHECK_EQ_U64(cJSON_GetArraySize(cJSON_GetObjectItem(exp, "tensors")),
                 t.count);
    CHECK_EQ_U64(synth_count_mismatches(&t, exp, dcount), 0);
    const cJSON *dc = cJSON_GetObjectItem(exp, "dtype_counts");
    for (const cJSON *d = dc ? dc->child : NULL; d; d = d->next)
        CHECK_EQ_U64(dcount[dtype_from_name(d->string, strlen(d->string))],
                     (uint64_t)d->valuedouble);
    cJSON_Delete(exp);
    table_free(&t);
}

static void test_synthetic(void)
{
    const char *fix = synth_fix_dir("synthetic sets");
    if (!fix)
        return;
    check_synthetic(fix, "deepseek-v3", 91991, 688574839360ull);
    check_synthetic(fix, "llama3-8b", 291, 16060522496ull);
    check_synthetic(fix, "llama2-7b", 323, 13476839424ull);
}

static void rm_tree(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_shard_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_synthetic();
    test_good();
    test_bad();
    rm_tree();
    return check_report_named("test_shard_index");
}
