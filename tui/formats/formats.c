/* formats.c: choose a reader by the file's content (see formats.h). */
#include "formats.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../core/ckpt_note.h"
#include "../core/err.h"
#include "fileio.h"
#include "sniff.h"

/* First bytes of a pre-1.6 torch.save file: PROTO 2, LONG1 magic number. */
static const unsigned char legacy_magic[] = {
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
    0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
};

/* Candidates in a folder, in order of preference. */
static const char *const folder_names[] = {
    "model.safetensors.index.json",
    "pytorch_model.bin.index.json",
    "model.safetensors",
    "pytorch_model.bin",
    "model.pt",
    "model.pth",
};

static int open_any(const char *path, table *t);

static int open_folder(const char *path, table *t)
{
    char buf[4096];
    struct stat st;
    for (size_t i = 0; i < sizeof folder_names / sizeof *folder_names; i++) {
        int n = snprintf(buf, sizeof buf, "%s/%s", path, folder_names[i]);
        if (n < 0 || (size_t)n >= sizeof buf)
            return err_set("%s: path too long", path);
        if (stat(buf, &st) == 0 && S_ISREG(st.st_mode))
            return open_any(buf, t);
    }
    return err_set("%s: folder holds no checkpoint (looked for "
                   "model.safetensors.index.json, pytorch_model.bin.index.json,"
                   " model.safetensors, pytorch_model.bin)", path);
}

static int is_json_start(const unsigned char *b, size_t n)
{
    size_t i = 0;
    if (n >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF)
        i = 3;
    while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' ||
                     b[i] == '\r'))
        i++;
    return i < n && b[i] == '{';
}

/* A safetensors header: u64 length that fits the file, then (after JSON
 * whitespace) '{'. Only the first 16 bytes are looked at. */
static int looks_like_safetensors(const unsigned char *b, size_t n,
                                  uint64_t size)
{
    if (n < 9)
        return 0;
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--)
        len = (len << 8) | b[i];
    if (len > size || len + 8 > size)
        return 0;
    for (size_t i = 8; i < n; i++) {
        if (b[i] == '{')
            return 1;
        if (b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r')
            return 0;
    }
    return 1;
}

/* The file is none of the formats: names what it is when sniff_file
 * knows, else leaves it to the safetensors reader, whose checks say what
 * is wrong. Returns 0, or -1 with err set. */
static int open_unknown(const char *path, table *t)
{
    char what[256];
    int r = sniff_file(path, what, sizeof what);
    if (r < 0)
        return -1;
    if (r > 0)
        return err_set("%s: not a checkpoint: %s", path, what);
    return safetensors_read(path, t);
}

/* A JSON file that is not a sharded index (config.json, ...): named as
 * such unless its name says it is an index. Returns 0, or -1 with err
 * set. */
static int open_json(const char *path, table *t)
{
    if (index_read(path, t) == 0)
        return 0;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strstr(err_msg(), "index has no weight_map") && !strstr(base, "index"))
        return err_set("%s: not a checkpoint: a JSON file with no "
                       "\"weight_map\" (not a sharded index such as "
                       "model.safetensors.index.json)", path);
    return -1;
}

/* The reader for path's content. Returns 0, or -1 with err set. */
static int open_any(const char *path, table *t)
{
    struct stat st;
    unsigned char head[16] = {0};
    rfile f;

    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return open_folder(path, t);
    if (rfile_open(&f, path))
        return -1;
    size_t n = f.size < sizeof head ? (size_t)f.size : sizeof head;
    uint64_t size = f.size;
    int rc = rfile_pread(&f, head, n, 0);
    rfile_close(&f);
    if (rc)
        return -1;
    if (n >= 4 && memcmp(head, "PK\x03\x04", 4) == 0)
        return torchzip_read(path, t);
    if (n >= sizeof legacy_magic &&
        memcmp(head, legacy_magic, sizeof legacy_magic) == 0)
        return torchzip_read(path, t);
    if (n >= 4 && memcmp(head, "PK", 2) == 0)
        return err_set("%s: a zip file that does not start with a local "
                       "header: not a torch.save archive", path);
    if (looks_like_safetensors(head, n, size))
        return safetensors_read(path, t);
    if (is_json_start(head, n))
        return open_json(path, t);
    if (n >= 2 && head[0] == 0x80 && head[1] <= 5)
        return err_set("%s: not a checkpoint: a raw pickle (protocol %u), "
                       "not a torch.save zip archive: refused, it could "
                       "only be read by running pickle code", path, head[1]);
    return open_unknown(path, t);
}

/* One shard of a set opened alone (its own file, not the index or the
 * folder): records its number, the set's count and whether the set's
 * index is beside it, for the notes of ckpt_note.h. Cannot fail. */
static void note_shard(const char *path, table *t)
{
    char index[512], buf[4096];
    unsigned no, of;
    struct stat st;
    if (t->nfiles != 1 || strcmp(table_file_path(t, 0), path) != 0 ||
        !ckpt_shard_name(path, &no, &of, index, sizeof index))
        return;
    const char *slash = strrchr(path, '/');
    int n = slash ? snprintf(buf, sizeof buf, "%.*s/%s",
                             (int)(slash - path), path, index)
                  : snprintf(buf, sizeof buf, "%s", index);
    t->shard_no = no;
    t->shard_of = of;
    t->shard_index_found = n > 0 && (size_t)n < sizeof buf &&
                           stat(buf, &st) == 0 && S_ISREG(st.st_mode);
}

int formats_open(const char *path, table *t)
{
    if (open_any(path, t))
        return -1;
    note_shard(path, t);
    return table_link_ties(t);
}
