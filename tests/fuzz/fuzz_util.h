/* fuzz_util.h: helpers shared by the libFuzzer targets (tests/fuzz/).
 *
 * Header-only; every function is static inline. Nothing here is part of the
 * program: the targets are built by tests/fuzz/run.sh.
 */
#ifndef TUI_TESTS_FUZZ_UTIL_H
#define TUI_TESTS_FUZZ_UTIL_H

#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../tui/core/table.h"

/* Writes all of buf to fd at offset 0 and truncates the file to len.
 * Aborts on failure: an I/O error here is the harness's, not the code's. */
static inline void fz_put(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    size_t done = 0;
    if (ftruncate(fd, 0) != 0)
        abort();
    while (done < len) {
        ssize_t n = pwrite(fd, p + done, len - done, (off_t)done);
        if (n <= 0)
            abort();
        done += (size_t)n;
    }
}

/* A memfd holding buf[0..len); its path (/proc/self/fd/N) goes to path.
 * The same memfd is reused across runs (created once per process). */
static inline int fz_memfd(const void *buf, size_t len, char *path, size_t cap)
{
    static int fd = -1;
    if (fd < 0) {
        fd = memfd_create("fuzz-input", 0);
        if (fd < 0)
            abort();
    }
    fz_put(fd, buf, len);
    snprintf(path, cap, "/proc/self/fd/%d", fd);
    return fd;
}

static char fz_dir[256];

static inline int fz_rm_one(const char *path, const struct stat *st, int type,
                            struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

/* Removes the private folder (at exit; a crash leaves it behind). */
static inline void fz_rm_tmpdir(void)
{
    if (fz_dir[0])
        nftw(fz_dir, fz_rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* A private folder for this process under $TUI_FUZZ_TMP (run.sh sets it
 * and removes it after the run), else /dev/shm or /tmp: created once and
 * removed at a normal exit (libFuzzer's time-limit exit skips atexit),
 * its path returned (static storage). Aborts on failure. */
static inline const char *fz_tmpdir(void)
{
    if (!fz_dir[0]) {
        const char *base = getenv("TUI_FUZZ_TMP");
        if (!base || !*base)
            base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(fz_dir, sizeof fz_dir, "%s/tui-fuzz.XXXXXX", base);
        if (!mkdtemp(fz_dir))
            abort();
        atexit(fz_rm_tmpdir);
    }
    return fz_dir;
}

/* Writes buf to <tmpdir>/<name> (replacing it). Aborts on failure. */
static inline void fz_write_file(const char *path, const void *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        abort();
    fz_put(fd, buf, len);
    close(fd);
}

/* Realistic tensor names (BERT, Llama, ResNet, ViT shapes) for matching. */
static const char *const fz_names[] = {
    "bert.embeddings.word_embeddings.weight",
    "bert.embeddings.LayerNorm.bias",
    "bert.encoder.layer.0.attention.self.query.weight",
    "bert.encoder.layer.3.attention.self.query.bias",
    "bert.encoder.layer.10.output.dense.weight",
    "bert.encoder.layer.11.output.LayerNorm.weight",
    "bert.pooler.dense.weight",
    "cls.predictions.bias",
    "model.embed_tokens.weight",
    "model.layers.0.self_attn.q_proj.weight",
    "model.layers.31.mlp.gate_proj.weight",
    "model.layers.7.input_layernorm.weight",
    "model.norm.weight",
    "lm_head.weight",
    "conv1.weight",
    "bn1.running_mean",
    "bn1.num_batches_tracked",
    "layer1.0.conv1.weight",
    "layer1.01.x",
    "layer4.1.bn2.bias",
    "fc.weight",
    "fc.bias",
    "encoder.layers.encoder_layer_11.mlp.0.weight",
    "heads.head.weight",
    "a",
    "a.b",
    "x",
    "_",
};

/* Fills t with fz_names (F32, shape [2, 3]). Aborts on failure. */
static inline void fz_fill_names(table *t)
{
    const uint64_t shape[2] = {2, 3};
    for (size_t i = 0; i < sizeof fz_names / sizeof *fz_names; i++)
        if (table_add(t, fz_names[i], strlen(fz_names[i]), DT_F32, 2,
                      shape) < 0)
            abort();
}

#endif
