/* ckpt_note.c: notes on the checkpoint as a whole (see ckpt_note.h). */
#include "ckpt_note.h"

#include <stdio.h>
#include <string.h>

#include "human.h"

/* Parses decimal digits s[0..n) into *v (at most 9 digits). */
static int digits(const char *s, size_t n, unsigned *v)
{
    unsigned x = 0;
    if (n == 0 || n > 9)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        x = x * 10 + (unsigned)(s[i] - '0');
    }
    *v = x;
    return 1;
}

int ckpt_shard_name(const char *path, unsigned *no, unsigned *of,
                    char *index, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *ext = strrchr(base, '.');
    const char *mid = strstr(base, "-of-");
    if (!ext || !mid || mid > ext)
        return 0;
    /* the last "-of-" before the extension */
    for (const char *m = mid; (m = strstr(m + 1, "-of-")) && m < ext;)
        mid = m;
    const char *dash = mid;
    while (dash > base && dash[-1] != '-')
        dash--;
    if (dash - base < 2) /* an empty PREFIX */
        return 0;
    unsigned n, m;
    if (!digits(dash, (size_t)(mid - dash), &n) ||
        !digits(mid + 4, (size_t)(ext - mid - 4), &m) || n < 1 || n > m ||
        m < 2)
        return 0;
    *no = n;
    *of = m;
    snprintf(index, cap, "%.*s%s.index.json", (int)(dash - 1 - base), base,
             ext);
    return 1;
}

int ckpt_note_shard(const table *t, int brief, char *buf, size_t cap)
{
    char index[512];
    unsigned no, of;
    buf[0] = '\0';
    if (t->shard_of == 0 || t->nfiles == 0 ||
        !ckpt_shard_name(table_file_path(t, 0), &no, &of, index,
                         sizeof index))
        return 0;
    if (brief)
        snprintf(buf, cap, "shard %u of %u (open the %s for all)",
                 t->shard_no, t->shard_of,
                 t->shard_index_found ? "folder" : "whole set");
    else if (t->shard_index_found)
        snprintf(buf, cap, "shard %u of %u of a sharded checkpoint: open "
                 "the folder or %s to see all of it", t->shard_no,
                 t->shard_of, index);
    else
        snprintf(buf, cap, "shard %u of %u of a sharded checkpoint (%s is "
                 "not beside it): open the whole set's folder or its index "
                 "to see all of it", t->shard_no, t->shard_of, index);
    return 1;
}

/* The top-level entries that count training progress, in the order
 * they are shown. */
static const char *const progress_keys[] = {
    "epoch", "step", "global_step", "iteration",
};

/* Whether the metadata key is under an optimizer entry (the keys
 * torchzip.c reads as optimizer state: optimizer, optim, opt, ...). */
static int is_optim_key(const char *k)
{
    return strncmp(k, "optim", 5) == 0 || strncmp(k, "opt.", 4) == 0;
}

int ckpt_note_training(const table *t, int brief, char *buf, size_t cap)
{
    size_t n = 0, optim = 0, progress = 0;
    uint64_t optim_bytes = 0;
    int optim_meta = 0;
    buf[0] = '\0';
    if (strcmp(t->format, "pytorch") != 0)
        return 0;
    for (size_t i = 0; i < t->count; i++)
        if (table_at(t, i)->kind == TK_OPTIMIZER) {
            optim++;
            optim_bytes += table_at(t, i)->nbytes;
        }
    for (size_t i = 0; i < t->nmeta && !optim_meta; i++)
        optim_meta = is_optim_key(table_meta_key(t, i));
    for (size_t k = 0; k < sizeof progress_keys / sizeof *progress_keys;
         k++)
        for (size_t i = 0; i < t->nmeta; i++) {
            if (strcmp(table_meta_key(t, i), progress_keys[k]) != 0)
                continue;
            if (n < cap)
                n += (size_t)snprintf(buf + n, cap - n, "%s%s %s",
                                      progress ? ", " : "", progress_keys[k],
                                      table_meta_value(t, i));
            progress++;
            break;
        }
    if (!progress && !optim && !optim_meta) {
        buf[0] = '\0';
        return 0;
    }
    if (n >= cap)
        return 1;
    if (brief) {
        if (optim || optim_meta)
            snprintf(buf + n, cap - n, "%soptimizer state",
                     progress ? ", " : "");
    } else if (optim) {
        char cnt[32], by[32];
        snprintf(buf + n, cap - n, "%soptimizer state present (%s %s, %s, "
                 "not parameters)", progress ? "; " : "",
                 human_count(optim, cnt, sizeof cnt),
                 human_plural(optim, "tensor", "tensors"),
                 human_bytes(optim_bytes, by, sizeof by));
    } else {
        snprintf(buf + n, cap - n, "%s%s", progress ? "; " : "",
                 optim_meta ? "optimizer state present (no tensors)"
                            : "no optimizer state");
    }
    return 1;
}
