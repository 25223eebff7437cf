/* layer_decay.c: layer ids from the names and every parameter's lr scale
 * (stages.h: the rules, after timm's param_groups_layer_decay). */
#include "stages.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "pattern.h"

#define MAX_NUMS 8 /* numbers of a block key compared */

typedef struct {
    size_t tensor;       /* first tensor of the block (its key's source) */
    size_t klen;         /* the key: name[0..klen) through the digit segment */
    size_t clen;         /* the container: name[0..clen), digits dropped */
    unsigned long long nums[MAX_NUMS];
    unsigned nnums;
} block;

static const char *const stem_names[] = {
    "conv1", "bn1", "maxpool", "stem", "patch_embed", "pos_embed",
    "cls_token", "reg_token", "embeddings", "embed_tokens",
    "word_embeddings", "wte", "wpe", "tok_embeddings", NULL};
static const char *const norm_names[] = {
    "norm", "ln_f", "norm_f", "final_norm", "final_layer_norm", "ln_post",
    NULL};

static int in_list(const char *s, size_t n, const char *const *l)
{
    for (; *l; l++)
        if (strlen(*l) == n && memcmp(*l, s, n) == 0)
            return 1;
    return 0;
}

static int all_digits(const char *s, size_t n)
{
    if (!n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* The end of the first all-digit segment of name (n bytes), or 0. */
static size_t digit_segment_end(const char *name, size_t n)
{
    size_t a = 0;
    while (a < n) {
        size_t b = a;
        while (b < n && name[b] != '.')
            b++;
        if (all_digits(name + a, b - a))
            return b;
        a = b + 1;
    }
    return 0;
}

/* The numbers in name[0..k): every run of digits, in order. */
static void key_numbers(const char *name, size_t k, block *b)
{
    b->nnums = 0;
    for (size_t i = 0; i < k && b->nnums < MAX_NUMS;) {
        if (!isdigit((unsigned char)name[i])) {
            i++;
            continue;
        }
        unsigned long long v = 0;
        while (i < k && isdigit((unsigned char)name[i])) {
            if (v < 1000000000ull)
                v = v * 10 + (unsigned)(name[i] - '0');
            i++;
        }
        b->nums[b->nnums++] = v;
    }
}

static const table *sort_t;

static int block_cmp(const void *pa, const void *pb)
{
    const block *a = pa, *b = pb;
    const char *na = table_name(sort_t, a->tensor);
    const char *nb = table_name(sort_t, b->tensor);
    size_t m = a->clen < b->clen ? a->clen : b->clen;
    int c = memcmp(na, nb, m);
    if (c || a->clen != b->clen)
        return c ? c : a->clen < b->clen ? -1 : 1;
    for (unsigned i = 0; i < a->nnums && i < b->nnums; i++)
        if (a->nums[i] != b->nums[i])
            return a->nums[i] < b->nums[i] ? -1 : 1;
    return a->nnums < b->nnums ? -1 : a->nnums > b->nnums;
}

/* Assigns out->layer for every parameter. Returns 0 or -1 (out of
 * memory). */
static int find_layers(const table *t, lr_scales *out)
{
    block *bl = NULL;
    size_t nb = 0, cap = 0;
    int *of = calloc(t->count ? t->count : 1, sizeof *of); /* block index */
    if (!of)
        return err_set("out of memory");
    enum { NONE, STEM, BLOCK, NORM, HEAD };
    unsigned char *kind = calloc(t->count ? t->count : 1, 1);
    if (!kind) {
        free(of);
        return err_set("out of memory");
    }
    int has_stem = 0;
    for (size_t i = 0; i < t->count; i++) {
        const table_tensor *x = table_at(t, i);
        if (x->kind != TK_PARAMETER)
            continue;
        const char *name = table_name(t, i);
        size_t n = x->name_len;
        size_t k = digit_segment_end(name, n);
        if (k) {
            size_t j = 0;
            for (; j < nb; j++) {
                const char *f = table_name(t, bl[j].tensor);
                if (bl[j].klen == k && memcmp(f, name, k) == 0)
                    break;
            }
            if (j == nb) {
                if (nb == cap) {
                    size_t nc = cap ? cap * 2 : 64;
                    block *q = realloc(bl, nc * sizeof *bl);
                    if (!q)
                        goto oom;
                    bl = q;
                    cap = nc;
                }
                block *b = &bl[nb++];
                memset(b, 0, sizeof *b);
                b->tensor = i;
                b->klen = k;
                /* the container: before the digit segment's dot, with the
                 * trailing digits of its last segment dropped */
                size_t c = k;
                while (c > 0 && name[c - 1] != '.')
                    c--;
                c = c ? c - 1 : 0;
                while (c > 0 && isdigit((unsigned char)name[c - 1]))
                    c--;
                b->clen = c;
                key_numbers(name, k, b);
            }
            kind[i] = BLOCK;
            of[i] = (int)j;
            continue;
        }
        /* no digit segment: stem, final norm or head */
        size_t me = n; /* the module path: the name less its last segment */
        while (me > 0 && name[me - 1] != '.')
            me--;
        size_t ms = me ? me - 1 : 0, mb = ms;
        while (mb > 0 && name[mb - 1] != '.')
            mb--;
        int stem = 0; /* a module on the path is a stem or an embedding */
        for (size_t a = 0; a < ms && !stem;) {
            size_t b = a;
            while (b < ms && name[b] != '.')
                b++;
            stem = in_list(name + a, b - a, stem_names) ||
                   (b - a >= 5 && memmem(name + a, b - a, "embed", 5));
            a = b + 1;
        }
        if (!me) /* a top-level tensor: cls_token, pos_embed */
            stem = in_list(name, n, stem_names) ||
                   (n >= 5 && memmem(name, n, "embed", 5));
        if (stem) {
            kind[i] = STEM;
            has_stem = 1;
        } else if (me && in_list(name + mb, ms - mb, norm_names)) {
            kind[i] = NORM;
        } else {
            kind[i] = HEAD;
        }
    }
    /* the blocks in order, then the ids */
    int *rank = calloc(nb ? nb : 1, sizeof *rank);
    if (!rank)
        goto oom;
    block *sorted = malloc((nb ? nb : 1) * sizeof *sorted);
    if (!sorted) {
        free(rank);
        goto oom;
    }
    memcpy(sorted, bl, nb * sizeof *bl);
    sort_t = t;
    qsort(sorted, nb, sizeof *sorted, block_cmp);
    for (size_t r = 0; r < nb; r++)
        for (size_t j = 0; j < nb; j++)
            if (bl[j].tensor == sorted[r].tensor) {
                rank[j] = (int)r;
                break;
            }
    free(sorted);
    int base = has_stem ? 1 : 0;
    int head = base + (int)nb;
    int any_head = 0;
    for (size_t i = 0; i < t->count; i++)
        any_head |= kind[i] == HEAD || (kind[i] == NORM && nb == 0);
    for (size_t i = 0; i < t->count; i++) {
        switch (kind[i]) {
        case STEM: out->layer[i] = 0; break;
        case BLOCK: out->layer[i] = base + rank[of[i]]; break;
        case NORM: out->layer[i] = nb ? base + (int)nb - 1 : head; break;
        case HEAD: out->layer[i] = head; break;
        default: out->layer[i] = -1; break;
        }
    }
    out->nlayers = head + (any_head ? 1 : 0);
    free(rank);
    free(bl);
    free(of);
    free(kind);
    return 0;
oom:
    free(bl);
    free(of);
    free(kind);
    return err_set("out of memory");
}

void lr_scales_free(lr_scales *s)
{
    if (!s)
        return;
    free(s->scale);
    free(s->layer);
    free(s->no_decay);
    memset(s, 0, sizeof *s);
    s->factor = NAN;
}

/* The tensors the pattern of item `l` (of `key`: "lr_scale" or
 * "no_decay") matches, into m (cleared first). Returns 0, or -1 with err
 * set ("PLAN:LINE:COL: KEY pattern 'x' matches no parameter of the
 * checkpoint", or the pattern's own error). */
static int match(const table *t, const plan_lr_rule *l, const char *key,
                 const char *plan_path, bitset *m)
{
    pattern *p = pattern_compile(l->pattern, NULL);
    if (!p)
        return err_prefix("%s:%u:%u: %s", plan_path, l->line, l->col, key);
    bitset_zero(m);
    pattern_match_table(p, t, m);
    pattern_free(p);
    table_close_ties(t, m);
    for (size_t i = 0; i < t->count; i++)
        if (bitset_get(m, i) && table_at(t, i)->kind == TK_PARAMETER)
            return 0;
    return err_set("%s:%u:%u: %s pattern '%.200s' matches no parameter of "
                   "the checkpoint", plan_path, l->line, l->col, key,
                   l->pattern);
}

int lr_scales_resolve(const table *t, const plan *p, const char *plan_path,
                      lr_scales *out)
{
    memset(out, 0, sizeof *out);
    out->factor = NAN;
    size_t n = t->count ? t->count : 1;
    bitset m = {NULL, 0};
    out->scale = malloc(n * sizeof *out->scale);
    out->layer = malloc(n * sizeof *out->layer);
    out->no_decay = calloc(n, 1);
    if (!out->scale || !out->layer || !out->no_decay ||
        bitset_init(&m, t->count)) {
        err_set("out of memory");
        goto fail;
    }
    for (size_t i = 0; i < t->count; i++) {
        int param = table_at(t, i)->kind == TK_PARAMETER;
        out->scale[i] = param ? 1.0 : 0.0;
        out->layer[i] = -1;
    }
    if (!isnan(p->layer_decay)) {
        out->factor = p->layer_decay;
        if (find_layers(t, out))
            goto fail;
        for (size_t i = 0; i < t->count; i++)
            if (out->layer[i] >= 0)
                out->scale[i] = pow(p->layer_decay,
                                    (double)(out->nlayers - 1 - out->layer[i]));
    }
    /* lr_scale: the last item that matches a parameter gives its factor */
    double *last = malloc(n * sizeof *last);
    if (!last) {
        err_set("out of memory");
        goto fail;
    }
    for (size_t i = 0; i < t->count; i++)
        last[i] = 1.0;
    for (size_t r = 0; r < p->nlr_scale; r++) {
        if (match(t, &p->lr_scale[r], "lr_scale", plan_path, &m)) {
            free(last);
            goto fail;
        }
        for (size_t i = 0; i < t->count; i++)
            if (bitset_get(&m, i) && table_at(t, i)->kind == TK_PARAMETER)
                last[i] = p->lr_scale[r].scale;
    }
    for (size_t i = 0; i < t->count; i++)
        out->scale[i] *= last[i];
    free(last);
    for (size_t r = 0; r < p->nno_decay; r++) {
        if (match(t, &p->no_decay[r], "no_decay", plan_path, &m))
            goto fail;
        for (size_t i = 0; i < t->count; i++)
            if (bitset_get(&m, i) && table_at(t, i)->kind == TK_PARAMETER)
                out->no_decay[i] = 1;
    }
    bitset_free(&m);
    return 0;
fail:
    bitset_free(&m);
    lr_scales_free(out);
    return -1;
}

size_t lr_layer_first(const table *t, const lr_scales *s, int id)
{
    for (size_t i = 0; i < t->count; i++)
        if (s->layer && s->layer[i] == id)
            return i;
    return t->count;
}

/* How much of a layer's first name names the layer: through its first
 * all-digit segment ("layer1.0"), else its module path ("fc"), else all
 * of it ("cls_token"). */
size_t lr_layer_label_len(const char *name, size_t n)
{
    size_t a = 0, last_dot = 0;
    while (a < n) {
        size_t b = a;
        int digits = b < n && name[b] != '.';
        while (b < n && name[b] != '.') {
            if (name[b] < '0' || name[b] > '9')
                digits = 0;
            b++;
        }
        if (digits)
            return b;
        if (b < n)
            last_dot = b;
        a = b + 1;
    }
    return last_dot ? last_dot : n;
}
