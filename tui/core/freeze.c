/* freeze.c: the frozen set with undo and redo (see freeze.h).
 *
 * Every change goes the same way: the operation marks the tensors that
 * must flip in the scratch bitset `diff`; freeze_commit() encodes diff
 * as an undo step (the only allocation, done before anything changes),
 * then freeze_apply() flips them, fills the report and updates the
 * tree's totals. Undo and redo decode a step into diff and apply it.
 */
#include "freeze.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

static size_t nwords(const bitset *b)
{
    return b->n / 64 + 1;
}

static size_t diff_count(const freeze_set *fs)
{
    return bitset_count(&fs->diff);
}

/* Sets bits [start, start + len) of b. */
static void bits_set_range(bitset *b, size_t start, size_t len)
{
    size_t end = start + len;
    while (start < end && (start & 63)) {
        bitset_set(b, start++);
    }
    while (start + 64 <= end) {
        b->w[start >> 6] = UINT64_MAX;
        start += 64;
    }
    while (start < end)
        bitset_set(b, start++);
}

static void step_free(freeze_step *s)
{
    free(s->data);
    s->data = NULL;
    s->n = 0;
}

static size_t step_bytes(const freeze_step *s)
{
    return s->n * sizeof *s->data;
}

/* Encodes diff into *s: runs when fewer entries than bitmap words.
 * Returns 0, or -1 with err set (s then empty). */
static int step_encode(const freeze_set *fs, freeze_step *s)
{
    const bitset *d = &fs->diff;
    size_t nw = nwords(d), runs = 0;
    uint64_t carry = 0;
    for (size_t k = 0; k < nw; k++) {
        uint64_t w = d->w[k];
        runs += (size_t)__builtin_popcountll(w & ~((w << 1) | carry));
        carry = w >> 63;
    }
    s->bitmap = runs >= nw;
    s->n = s->bitmap ? nw : runs;
    s->data = malloc((s->n ? s->n : 1) * sizeof *s->data);
    if (!s->data) {
        s->n = 0;
        return err_set("frozen set: out of memory for undo");
    }
    if (s->bitmap) {
        memcpy(s->data, d->w, nw * sizeof *d->w);
        return 0;
    }
    size_t r = 0, start = 0, len = 0;
    for (size_t k = 0; k < nw; k++) {
        for (uint64_t w = d->w[k]; w; w &= w - 1) {
            size_t i = k * 64 + (size_t)__builtin_ctzll(w);
            if (len && i == start + len) {
                len++;
                continue;
            }
            if (len)
                s->data[r++] = (uint64_t)start << 32 | len;
            start = i;
            len = 1;
        }
    }
    if (len)
        s->data[r++] = (uint64_t)start << 32 | len;
    return 0;
}

/* Puts step s's flips into diff (which is all zero). */
static void step_decode(freeze_set *fs, const freeze_step *s)
{
    if (s->bitmap) {
        memcpy(fs->diff.w, s->data, s->n * sizeof *s->data);
        return;
    }
    for (size_t r = 0; r < s->n; r++)
        bits_set_range(&fs->diff, (size_t)(s->data[r] >> 32),
                       (size_t)(s->data[r] & 0xffffffffu));
}

/* Flips the tensors in diff, fills *rep, updates the tree's totals (per
 * flipped leaf when that is cheaper than a recount of the tree) and
 * zeroes diff. Cannot fail. */
static void freeze_apply(freeze_set *fs, freeze_report *rep)
{
    tree *tr = fs->tr;
    const table *t = tr->t;
    size_t nw = nwords(&fs->diff);
    size_t changed = diff_count(fs);
    int per_leaf = changed * ((size_t)tr->max_depth + 1) < tr->count;
    freeze_report r = {0, 0, 0, 0};
    for (size_t k = 0; k < nw; k++) {
        for (uint64_t w = fs->diff.w[k]; w; w &= w - 1) {
            size_t i = k * 64 + (size_t)__builtin_ctzll(w);
            const table_tensor *x = table_at(t, i);
            uint64_t numel = (x->flags & TF_ALIAS) ? 0 : x->numel;
            int to_frozen = !bitset_get(&fs->frozen, i);
            r.tensors_changed++;
            r.numel_changed += numel;
            if (to_frozen) {
                r.tensors_frozen++;
                r.numel_frozen += numel;
            }
            if (per_leaf)
                tree_add_frozen(tr, tree_leaf(tr, i), to_frozen ? 1 : -1,
                                to_frozen ? (int64_t)numel : -(int64_t)numel);
        }
        fs->frozen.w[k] ^= fs->diff.w[k];
        fs->diff.w[k] = 0;
    }
    if (!per_leaf && changed)
        tree_recount_frozen(tr, tree_root(tr), &fs->frozen);
    if (changed)
        fs->gen++;
    if (rep)
        *rep = r;
}

/* A tie group is one parameter: when one member flips, all do (they
 * share one state, so each is in diff or about to be). Cannot fail. */
static void diff_close_ties(freeze_set *fs)
{
    const table *t = fs->tr->t;
    if (t->aliases == 0)
        return;
    table_close_ties(t, &fs->diff);
    for (size_t k = 0; k < nwords(&fs->diff); k++)
        fs->diff.w[k] &= fs->params.w[k];
}

/* Drops the oldest step. */
static void freeze_drop_oldest(freeze_set *fs)
{
    fs->log_bytes -= step_bytes(&fs->steps[0]);
    step_free(&fs->steps[0]);
    memmove(fs->steps, fs->steps + 1, (fs->nsteps - 1) * sizeof *fs->steps);
    fs->nsteps--;
    fs->pos--;
    if (fs->saved_pos != SIZE_MAX)
        fs->saved_pos = fs->saved_pos ? fs->saved_pos - 1 : SIZE_MAX;
}

/* Records diff as a step and applies it (see the file comment).
 * Returns 0, or -1 with err set and nothing changed (diff zeroed). */
static int freeze_commit(freeze_set *fs, freeze_report *rep)
{
    freeze_step s = {NULL, 0, 0};
    diff_close_ties(fs);
    if (diff_count(fs) == 0) {
        if (rep)
            *rep = (freeze_report){0, 0, 0, 0};
        return 0;
    }
    if (fs->pos + 1 > fs->steps_cap) {
        size_t ncap = fs->steps_cap ? fs->steps_cap * 2 : 16;
        freeze_step *ns = realloc(fs->steps, ncap * sizeof *ns);
        if (!ns) {
            err_set("frozen set: out of memory for undo");
            goto fail;
        }
        fs->steps = ns;
        fs->steps_cap = ncap;
    }
    if (step_encode(fs, &s))
        goto fail;
    while (fs->nsteps > fs->pos) {
        fs->nsteps--;
        fs->log_bytes -= step_bytes(&fs->steps[fs->nsteps]);
        step_free(&fs->steps[fs->nsteps]);
    }
    if (fs->saved_pos != SIZE_MAX && fs->saved_pos > fs->pos)
        fs->saved_pos = SIZE_MAX;
    fs->steps[fs->nsteps++] = s;
    fs->pos = fs->nsteps;
    fs->log_bytes += step_bytes(&s);
    while (fs->nsteps > 1 && (fs->nsteps > FREEZE_MAX_STEPS ||
                              fs->log_bytes > FREEZE_MAX_LOG_BYTES))
        freeze_drop_oldest(fs);
    freeze_apply(fs, rep);
    return 0;
fail:
    bitset_zero(&fs->diff);
    return -1;
}

int freeze_init(freeze_set *fs, tree *tr)
{
    size_t n = tr->ntensors;
    memset(fs, 0, sizeof *fs);
    fs->tr = tr;
    if (bitset_init(&fs->frozen, n) || bitset_init(&fs->params, n) ||
        bitset_init(&fs->diff, n)) {
        freeze_free(fs);
        if (tree_root(tr))
            tree_recount_frozen(tr, tree_root(tr), &fs->frozen);
        return err_set("frozen set: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const tree_node *x = tree_leaf(tr, i);
        if (x && table_at(tr->t, i)->kind == TK_PARAMETER)
            bitset_set(&fs->params, i);
    }
    if (tree_root(tr))
        tree_recount_frozen(tr, tree_root(tr), &fs->frozen);
    return 0;
}

void freeze_free(freeze_set *fs)
{
    if (!fs)
        return;
    for (size_t k = 0; k < fs->nsteps; k++)
        step_free(&fs->steps[k]);
    free(fs->steps);
    bitset_free(&fs->frozen);
    bitset_free(&fs->params);
    bitset_free(&fs->diff);
    tree *tr = fs->tr;
    memset(fs, 0, sizeof *fs);
    fs->tr = tr;
}

int freeze_assign(freeze_set *fs, const bitset *want, freeze_report *rep)
{
    if (want->n != fs->frozen.n)
        return err_set("frozen set: set of %zu tensors, table has %zu",
                       want->n, fs->frozen.n);
    /* A tie group is frozen when `want` freezes any of its names. */
    bitset_copy(&fs->diff, want);
    table_close_ties(fs->tr->t, &fs->diff);
    for (size_t k = 0; k < nwords(&fs->diff); k++)
        fs->diff.w[k] = fs->params.w[k] & (fs->frozen.w[k] ^ fs->diff.w[k]);
    return freeze_commit(fs, rep);
}

int freeze_undo(freeze_set *fs, freeze_report *rep)
{
    if (fs->pos == 0) {
        if (rep)
            *rep = (freeze_report){0, 0, 0, 0};
        return 0;
    }
    fs->pos--;
    step_decode(fs, &fs->steps[fs->pos]);
    freeze_apply(fs, rep);
    return 1;
}

int freeze_redo(freeze_set *fs, freeze_report *rep)
{
    if (fs->pos == fs->nsteps) {
        if (rep)
            *rep = (freeze_report){0, 0, 0, 0};
        return 0;
    }
    step_decode(fs, &fs->steps[fs->pos]);
    fs->pos++;
    freeze_apply(fs, rep);
    return 1;
}

void freeze_clear_history(freeze_set *fs)
{
    int dirty = freeze_changed_since_save(fs);
    for (size_t k = 0; k < fs->nsteps; k++)
        step_free(&fs->steps[k]);
    fs->nsteps = 0;
    fs->pos = 0;
    fs->log_bytes = 0;
    fs->saved_pos = dirty ? SIZE_MAX : 0;
}

void freeze_counts(const freeze_set *fs, size_t *frozen_tensors,
                   uint64_t *frozen_numel, uint64_t *trainable_numel)
{
    const tree_node *root = tree_root(fs->tr);
    if (frozen_tensors)
        *frozen_tensors = root ? (size_t)root->frozen_tensors : 0;
    if (frozen_numel)
        *frozen_numel = root ? root->frozen_numel : 0;
    if (trainable_numel)
        *trainable_numel = root ? root->param_numel - root->frozen_numel : 0;
}

void freeze_mark_saved(freeze_set *fs)
{
    fs->saved_pos = fs->pos;
}

int freeze_changed_since_save(const freeze_set *fs)
{
    return fs->saved_pos != fs->pos;
}
