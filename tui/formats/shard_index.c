/* shard_index.c: a sharded checkpoint through its index JSON (formats.h).
 *
 *   {"metadata": {"total_size": N, ...}, "weight_map": {"name": "shard"}}
 *
 * Every shard path must be relative, free of ".." segments and, once
 * symlinks are resolved, inside the index's folder. Each shard is read
 * once, in name order (model-00001-of-... first), by the reader its
 * first bytes call for (a zip: torchzip_read, else safetensors_read).
 * Then the weight_map is walked once: every name must be in the shard
 * it names, and every tensor of every shard must be in the weight_map.
 */
#if !defined(_GNU_SOURCE) && !defined(_XOPEN_SOURCE)
#define _XOPEN_SOURCE 700   /* realpath */
#endif
#include "formats.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../core/bitset.h"
#include "../core/err.h"
#include "fileio.h"
#include "json_num.h"

#define IDX_MAX_BYTES 100000000ull    /* same cap as a safetensors header */
#define IDX_MAX_VALUES (2ull * TABLE_MAX_TENSORS + 4096)

typedef struct {
    const char *name; /* weight_map value, borrowed from the cJSON tree */
    uint32_t file;    /* file index in the table, once read */
} idx_shard;

typedef struct {
    idx_shard *shards;
    size_t nshards;
    uint32_t *slots; /* open addressing: shard index + 1, 0 = empty */
    size_t cap;
} idx_set;

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

/* The index of shard `name` in the set, or -1. */
static long set_find(const idx_set *set, const char *name)
{
    size_t i = (size_t)hash_str(name) & (set->cap - 1);
    while (set->slots[i]) {
        uint32_t k = set->slots[i] - 1;
        if (strcmp(set->shards[k].name, name) == 0)
            return (long)k;
        i = (i + 1) & (set->cap - 1);
    }
    return -1;
}

/* Checks a shard path as written in the index. Returns 0, or -1 with
 * err set. */
static int check_shard_name(const char *name)
{
    if (!name[0])
        return err_set("empty shard path");
    if (name[0] == '/')
        return err_set("shard path '%s' is absolute", name);
    for (const char *s = name; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return err_set("shard path '%s' has a '..' segment", name);
        s += n + (e != NULL);
    }
    return 0;
}

/* Adds `name` to the set unless present (after check_shard_name). */
static int set_add(idx_set *set, const char *name)
{
    if (set_find(set, name) >= 0)
        return 0;
    if (set->nshards >= TABLE_MAX_FILES)
        return err_set("more than %u shards", TABLE_MAX_FILES);
    if (check_shard_name(name))
        return -1;
    size_t i = (size_t)hash_str(name) & (set->cap - 1);
    while (set->slots[i])
        i = (i + 1) & (set->cap - 1);
    set->slots[i] = (uint32_t)set->nshards + 1;
    set->shards[set->nshards].name = name;
    set->shards[set->nshards].file = 0;
    set->nshards++;
    return 0;
}

static int shard_cmp(const void *a, const void *b)
{
    return strcmp(((const idx_shard *)a)->name, ((const idx_shard *)b)->name);
}

/* Reads the root: weight_map (required) and metadata.total_size. */
static int idx_walk_root(const cJSON *root, json_nums *nums,
                         const cJSON **wmap, int *has_total, uint64_t *total)
{
    const cJSON *meta = NULL;
    if (!cJSON_IsObject(root))
        return err_set("index is not a JSON object");
    for (const cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "weight_map") == 0) {
            if (*wmap)
                return err_set("duplicate weight_map");
            if (!cJSON_IsObject(e))
                return err_set("weight_map is not an object");
            *wmap = e;
            json_num_skip(nums, e);
        } else if (strcmp(e->string, "metadata") == 0) {
            if (meta)
                return err_set("duplicate metadata");
            meta = e;
            if (!cJSON_IsObject(e) && !cJSON_IsNull(e))
                return err_set("metadata is not an object");
            for (const cJSON *m = e->child; m; m = m->next) {
                if (strcmp(m->string, "total_size") != 0) {
                    json_num_skip(nums, m);
                    continue;
                }
                if (*has_total)
                    return err_set("duplicate metadata.total_size");
                *has_total = 1;
                if (json_num_get_u53(nums, m, total))
                    return err_prefix("metadata.total_size");
            }
        } else {
            json_num_skip(nums, e);
        }
    }
    if (!*wmap)
        return err_set("index has no weight_map");
    return 0;
}

/* Joins the index folder and a shard path: "<dir>/<name>", or the name
 * alone when the index path has no folder. Returns a malloc'd string or
 * NULL with err set. */
static char *join_path(const char *index_path, const char *name)
{
    const char *slash = strrchr(index_path, '/');
    size_t dlen = slash ? (size_t)(slash - index_path) + 1 : 0;
    size_t nlen = strlen(name);
    char *p = malloc(dlen + nlen + 1);
    if (!p) {
        err_set("out of memory");
        return NULL;
    }
    memcpy(p, index_path, dlen);
    memcpy(p + dlen, name, nlen + 1);
    return p;
}

/* Resolves the index's folder with realpath(). */
static int index_dir_real(const char *index_path, char *out)
{
    const char *slash = strrchr(index_path, '/');
    char dir[PATH_MAX];
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t n = (size_t)(slash - index_path);
        if (n >= sizeof dir)
            return err_set("path too long");
        memcpy(dir, index_path, n);
        dir[n ? n : 1] = '\0';
        if (!n)
            dir[0] = '/';
    }
    if (!realpath(dir, out))
        return err_set("%s: %s", dir, strerror(errno));
    return 0;
}

/* Reads one shard with the reader its first bytes call for; its tensors
 * (from index `base` on) get its file index. */
static int idx_read_shard(table *t, const char *path, const char *root_real,
                          idx_shard *sh)
{
    char real[PATH_MAX];
    unsigned char magic[4] = {0};
    rfile f;
    size_t rlen = strlen(root_real);

    if (!realpath(path, real))
        return err_set("shard %s: %s", sh->name, strerror(errno));
    if (!(rlen == 1 && root_real[0] == '/') &&
        (strncmp(real, root_real, rlen) != 0 || real[rlen] != '/'))
        return err_set("shard %s resolves to %s, outside the index's "
                       "folder %s", sh->name, real, root_real);
    if (rfile_open(&f, path))
        return -1;
    int zip = f.size >= 4 && rfile_pread(&f, magic, 4, 0) == 0 &&
              memcmp(magic, "PK\3\4", 4) == 0;
    rfile_close(&f);
    size_t base = t->count, nfiles = t->nfiles;
    if (!t->format[0])
        table_set_format(t, zip ? "pytorch" : "safetensors");
    if (zip ? torchzip_read(path, t) : safetensors_read(path, t))
        return -1;
    if (t->nfiles == nfiles) {
        long fi = table_add_file(t, path, f.size);
        if (fi < 0)
            return err_prefix("%s", path);
    }
    sh->file = (uint32_t)nfiles;
    for (size_t i = base; i < t->count; i++)
        table_at(t, i)->file = sh->file;
    return 0;
}

/* The weight_map against the tensors read from the shards. */
static int idx_check_map(table *t, const cJSON *wmap, const idx_set *set,
                         size_t base, int has_total, uint64_t total)
{
    bitset seen = {0};
    uint64_t sum = 0;
    int rc = -1;
    if (bitset_init(&seen, t->count - base)) {
        err_set("out of memory");
        goto cleanup;
    }
    for (const cJSON *e = wmap->child; e; e = e->next) {
        long i = table_find(t, e->string, strlen(e->string));
        const idx_shard *sh = &set->shards[set_find(set, e->valuestring)];
        if (i < (long)base) {
            err_set("tensor '%s' is not in its shard %s", e->string,
                    e->valuestring);
            goto cleanup;
        }
        if (table_at(t, (size_t)i)->file != sh->file) {
            err_set("tensor '%s' is in %s, the index says %s", e->string,
                    table_file_path(t, table_at(t, (size_t)i)->file),
                    e->valuestring);
            goto cleanup;
        }
        if (bitset_get(&seen, (size_t)i - base)) {
            err_set("weight_map lists tensor '%s' twice", e->string);
            goto cleanup;
        }
        bitset_set(&seen, (size_t)i - base);
    }
    for (size_t i = base; i < t->count; i++) {
        if (!bitset_get(&seen, i - base)) {
            err_set("tensor '%s' of %s is not in the weight_map",
                    table_name(t, i),
                    table_file_path(t, table_at(t, i)->file));
            goto cleanup;
        }
        if (sum > UINT64_MAX - table_at(t, i)->nbytes) {
            err_set("tensor bytes overflow 64 bits");
            goto cleanup;
        }
        sum += table_at(t, i)->nbytes;
    }
    if (has_total && sum != total) {
        err_set("metadata.total_size is %llu, the shards hold %llu bytes "
                "of tensors", (unsigned long long)total,
                (unsigned long long)sum);
        goto cleanup;
    }
    rc = 0;
cleanup:
    bitset_free(&seen);
    return rc;
}

int index_read(const char *index_path, table *t)
{
    rfile f;
    char *text = NULL, *path = NULL;
    cJSON *root = NULL;
    const cJSON *wmap = NULL;
    json_nums nums = {0};
    idx_set set = {0};
    char root_real[PATH_MAX];
    uint64_t total = 0;
    int has_total = 0, rc = -1, own = 1;
    size_t base = t->count, count = 0;

    if (rfile_open(&f, index_path))
        return -1;
    if (f.size > IDX_MAX_BYTES) {
        err_set("index of %llu bytes (limit %llu)",
                (unsigned long long)f.size, IDX_MAX_BYTES);
        goto cleanup;
    }
    text = malloc((size_t)f.size + 1);
    if (!text) {
        err_set("out of memory");
        goto cleanup;
    }
    if (rfile_pread(&f, text, (size_t)f.size, 0)) {
        own = 0;
        goto cleanup;
    }
    root = json_num_parse(&nums, text, (size_t)f.size, "index",
                          IDX_MAX_VALUES, 0, 0);
    if (!root || idx_walk_root(root, &nums, &wmap, &has_total, &total))
        goto cleanup;
    for (const cJSON *e = wmap->child; e; e = e->next) {
        if (!cJSON_IsString(e)) {
            err_set("weight_map value for '%s' is not a string", e->string);
            goto cleanup;
        }
        if (++count > TABLE_MAX_TENSORS) {
            err_set("weight_map lists more than %u tensors",
                    TABLE_MAX_TENSORS);
            goto cleanup;
        }
    }
    set.cap = 64;
    while (set.cap < 2 * count)
        set.cap *= 2;
    set.slots = calloc(set.cap, sizeof *set.slots);
    set.shards = malloc((count ? count : 1) * sizeof *set.shards);
    if (!set.slots || !set.shards) {
        err_set("out of memory");
        goto cleanup;
    }
    for (const cJSON *e = wmap->child; e; e = e->next)
        if (set_add(&set, e->valuestring))
            goto cleanup;
    if (index_dir_real(index_path, root_real))
        goto cleanup;
    qsort(set.shards, set.nshards, sizeof *set.shards, shard_cmp);
    for (size_t k = 0; k < set.nshards; k++) {   /* rehash in new order */
        size_t i = (size_t)hash_str(set.shards[k].name) & (set.cap - 1);
        if (k == 0)
            memset(set.slots, 0, set.cap * sizeof *set.slots);
        while (set.slots[i])
            i = (i + 1) & (set.cap - 1);
        set.slots[i] = (uint32_t)k + 1;
    }
    for (size_t k = 0; k < set.nshards; k++) {
        path = join_path(index_path, set.shards[k].name);
        if (!path)
            goto cleanup;
        if (idx_read_shard(t, path, root_real, &set.shards[k]))
            goto cleanup;
        free(path);
        path = NULL;
    }
    if (idx_check_map(t, wmap, &set, base, has_total, total))
        goto cleanup;
    rc = 0;
cleanup:
    if (rc && own)
        err_prefix("%s", index_path);
    free(path);
    free(set.slots);
    free(set.shards);
    json_num_free(&nums);
    free(text);
    rfile_close(&f);
    return rc;
}
