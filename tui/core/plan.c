/* plan.c: the plan in memory and its strict reader (see plan.h; the
 * writer and the path helpers are in plan_write.c, the keyword fields'
 * values in plan_choices.c). */
#include "plan.h"

#include "err.h"
#include "plan_activation.h"
#include "plan_stages.h"
#include "suggest.h"
#include "table.h"
#include "utf8.h"
#include "yamldoc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_ARENA_BLOCK (64u << 10)

typedef struct pblock pblock;
struct pblock {
    pblock *next;
    size_t used, cap;
    char data[];
};

struct plan_arena {
    pblock *head;
};

/* --- the plan in memory -------------------------------------------------- */

void plan_init(plan *p)
{
    memset(p, 0, sizeof *p);
    p->version = PLAN_VERSION;
    p->model.tensors = p->model.parameters = PLAN_UNSET;
    p->estimate.trainable_parameters = PLAN_UNSET;
    plan_bytes *b = &p->estimate.bytes;
    b->weights = b->master = b->gradients = b->optimizer = PLAN_UNSET;
    b->buffers = b->total = b->total_if_all_trainable = PLAN_UNSET;
    plan_train *t = &p->train;
    t->data.val_fraction = NAN;
    t->optimizer.lr = t->optimizer.weight_decay = NAN;
    t->optimizer.momentum = t->optimizer.eps = NAN;
    t->optimizer.betas[0] = t->optimizer.betas[1] = NAN;
    t->schedule.warmup_steps = PLAN_UNSET;
    t->clip_grad_norm = NAN;
    t->dist_timeout = NAN;
    t->world_size = PLAN_UNSET;
    t->batch_size = t->epochs = t->max_steps = PLAN_UNSET;
    t->seed = t->checkpoint_every = t->log_every = PLAN_UNSET;
    p->layer_decay = NAN;
}

void plan_free(plan *p)
{
    if (!p)
        return;
    if (p->arena) {
        pblock *b = p->arena->head;
        while (b) {
            pblock *next = b->next;
            free(b);
            b = next;
        }
        free(p->arena);
    }
    free(p->rules);
    free(p->frozen);
    for (size_t i = 0; i < p->nstages; i++)
        free(p->stages[i].rules);
    free(p->stages);
    free(p->lr_scale);
    free(p->no_decay);
    activation_free(p->estimate.activations);
    free(p->estimate.activations);
    plan_init(p);
}

const char *plan_strndup(plan *p, const char *s, size_t len)
{
    if (!p->arena && !(p->arena = calloc(1, sizeof *p->arena))) {
        err_set("plan: out of memory");
        return NULL;
    }
    pblock *b = p->arena->head;
    if (len >= SIZE_MAX - sizeof *b - 1) {
        err_set("plan: out of memory");
        return NULL;
    }
    if (!b || b->cap - b->used < len + 1) {
        size_t cap = len + 1 > PLAN_ARENA_BLOCK ? len + 1 : PLAN_ARENA_BLOCK;
        b = malloc(sizeof *b + cap);
        if (!b) {
            err_set("plan: out of memory");
            return NULL;
        }
        b->used = 0;
        b->cap = cap;
        b->next = p->arena->head;
        p->arena->head = b;
    }
    char *out = b->data + b->used;
    memcpy(out, s, len);
    out[len] = '\0';
    b->used += len + 1;
    return out;
}

const char *plan_strdup(plan *p, const char *s)
{
    return plan_strndup(p, s, strlen(s));
}

int plan_has_number(double v)
{
    return !isnan(v);
}

int plan_add_rule(plan *p, plan_rule_kind kind, const char *pattern)
{
    const char *copy = NULL;
    if (kind != PLAN_INVERT) {
        if (!pattern || !*pattern)
            return err_set("plan: a freeze/unfreeze rule needs a pattern");
        if (!utf8_valid((const unsigned char *)pattern, strlen(pattern), NULL))
            return err_set("plan: pattern is not valid UTF-8");
        if (!(copy = plan_strdup(p, pattern)))
            return -1;
    }
    if (p->nrules == p->rules_cap) {
        size_t cap = p->rules_cap ? p->rules_cap * 2 : 8;
        plan_rule *r = realloc(p->rules, cap * sizeof *r);
        if (!r)
            return err_set("plan: out of memory");
        p->rules = r;
        p->rules_cap = cap;
    }
    plan_rule *r = &p->rules[p->nrules++];
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->pattern = copy;
    p->has_rules = 1;
    return 0;
}

int plan_add_frozen(plan *p, const char *name, size_t len)
{
    if (len == 0)
        return err_set("plan: empty tensor name");
    if (len > TABLE_MAX_NAME)
        return err_set("plan: tensor name of %zu bytes is over the limit of "
                       "%u", len, TABLE_MAX_NAME);
    if (memchr(name, '\0', len))
        return err_set("plan: tensor name holds a NUL byte");
    if (!utf8_valid((const unsigned char *)name, len, NULL))
        return err_set("plan: tensor name '%.*s' is not valid UTF-8",
                       (int)(len > 80 ? 80 : len), name);
    if (p->nfrozen >= TABLE_MAX_TENSORS)
        return err_set("plan: more than %u frozen names", TABLE_MAX_TENSORS);
    if (p->nfrozen == p->frozen_cap) {
        size_t cap = p->frozen_cap ? p->frozen_cap * 2 : 256;
        const char **f = realloc(p->frozen, cap * sizeof *f);
        if (!f)
            return err_set("plan: out of memory");
        p->frozen = f;
        p->frozen_cap = cap;
    }
    const char *copy = plan_strndup(p, name, len);
    if (!copy)
        return -1;
    p->frozen[p->nfrozen++] = copy;
    p->has_frozen = 1;
    return 0;
}

void plan_clear_frozen(plan *p)
{
    p->nfrozen = 0;
}

/* --- the reader ----------------------------------------------------------- */

typedef struct {
    const yamldoc *d;
    plan *p;
} reader;

static const char *const top_keys[] = {"version", "model", "rules", "frozen",
                                       "estimate", "batchnorm", "train",
                                       "stages", "lr_scale", "layer_decay",
                                       "no_decay", NULL};
static const char *const model_keys[] = {"path", "format", "fingerprint",
                                         "tensors", "parameters", NULL};
static const char *const estimate_keys[] = {"optimizer", "precision",
                                            "trainable_parameters", "bytes",
                                            "activations", NULL};
static const char *const bytes_keys[] = {"weights", "master", "gradients",
                                         "optimizer", "buffers", "total",
                                         "total_if_all_trainable", NULL};
static const char *const train_keys[] = {
    "model", "init", "data", "input_shape", "input_dtype", "loss",
    "optimizer", "schedule",
    "clip_grad_norm", "batch_size", "epochs", "max_steps", "device",
    "precision", "seed", "output", "checkpoint_every", "log_every",
    "dist_timeout", "world_size", NULL};
static const char *const data_keys[] = {"train", "val", "inputs", "targets",
                                        "val_fraction", NULL};
static const char *const opt_keys[] = {"name", "lr", "weight_decay",
                                       "momentum", "betas", "eps", NULL};
static const char *const sched_keys[] = {"name", "warmup_steps", NULL};

/* The MAP under `key`, or NULL when absent; -1 with err for a non-map. */
static int get_map(reader *r, const ynode *map, const char *key,
                   const ynode **out, const char *const *keys)
{
    const ynode *n = ynode_get(map, key);
    *out = n;
    if (!n)
        return 0;
    if (n->type != YNODE_MAP)
        return ynode_error(r->d, n, "expected a mapping for '%s'", key);
    return ynode_check_keys(r->d, n, keys);
}

static int get_str(reader *r, const ynode *map, const char *key,
                   const char **dst)
{
    const ynode *n = ynode_get(map, key);
    const char *s;
    if (!n)
        return 0;
    if (ynode_string(r->d, n, &s) < 0)
        return -1;
    if (!n->quoted && (!*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0))
        return ynode_error(r->d, n, "expected a string for '%s', found null "
                           "(leave the key out instead)", key);
    if (!*s)
        return ynode_error(r->d, n, "empty string for '%s'", key);
    if (!(*dst = plan_strndup(r->p, s, n->len)))
        return -1;
    return 0;
}

static int get_choice(reader *r, const ynode *map, const char *key,
                      const char *field, const char **dst)
{
    const char *const *c = plan_choices(field);
    if (get_str(r, map, key, dst) < 0)
        return -1;
    if (!*dst || plan_choice_ok(field, *dst))
        return 0;
    char list[300] = "";
    size_t used = 0;
    for (size_t i = 0; c[i] && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                                 i ? ", " : "", c[i]);
    return ynode_error(r->d, ynode_get(map, key), "'%s' is not a valid value "
                       "for '%s' (expected one of: %s)", *dst, key, list);
}

static int get_u64(reader *r, const ynode *map, const char *key,
                   uint64_t *dst)
{
    const ynode *n = ynode_get(map, key);
    unsigned long long v;
    if (!n)
        return 0;
    if (ynode_u64(r->d, n, &v) < 0)
        return -1;
    if (v == PLAN_UNSET)
        return ynode_error(r->d, n, "value out of range for '%s'", key);
    *dst = v;
    return 0;
}

static int get_double(reader *r, const ynode *map, const char *key,
                      double *dst)
{
    const ynode *n = ynode_get(map, key);
    if (!n)
        return 0;
    return ynode_double(r->d, n, dst);
}

static int read_model(reader *r, const ynode *root)
{
    const ynode *m;
    plan_model *pm = &r->p->model;
    if (get_map(r, root, "model", &m, model_keys) < 0)
        return -1;
    if (!m)
        return ynode_error(r->d, root, "missing required key 'model'");
    if (get_str(r, m, "path", &pm->path) < 0 ||
        get_str(r, m, "format", &pm->format) < 0 ||
        get_str(r, m, "fingerprint", &pm->fingerprint) < 0 ||
        get_u64(r, m, "tensors", &pm->tensors) < 0 ||
        get_u64(r, m, "parameters", &pm->parameters) < 0)
        return -1;
    if (!pm->path)
        return ynode_error(r->d, m, "missing required key 'path' in 'model'");
    if (!pm->fingerprint)
        return 0; /* a hand-written plan: computed, not checked */
    const char *f = pm->fingerprint;
    int ok = strncmp(f, "sha256:", 7) == 0 && strlen(f) == 71;
    for (size_t i = 7; ok && i < 71; i++)
        ok = (f[i] >= '0' && f[i] <= '9') || (f[i] >= 'a' && f[i] <= 'f');
    if (!ok)
        return ynode_error(r->d, ynode_get(m, "fingerprint"), "expected "
                           "'sha256:' and 64 lower-case hex digits for "
                           "'fingerprint'");
    return 0;
}

static int read_rules(reader *r, const ynode *root)
{
    const ynode *s = ynode_get(root, "rules");
    if (!s)
        return 0;
    if (s->type != YNODE_SEQ)
        return ynode_error(r->d, s, "expected a list for 'rules'");
    r->p->has_rules = 1;
    for (size_t i = 0; i < s->n; i++) {
        const ynode *it = s->items[i], *v;
        const char *pat;
        int b;
        if (it->type != YNODE_MAP || it->n != 2)
            return ynode_error(r->d, it, "expected a one-key mapping for a "
                               "rule ('- freeze: PATTERN', '- unfreeze: "
                               "PATTERN' or '- invert: true')");
        const char *k = it->items[0]->str;
        v = it->items[1];
        if (strcmp(k, "invert") == 0) {
            if (ynode_bool(r->d, v, &b) < 0)
                return -1;
            if (!b)
                return ynode_error(r->d, v, "'invert: false' does nothing; "
                                   "write 'invert: true' or drop the rule");
            if (plan_add_rule(r->p, PLAN_INVERT, NULL) < 0)
                return -1;
        } else if (strcmp(k, "freeze") == 0 || strcmp(k, "unfreeze") == 0) {
            if (ynode_string(r->d, v, &pat) < 0)
                return -1;
            if (!*pat)
                return ynode_error(r->d, v, "empty pattern for '%s'", k);
            if (plan_add_rule(r->p, k[0] == 'f' ? PLAN_FREEZE : PLAN_UNFREEZE,
                              pat) < 0)
                return -1;
        } else {
            static const char *const kinds[] = {"freeze", "unfreeze",
                                                "invert"};
            const char *m = suggest_closest(k, kinds, 3);
            return ynode_error(r->d, it->items[0], "unknown rule '%s'%s%s%s "
                               "(expected one of: freeze, unfreeze, invert)",
                               k, m ? "; did you mean '" : "", m ? m : "",
                               m ? "'?" : "");
        }
        r->p->rules[r->p->nrules - 1].line = it->line;
        r->p->rules[r->p->nrules - 1].col = it->col;
    }
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    const ynode *x = *(const ynode *const *)a, *y = *(const ynode *const *)b;
    int c = strcmp(x->str, y->str);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

static int read_frozen(reader *r, const ynode *root)
{
    const ynode *s = ynode_get(root, "frozen");
    const ynode **sorted = NULL;
    int rc = -1;
    if (!s)
        return 0;
    if (s->type != YNODE_SEQ)
        return ynode_error(r->d, s, "expected a list for 'frozen'");
    r->p->has_frozen = 1;
    for (size_t i = 0; i < s->n; i++) {
        const ynode *it = s->items[i];
        const char *name;
        if (ynode_string(r->d, it, &name) < 0)
            goto cleanup;
        if (plan_add_frozen(r->p, name, it->len) < 0) {
            ynode_error(r->d, it, "frozen item %zu: %s", i + 1,
                        err_msg() + strlen("plan: "));
            goto cleanup;
        }
    }
    if (s->n > 1) {
        sorted = malloc(s->n * sizeof *sorted);
        if (!sorted) {
            ynode_error(r->d, s, "out of memory");
            goto cleanup;
        }
        memcpy(sorted, s->items, s->n * sizeof *sorted);
        qsort(sorted, s->n, sizeof *sorted, name_cmp);
        for (size_t i = 1; i < s->n; i++)
            if (strcmp(sorted[i]->str, sorted[i - 1]->str) == 0) {
                ynode_error(r->d, sorted[i], "'%s' appears twice in 'frozen'",
                            sorted[i]->str);
                goto cleanup;
            }
    }
    rc = 0;
cleanup:
    free(sorted);
    return rc;
}

static int read_estimate(reader *r, const ynode *root)
{
    const ynode *e, *b;
    plan_estimate *pe = &r->p->estimate;
    plan_bytes *pb = &pe->bytes;
    if (get_map(r, root, "estimate", &e, estimate_keys) < 0)
        return -1;
    if (!e)
        return 0;
    if (get_str(r, e, "optimizer", &pe->optimizer) < 0 ||
        get_str(r, e, "precision", &pe->precision) < 0 ||
        get_u64(r, e, "trainable_parameters", &pe->trainable_parameters) < 0 ||
        get_map(r, e, "bytes", &b, bytes_keys) < 0 ||
        plan_read_activations(r->d, e, r->p) < 0)
        return -1;
    if (!b)
        return 0;
    if (get_u64(r, b, "weights", &pb->weights) < 0 ||
        get_u64(r, b, "master", &pb->master) < 0 ||
        get_u64(r, b, "gradients", &pb->gradients) < 0 ||
        get_u64(r, b, "optimizer", &pb->optimizer) < 0 ||
        get_u64(r, b, "buffers", &pb->buffers) < 0 ||
        get_u64(r, b, "total", &pb->total) < 0 ||
        get_u64(r, b, "total_if_all_trainable", &pb->total_if_all_trainable) < 0)
        return -1;
    return 0;
}

static int read_train_parts(reader *r, const ynode *t)
{
    plan_train *pt = &r->p->train;
    const ynode *m, *n;
    if (get_map(r, t, "data", &m, data_keys) < 0)
        return -1;
    if (m && (get_str(r, m, "train", &pt->data.train) < 0 ||
              get_str(r, m, "val", &pt->data.val) < 0 ||
              get_str(r, m, "inputs", &pt->data.inputs) < 0 ||
              get_str(r, m, "targets", &pt->data.targets) < 0 ||
              get_double(r, m, "val_fraction", &pt->data.val_fraction) < 0))
        return -1;
    n = m ? ynode_get(m, "val_fraction") : NULL;
    if (n && !(pt->data.val_fraction >= 0 && pt->data.val_fraction < 1))
        return ynode_error(r->d, n, "'val_fraction' must be in [0, 1), not "
                           "%s", n->str);
    if (get_map(r, t, "optimizer", &m, opt_keys) < 0)
        return -1;
    if (m && (get_choice(r, m, "name", "train.optimizer.name",
                         &pt->optimizer.name) < 0 ||
              get_double(r, m, "lr", &pt->optimizer.lr) < 0 ||
              get_double(r, m, "weight_decay", &pt->optimizer.weight_decay) < 0 ||
              get_double(r, m, "momentum", &pt->optimizer.momentum) < 0 ||
              get_double(r, m, "eps", &pt->optimizer.eps) < 0))
        return -1;
    n = m ? ynode_get(m, "betas") : NULL;
    if (n) {
        if (n->type != YNODE_SEQ || n->n != 2)
            return ynode_error(r->d, n, "expected a list of two numbers for "
                               "'betas'");
        if (ynode_double(r->d, n->items[0], &pt->optimizer.betas[0]) < 0 ||
            ynode_double(r->d, n->items[1], &pt->optimizer.betas[1]) < 0)
            return -1;
    }
    if (get_map(r, t, "schedule", &m, sched_keys) < 0)
        return -1;
    if (m && (get_choice(r, m, "name", "train.schedule.name",
                         &pt->schedule.name) < 0 ||
              get_u64(r, m, "warmup_steps", &pt->schedule.warmup_steps) < 0))
        return -1;
    return 0;
}

/* train.input_shape: a list of 1..PLAN_MAX_INPUT_DIMS counts in 1..2^31. */
static int read_input_shape(reader *r, const ynode *t)
{
    plan_train *pt = &r->p->train;
    const ynode *n = ynode_get(t, "input_shape");
    unsigned long long v;
    if (get_choice(r, t, "input_dtype", "train.input_dtype",
                   &pt->input_dtype) < 0)
        return -1;
    if (!n)
        return pt->input_dtype ? ynode_error(r->d, ynode_get(t, "input_dtype"),
                                             "'input_dtype' needs "
                                             "'input_shape'") : 0;
    if (n->type != YNODE_SEQ || n->n < 1 || n->n > PLAN_MAX_INPUT_DIMS)
        return ynode_error(r->d, n, "expected a list of 1 to %d sizes for "
                           "'input_shape' (one sample, e.g. [3, 224, 224])",
                           PLAN_MAX_INPUT_DIMS);
    for (size_t i = 0; i < n->n; i++) {
        if (ynode_u64(r->d, n->items[i], &v) < 0)
            return -1;
        if (v < 1 || v > (1ull << 31))
            return ynode_error(r->d, n->items[i], "'input_shape' sizes must "
                               "be in 1..2^31, not %llu", v);
        pt->input_shape[i] = v;
    }
    pt->input_ndim = (unsigned)n->n;
    return 0;
}

static int read_train(reader *r, const ynode *root)
{
    const ynode *t;
    plan_train *pt = &r->p->train;
    if (get_map(r, root, "train", &t, train_keys) < 0)
        return -1;
    if (!t)
        return 0;
    pt->present = 1;
    if (get_str(r, t, "model", &pt->model) < 0 ||
        get_str(r, t, "init", &pt->init) < 0 ||
        read_train_parts(r, t) < 0 || read_input_shape(r, t) < 0 ||
        get_choice(r, t, "loss", "train.loss", &pt->loss) < 0 ||
        get_double(r, t, "clip_grad_norm", &pt->clip_grad_norm) < 0 ||
        get_u64(r, t, "batch_size", &pt->batch_size) < 0 ||
        get_u64(r, t, "epochs", &pt->epochs) < 0 ||
        get_u64(r, t, "max_steps", &pt->max_steps) < 0 ||
        get_choice(r, t, "device", "train.device", &pt->device) < 0 ||
        get_choice(r, t, "precision", "train.precision", &pt->precision) < 0 ||
        get_u64(r, t, "seed", &pt->seed) < 0 ||
        get_str(r, t, "output", &pt->output) < 0 ||
        get_u64(r, t, "checkpoint_every", &pt->checkpoint_every) < 0 ||
        get_u64(r, t, "log_every", &pt->log_every) < 0 ||
        get_double(r, t, "dist_timeout", &pt->dist_timeout) < 0 ||
        get_u64(r, t, "world_size", &pt->world_size) < 0)
        return -1;
    return 0;
}

static int read_plan(reader *r, const ynode *root)
{
    const ynode *v = ynode_get(root, "version");
    const char *bn = NULL;
    unsigned long long ver;
    if (!v)
        return ynode_error(r->d, root, "missing required key 'version' "
                           "(this tui writes version %d)", PLAN_VERSION);
    if (ynode_u64(r->d, v, &ver) < 0)
        return -1;
    if (ver != PLAN_VERSION)
        return ynode_error(r->d, v, "plan version %llu is not supported "
                           "(this tui reads version %d)", ver, PLAN_VERSION);
    if (ynode_check_keys(r->d, root, top_keys) < 0 ||
        read_model(r, root) < 0 || read_rules(r, root) < 0 ||
        read_frozen(r, root) < 0 || read_estimate(r, root) < 0 ||
        get_choice(r, root, "batchnorm", "batchnorm", &bn) < 0 ||
        read_train(r, root) < 0 || plan_read_stages(r->d, root, r->p) < 0)
        return -1;
    if (bn)
        r->p->batchnorm = bn[0] == 'f' ? PLAN_BN_FREEZE_STATS : PLAN_BN_TRAIN;
    if (!r->p->has_rules && !r->p->has_frozen)
        return ynode_error(r->d, root, "missing required key: a plan needs "
                           "'rules' or 'frozen' (or both)");
    return 0;
}

/* Fills `p` from document `d` (NULL when parsing failed, err set) and
 * frees `d`. Returns 0 or -1 with err set and `p` empty. */
static int plan_from_doc(yamldoc *d, const char *name, plan *p)
{
    reader r = {d, p};
    int rc = -1;
    plan_free(p);
    if (!d)
        goto cleanup;
    const ynode *root = yamldoc_root(d);
    if (!root) {
        err_set("%s: empty plan (expected a mapping that starts with "
                "'version: %d')", name, PLAN_VERSION);
        goto cleanup;
    }
    if (root->type != YNODE_MAP) {
        ynode_error(d, root, "expected a mapping at the top of a plan");
        goto cleanup;
    }
    if (read_plan(&r, root) < 0)
        goto cleanup;
    rc = 0;
cleanup:
    if (rc < 0)
        plan_free(p);
    yamldoc_free(d);
    return rc;
}

int plan_parse(const char *name, const char *buf, size_t len, plan *p)
{
    return plan_from_doc(yamldoc_parse(name, buf, len), name, p);
}

int plan_load(const char *path, plan *p)
{
    return plan_from_doc(yamldoc_load(path), path, p);
}
