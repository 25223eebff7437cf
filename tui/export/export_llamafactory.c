/* export_llamafactory.c: `--export llamafactory`, LLaMA-Factory's freeze
 * tuning settings (`finetuning_type: freeze`).
 *
 * Consumer semantics (hiyouga/LLaMA-Factory,
 * src/llamafactory/model/adapter.py, _setup_freeze_tuning; the arguments
 * in src/llamafactory/hparams/finetuning_args.py, comma lists split and
 * stripped):
 * - num_layers comes from the model config (num_hidden_layers, num_layers
 *   or n_layer). Trainable layer ids: freeze_trainable_layers = +n the
 *   last n, -n the first n, 0 none; with use_llama_pro, n must divide
 *   num_layers and the ids are range(stride - 1, num_layers + stride - 1,
 *   stride), stride = num_layers // n.
 * - hidden_modules: for each named_parameters() name holding ".0.",
 *   name.split(".0.")[-1].split(".")[0], else for one holding ".1." the
 *   same with ".1."; freeze_trainable_modules ("all" or names from that
 *   set) gives the substrings ".{idx}.{module}" (".{idx}." for all).
 * - non_hidden_modules: for each name with no re.search(r"\.\d+\.")
 *   match, name.split(".")[-2] (a name without a dot makes that raise);
 *   freeze_extra_modules names from that set are substrings too.
 * - A named parameter trains when ANY of those substrings occurs in its
 *   name (a substring test: `norm` also trains every input_layernorm),
 *   unless get_forbidden_modules names it (only for the multimodal
 *   COMPOSITE_MODELS, which also add their projector keys; not modelled).
 *
 * The export models num_layers as the layer stack's length: the module
 * with numeric children (`model.layers.N`, `bert.encoder.layer.N`)
 * holding the most parameters, its largest index + 1; the output says
 * so. It re-applies the substring rules above to the named_parameters()
 * names (no ties, no buffers) for every layer choice (last n, first n,
 * llama-pro strides, none) with, for each, every usable module and extra
 * module (one that catches no frozen name), keeps the fewest that cover
 * the plan's trainable set, and writes the setting with the fewest
 * names; when no choice reproduces the set exactly it refuses, naming
 * the first trainable tensors the closest choice leaves frozen. Nothing
 * frozen is `finetuning_type: full`; everything frozen is refused (that
 * run would have nothing to train).
 */
#include "export.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/err.h"

#define LF_MAX_NAMES 64u      /* module names of each kind considered */
#define LF_MAX_MODULE 200u    /* bytes in one module name considered */
#define LF_MAX_LAYERS 100000u /* longest layer stack considered */

typedef struct {
    uint32_t tensor;        /* table index */
    uint32_t occ, nocc;     /* its (layer index, modules) entries in occ[] */
    uint64_t ext;           /* extra modules that occur in the name */
    uint8_t frozen;
} lf_name;

typedef struct {
    uint32_t idx;           /* an interior numeric segment's value */
    uint64_t mods;          /* hidden modules the next segment starts with */
} lf_occ;

typedef struct {
    const char *p;
    size_t len;
} lf_str;

typedef enum { LF_NONE, LF_LAST, LF_FIRST, LF_PRO } lf_kind;

typedef struct {
    lf_kind kind;
    uint32_t n;
    int all;                /* freeze_trainable_modules: all */
    uint64_t mods, ext;     /* chosen hidden / extra modules */
    size_t uncovered;       /* trainable names left frozen */
    size_t cost;            /* names written */
} lf_choice;

typedef struct {
    const session *s;
    lf_name *v;
    size_t n, ntrain;
    lf_occ *occ;
    size_t nocc, occ_cap;
    lf_str mod[LF_MAX_NAMES], ext[LF_MAX_NAMES];
    size_t nmod, next;
    uint32_t layers;        /* 0: no layer stack */
    const tree_node *stack;
    uint8_t *ids, *hit;     /* layers entries; per name: matched by "all" */
    uint64_t *hitmods;      /* per name: matched modules */
    uint32_t *cnt;          /* per name: cover count (minimising) */
    lf_str *seg;            /* scratch: one name's segments */
} lf_ctx;

/* The dot-separated segments of name into seg (at most cap); their
 * number. */
static size_t split_segs(const char *name, size_t len, lf_str *seg,
                         size_t cap)
{
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= len && n < cap; i++)
        if (i == len || name[i] == '.') {
            seg[n++] = (lf_str){name + start, i - start};
            start = i + 1;
        }
    return n;
}

/* Value of a segment written as "{:d}" writes an int, or -1. */
static long canon_int(lf_str g)
{
    if (g.len == 0 || g.len > 9 || (g.len > 1 && g.p[0] == '0'))
        return -1;
    long v = 0;
    for (size_t i = 0; i < g.len; i++) {
        if (g.p[i] < '0' || g.p[i] > '9')
            return -1;
        v = v * 10 + (g.p[i] - '0');
    }
    return v;
}

/* A name LLaMA-Factory's comma lists carry unchanged (split on ',' and
 * str.strip()ped): no comma, and printable ASCII at both ends. */
static int listable(lf_str m)
{
    if (m.len == 0 || m.len > LF_MAX_MODULE || memchr(m.p, ',', m.len))
        return 0;
    unsigned char a = (unsigned char)m.p[0];
    unsigned char z = (unsigned char)m.p[m.len - 1];
    return a > 0x20 && a < 0x7f && z > 0x20 && z < 0x7f;
}

static void add_name(lf_str *set, size_t *n, lf_str m)
{
    if (!listable(m))
        return;
    for (size_t i = 0; i < *n; i++)
        if (set[i].len == m.len && memcmp(set[i].p, m.p, m.len) == 0)
            return;
    if (*n < LF_MAX_NAMES)
        set[(*n)++] = m;
}

/* What follows the last piece of Python's name.split(sep) (3 bytes). */
static const char *after_split(const char *name, const char *sep)
{
    const char *rest = name, *p;
    while ((p = strstr(rest, sep)) != NULL)
        rest = p + 3;
    return rest;
}

/* hidden_modules and non_hidden_modules, as LLaMA-Factory finds them.
 * Fails for a name whose split(".")[-2] raises. */
static int find_module_names(lf_ctx *c)
{
    for (size_t k = 0; k < c->n; k++) {
        const char *name = table_name(&c->s->t, c->v[k].tensor);
        const char *h = strstr(name, ".0.") ? after_split(name, ".0.")
                        : strstr(name, ".1.") ? after_split(name, ".1.")
                                              : NULL;
        if (h)
            add_name(c->mod, &c->nmod, (lf_str){h, strcspn(h, ".")});
        /* re.search(r"\.\d+\.") is an interior all-digit segment */
        int numeric = 0;
        for (const char *d = strchr(name, '.'); d && !numeric;
             d = strchr(d + 1, '.')) {
            size_t l = strspn(d + 1, "0123456789");
            numeric = l > 0 && d[1 + l] == '.';
        }
        if (numeric)
            continue;
        const char *last = strrchr(name, '.');
        if (!last)
            return err_set("%s: LLaMA-Factory's freeze tuning cannot run on "
                           "this model: the parameter '%s' has no module "
                           "(its name.split('.')[-2] raises)",
                           export_source(c->s), name);
        const char *prev = last;
        while (prev > name && prev[-1] != '.')
            prev--;
        add_name(c->ext, &c->next, (lf_str){prev, (size_t)(last - prev)});
    }
    return 0;
}

/* The layer stack: the node with numeric children holding the most
 * parameters; layers = its largest child index + 1. */
static void find_stack(lf_ctx *c)
{
    const tree *tr = &c->s->tr;
    for (size_t k = 1; k < tr->count; k++) {
        const tree_node *nd = &tr->nodes[k];
        long top = -1;
        for (const tree_node *ch = nd->child; ch; ch = ch->next) {
            long v = canon_int((lf_str){ch->seg, ch->seg_len});
            if (v > top && ch->child)
                top = v;
        }
        if (top < 0 || (uint64_t)top >= LF_MAX_LAYERS)
            continue;
        if (!c->stack || nd->params > c->stack->params) {
            c->stack = nd;
            c->layers = (uint32_t)top + 1;
        }
    }
}

static int push_occ(lf_ctx *c, lf_occ o)
{
    if (c->nocc == c->occ_cap) {
        size_t cap = c->occ_cap ? 2 * c->occ_cap : 1024;
        lf_occ *p = realloc(c->occ, cap * sizeof *p);
        if (!p)
            return err_set("out of memory");
        c->occ = p;
        c->occ_cap = cap;
    }
    c->occ[c->nocc++] = o;
    return 0;
}

/* Per name: its interior numeric segments (below the layer count) with
 * the modules that may follow, and the extra modules inside it. */
static int scan_names(lf_ctx *c)
{
    lf_str *seg = c->seg;
    for (size_t k = 0; k < c->n; k++) {
        lf_name *x = &c->v[k];
        const char *name = table_name(&c->s->t, x->tensor);
        size_t len = strlen(name);
        size_t ns = split_segs(name, len, seg, TABLE_MAX_NAME + 2);
        x->occ = (uint32_t)c->nocc;
        for (size_t j = 1; j + 1 < ns; j++) {
            long v = canon_int(seg[j]);
            if (v < 0 || (uint64_t)v >= c->layers)
                continue;
            lf_occ o = {(uint32_t)v, 0};
            for (size_t m = 0; m < c->nmod; m++)
                if (seg[j + 1].len >= c->mod[m].len &&
                    memcmp(seg[j + 1].p, c->mod[m].p, c->mod[m].len) == 0)
                    o.mods |= (uint64_t)1 << m;
            if (push_occ(c, o))
                return -1;
        }
        x->nocc = (uint32_t)c->nocc - x->occ;
        for (size_t e = 0; e < c->next; e++)
            if (memmem(name, len, c->ext[e].p, c->ext[e].len))
                x->ext |= (uint64_t)1 << e;
    }
    return 0;
}

/* The layer ids of a choice into c->ids. */
static void set_ids(lf_ctx *c, lf_kind kind, uint32_t n)
{
    uint32_t L = c->layers;
    memset(c->ids, 0, L ? L : 1);
    for (uint32_t i = 0; i < L; i++)
        if ((kind == LF_LAST && i >= L - n) || (kind == LF_FIRST && i < n) ||
            (kind == LF_PRO && (i + 1) % (L / n) == 0))
            c->ids[i] = 1;
}

static uint32_t cover_count(const lf_ctx *c, const lf_choice *h, size_t k)
{
    return (uint32_t)((h->all && c->hit[k]) +
                      __builtin_popcountll(c->hitmods[k] & h->mods) +
                      __builtin_popcountll(c->v[k].ext & h->ext));
}

/* Drops chosen names whose trainable names others cover too. A layer
 * choice keeps at least one module. */
static void minimise(lf_ctx *c, lf_choice *h)
{
    for (size_t k = 0; k < c->n; k++)
        c->cnt[k] = c->v[k].frozen ? 0 : cover_count(c, h, k);
    for (size_t b = 0; b < 2 * LF_MAX_NAMES; b++) {
        int is_mod = b < LF_MAX_NAMES;
        uint64_t bit = (uint64_t)1 << (b % LF_MAX_NAMES);
        uint64_t *set = is_mod ? &h->mods : &h->ext;
        if (!(*set & bit) || (is_mod && __builtin_popcountll(h->mods) < 2))
            continue;
        int needed = 0;
        for (size_t k = 0; k < c->n && !needed; k++) {
            uint64_t in = is_mod ? c->hitmods[k] : c->v[k].ext;
            needed = !c->v[k].frozen && (in & bit) && c->cnt[k] < 2;
        }
        if (needed)
            continue;
        *set &= ~bit;
        for (size_t k = 0; k < c->n; k++)
            if (!c->v[k].frozen &&
                ((is_mod ? c->hitmods[k] : c->v[k].ext) & bit))
                c->cnt[k]--;
    }
}

/* Evaluates one layer choice: the usable names, what they leave
 * uncovered, and (when nothing is) the fewest of them. */
static lf_choice evaluate(lf_ctx *c, lf_kind kind, uint32_t n)
{
    lf_choice h = {kind, n, 0, 0, 0, 0, 0};
    uint64_t bad_mods = 0, bad_ext = 0;
    int bad_all = 0;
    set_ids(c, kind, n);
    for (size_t k = 0; k < c->n; k++) {
        const lf_name *x = &c->v[k];
        uint8_t hit = 0;
        uint64_t mods = 0;
        for (uint32_t o = x->occ; kind != LF_NONE && o < x->occ + x->nocc;
             o++)
            if (c->ids[c->occ[o].idx]) {
                hit = 1;
                mods |= c->occ[o].mods;
            }
        c->hit[k] = hit;
        c->hitmods[k] = mods;
        if (x->frozen) {
            bad_all |= hit;
            bad_mods |= mods;
            bad_ext |= x->ext;
        }
    }
    uint64_t all_mods = c->nmod == 64 ? ~(uint64_t)0
                                      : ((uint64_t)1 << c->nmod) - 1;
    uint64_t all_ext = c->next == 64 ? ~(uint64_t)0
                                     : ((uint64_t)1 << c->next) - 1;
    h.all = kind != LF_NONE && !bad_all;
    h.mods = kind != LF_NONE && !h.all ? all_mods & ~bad_mods : 0;
    h.ext = all_ext & ~bad_ext;
    for (size_t k = 0; k < c->n; k++)
        if (!c->v[k].frozen && cover_count(c, &h, k) == 0)
            h.uncovered++;
    if (kind != LF_NONE && !h.all && !h.mods)
        h.uncovered += c->ntrain + 1; /* no module can be named */
    if (h.uncovered == 0)
        minimise(c, &h);
    h.cost = (size_t)(h.all + __builtin_popcountll(h.mods) +
                      __builtin_popcountll(h.ext));
    return h;
}

/* Every layer choice; the best one in *best (the cheapest exact one, or
 * the one leaving the fewest names uncovered). */
static void search(lf_ctx *c, lf_choice *best)
{
    uint32_t L = c->layers;
    *best = evaluate(c, LF_NONE, 0);
    for (int kind = LF_LAST; kind <= LF_PRO; kind++)
        for (uint32_t n = 1; n <= L; n++) {
            if ((kind == LF_FIRST && n == L) ||
                (kind == LF_PRO && (n < 2 || n == L || L % n)))
                continue;
            lf_choice h = evaluate(c, (lf_kind)kind, n);
            int better = h.uncovered < best->uncovered ||
                         (h.uncovered == 0 && best->uncovered == 0 &&
                          h.cost < best->cost);
            if (better)
                *best = h;
        }
}

/* The names a choice lists, written "a,b" (plain when YAML keeps it a
 * string, else double-quoted). */
static void write_names(FILE *out, const lf_str *set, uint64_t bits)
{
    static const char *const words[] = {"y", "n", "yes", "no", "on", "off",
                                        "true", "false", "null"};
    char buf[LF_MAX_NAMES * (LF_MAX_MODULE + 1)];
    size_t k = 0;
    int plain = 1;
    for (size_t i = 0; i < LF_MAX_NAMES; i++) {
        if (!(bits & ((uint64_t)1 << i)))
            continue;
        const lf_str *m = &set[i];
        if (k && k < sizeof buf)
            buf[k++] = ',';
        for (size_t j = 0; j < m->len && k < sizeof buf; j++) {
            char ch = m->p[j];
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  ch == '_' || (j > 0 && ch >= '0' && ch <= '9')))
                plain = 0;
            buf[k++] = ch;
        }
        for (size_t w = 0; w < sizeof words / sizeof words[0]; w++)
            if (strlen(words[w]) == m->len &&
                strncasecmp(words[w], m->p, m->len) == 0)
                plain = 0;
    }
    if (plain)
        fwrite(buf, 1, k, out);
    else
        export_yaml_string(out, buf, k);
    fputc('\n', out);
}

static void write_choice(FILE *out, const lf_ctx *c, const lf_choice *h)
{
    char path[TABLE_MAX_NAME + 1];
    fputs("# LLaMA-Factory freeze tuning (_setup_freeze_tuning): a parameter "
          "trains when\n# its name contains \".{layer}.{module}\" for a "
          "trainable layer, or an extra\n# module name (docs/cli.md).\n",
          out);
    if (h->kind != LF_NONE) {
        tree_node_path(&c->s->tr, c->stack, path, sizeof path);
        fprintf(out, "# assumes num_hidden_layers: %u in the model config "
                "(the layers of %s here)\n", c->layers, path);
    }
    fputs("finetuning_type: freeze\n", out);
    fprintf(out, "freeze_trainable_layers: %s%u\n",
            h->kind == LF_FIRST ? "-" : "", h->n);
    fputs("freeze_trainable_modules: ", out);
    if (h->kind == LF_NONE || h->all)
        fputs("all\n", out);
    else
        write_names(out, c->mod, h->mods);
    fputs("freeze_extra_modules: ", out);
    if (h->ext)
        write_names(out, c->ext, h->ext);
    else
        fputs("null\n", out);
    if (h->kind == LF_PRO)
        fputs("use_llama_pro: true\n", out);
}

/* The one-line refusal for a plan no choice expresses. */
static int refuse(lf_ctx *c, const lf_choice *best)
{
    char shown[600];
    size_t k = 0, listed = 0, more = 0;
    lf_choice h = evaluate(c, best->kind, best->n);
    shown[0] = '\0';
    for (size_t i = 0; i < c->n; i++) {
        if (c->v[i].frozen || cover_count(c, &h, i))
            continue;
        if (listed == 3 || k >= sizeof shown - 100) {
            more++;
            continue;
        }
        int w = snprintf(shown + k, sizeof shown - k, "%s'%.80s'",
                         listed ? ", " : "",
                         table_name(&c->s->t, c->v[i].tensor));
        k += w > 0 ? (size_t)w : 0;
        listed++;
    }
    if (k >= sizeof shown)
        k = sizeof shown - 1;
    return err_set("%s: LLaMA-Factory's freeze tuning cannot express this "
                   "plan: no freeze_trainable_layers/modules/extra_modules "
                   "setting trains exactly its tensors; the closest "
                   "(freeze_trainable_layers: %s%u%s) leaves %s%s frozen, "
                   "which the plan trains", export_source(c->s),
                   h.kind == LF_FIRST ? "-" : "", h.n,
                   h.kind == LF_PRO ? ", use_llama_pro" : "", shown,
                   more ? " and more" : "");
}

static int collect_names(lf_ctx *c)
{
    const session *s = c->s;
    c->v = malloc((s->t.count ? s->t.count : 1) * sizeof *c->v);
    if (!c->v)
        return err_set("out of memory");
    for (size_t i = 0; i < s->t.count; i++) {
        if (!export_is_param(s, i) || (table_at(&s->t, i)->flags & TF_ALIAS))
            continue;
        lf_name *x = &c->v[c->n++];
        memset(x, 0, sizeof *x);
        x->tensor = (uint32_t)i;
        x->frozen = (uint8_t)freeze_is_frozen(&s->fs, i);
        c->ntrain += !x->frozen;
    }
    return 0;
}

static int prepare(lf_ctx *c)
{
    size_t n = c->n ? c->n : 1;
    if (find_module_names(c))
        return -1;
    find_stack(c);
    c->ids = malloc(c->layers ? c->layers : 1);
    c->hit = malloc(n);
    c->hitmods = malloc(n * sizeof *c->hitmods);
    c->cnt = malloc(n * sizeof *c->cnt);
    c->seg = malloc((TABLE_MAX_NAME + 2) * sizeof *c->seg);
    if (!c->ids || !c->hit || !c->hitmods || !c->cnt || !c->seg)
        return err_set("out of memory");
    for (size_t i = 0; i < c->nmod; i++)
        if (export_check_utf8(c->s, c->mod[i].p, c->mod[i].len))
            return -1;
    for (size_t i = 0; i < c->next; i++)
        if (export_check_utf8(c->s, c->ext[i].p, c->ext[i].len))
            return -1;
    return scan_names(c);
}

int export_llamafactory(FILE *out, const session *s)
{
    lf_ctx c;
    lf_choice best;
    int rc = -1;
    memset(&c, 0, sizeof c);
    c.s = s;
    if (collect_names(&c))
        goto out;
    if (c.ntrain == c.n) {
        fputs("# LLaMA-Factory: nothing is frozen, so this is full "
              "fine-tuning.\nfinetuning_type: full\n", out);
        rc = export_finish(out);
        goto out;
    }
    if (c.ntrain == 0) {
        err_set("%s: every parameter is frozen; LLaMA-Factory would have "
                "nothing to train, so this plan cannot be exported",
                export_source(s));
        goto out;
    }
    if (prepare(&c))
        goto out;
    search(&c, &best);
    if (best.uncovered) {
        refuse(&c, &best);
        goto out;
    }
    write_choice(out, &c, &best);
    rc = export_finish(out);
out:
    free(c.v);
    free(c.occ);
    free(c.ids);
    free(c.hit);
    free(c.hitmods);
    free(c.cnt);
    free(c.seg);
    return rc;
}
