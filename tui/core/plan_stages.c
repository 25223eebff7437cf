/* plan_stages.c: a plan's stages and lr rules in memory, read and checked
 * (plan_stages.h; the editing calls are declared in plan.h). The writer
 * is emit_stages() in plan_write.c. Tensor-dependent checks (a rule that
 * matches nothing, a stage that thaws nothing) belong to resolution. */
#include "plan_stages.h"

#include "err.h"
#include "pattern.h"
#include "utf8.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const stage_keys[] = {"freeze", "unfreeze", "steps",
                                         "epochs", "lr", NULL};
static const char *const decay_keys[] = {"factor", NULL};

/* --- in memory ------------------------------------------------------------ */

/* A pattern the reader accepts: non-empty, valid UTF-8, compiles. */
static int pattern_ok(const char *s)
{
    if (!s || !*s)
        return err_set("plan: empty pattern");
    if (!utf8_valid((const unsigned char *)s, strlen(s), NULL))
        return err_set("plan: pattern is not valid UTF-8");
    pattern *c = pattern_compile(s, NULL);
    if (!c) {
        char why[512];
        snprintf(why, sizeof why, "%s", err_msg());
        return err_set("plan: pattern '%.200s': %s", s, why);
    }
    pattern_free(c);
    return 0;
}

plan_stage *plan_insert_stage(plan *p, size_t at)
{
    if (at > p->nstages) {
        err_set("plan: no stage %zu", at);
        return NULL;
    }
    if (p->nstages >= PLAN_MAX_STAGES) {
        err_set("plan: more than %d stages", PLAN_MAX_STAGES);
        return NULL;
    }
    if (p->nstages == p->stages_cap) {
        size_t cap = p->stages_cap ? p->stages_cap * 2 : 4;
        plan_stage *s = realloc(p->stages, cap * sizeof *s);
        if (!s) {
            err_set("plan: out of memory");
            return NULL;
        }
        p->stages = s;
        p->stages_cap = cap;
    }
    memmove(&p->stages[at + 1], &p->stages[at],
            (p->nstages - at) * sizeof *p->stages);
    p->nstages++;
    plan_stage *s = &p->stages[at];
    memset(s, 0, sizeof *s);
    s->steps = s->epochs = PLAN_UNSET;
    s->lr = NAN;
    return s;
}

plan_stage *plan_add_stage(plan *p)
{
    return plan_insert_stage(p, p->nstages);
}

void plan_delete_stage(plan *p, size_t at)
{
    if (at >= p->nstages)
        return;
    free(p->stages[at].rules);
    memmove(&p->stages[at], &p->stages[at + 1],
            (p->nstages - at - 1) * sizeof *p->stages);
    p->nstages--;
}

int plan_stage_add_rule(plan *p, plan_stage *s, plan_rule_kind kind,
                        const char *pat)
{
    const char *copy;
    if (kind == PLAN_INVERT)
        return err_set("plan: a stage has freeze and unfreeze rules only");
    if (pattern_ok(pat) < 0 || !(copy = plan_strdup(p, pat)))
        return -1;
    if (s->nrules == s->rules_cap) {
        size_t cap = s->rules_cap ? s->rules_cap * 2 : 4;
        plan_rule *r = realloc(s->rules, cap * sizeof *r);
        if (!r)
            return err_set("plan: out of memory");
        s->rules = r;
        s->rules_cap = cap;
    }
    size_t at = s->nrules;
    if (kind == PLAN_FREEZE)
        while (at > 0 && s->rules[at - 1].kind != PLAN_FREEZE)
            at--;
    memmove(&s->rules[at + 1], &s->rules[at],
            (s->nrules - at) * sizeof *s->rules);
    s->nrules++;
    memset(&s->rules[at], 0, sizeof s->rules[at]);
    s->rules[at].kind = kind;
    s->rules[at].pattern = copy;
    return 0;
}

/* Appends to one of the two lr-rule lists. */
static int add_lr_rule(plan *p, plan_lr_rule **list, size_t *n, size_t *cap,
                       const char *pat, double scale)
{
    const char *copy;
    if (pattern_ok(pat) < 0 || !(copy = plan_strdup(p, pat)))
        return -1;
    if (*n >= SIZE_MAX / 2 / sizeof **list)
        return err_set("plan: out of memory");
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 4;
        plan_lr_rule *r = realloc(*list, c * sizeof *r);
        if (!r)
            return err_set("plan: out of memory");
        *list = r;
        *cap = c;
    }
    plan_lr_rule *r = &(*list)[(*n)++];
    memset(r, 0, sizeof *r);
    r->pattern = copy;
    r->scale = scale;
    return 0;
}

int plan_add_lr_scale(plan *p, const char *pat, double scale)
{
    if (!(isfinite(scale) && scale > 0))
        return err_set("plan: an lr_scale must be a finite number > 0");
    return add_lr_rule(p, &p->lr_scale, &p->nlr_scale, &p->lr_scale_cap,
                       pat, scale);
}

int plan_add_no_decay(plan *p, const char *pat)
{
    return add_lr_rule(p, &p->no_decay, &p->nno_decay, &p->no_decay_cap,
                       pat, NAN);
}

/* --- the reader ------------------------------------------------------------ */

/* err (from a plan_* call) as "file:line:col: problem" at node `n`. */
static int at_node(const yamldoc *d, const ynode *n)
{
    const char *m = err_msg();
    char why[1024];
    snprintf(why, sizeof why, "%s",
             strncmp(m, "plan: ", 6) == 0 ? m + 6 : m);
    return ynode_error(d, n, "%s", why);
}

/* A pattern scalar: a string node, non-empty. */
static int read_pattern(const yamldoc *d, const ynode *n, const char *what,
                        const char **out)
{
    if (n->type != YNODE_SCALAR)
        return ynode_error(d, n, "expected a pattern (a string) for '%s'",
                           what);
    if (ynode_string(d, n, out) < 0)
        return -1;
    if (!**out)
        return ynode_error(d, n, "empty pattern for '%s'", what);
    return 0;
}

/* `freeze:` or `unfreeze:` of a stage: one pattern or a non-empty list. */
static int read_stage_rules(const yamldoc *d, const ynode *m, plan *p,
                            size_t si, const char *k)
{
    const ynode *v = ynode_get(m, k);
    size_t n;
    if (!v)
        return 0;
    if (v->type == YNODE_SEQ && v->n == 0)
        return ynode_error(d, v, "empty list for '%s' (leave the key out "
                           "instead)", k);
    n = v->type == YNODE_SEQ ? v->n : 1;
    for (size_t i = 0; i < n; i++) {
        const ynode *it = v->type == YNODE_SEQ ? v->items[i] : v;
        const char *pat;
        if (read_pattern(d, it, k, &pat) < 0)
            return -1;
        if (plan_stage_add_rule(p, &p->stages[si], k[0] == 'f' ? PLAN_FREEZE
                                : PLAN_UNFREEZE, pat) < 0)
            return at_node(d, it);
        /* freezes are kept first; unfreezes are read after them */
        size_t at = k[0] == 'f' ? i : p->stages[si].nrules - 1;
        p->stages[si].rules[at].line = it->line;
        p->stages[si].rules[at].col = it->col;
    }
    return 0;
}

/* A positive stage length under `key`. */
static int read_length(const yamldoc *d, const ynode *m, const char *key,
                       uint64_t *dst)
{
    const ynode *n = ynode_get(m, key);
    unsigned long long v;
    if (!n)
        return 0;
    if (n->type != YNODE_SCALAR || ynode_u64(d, n, &v) < 0 || v == 0 ||
        v == PLAN_UNSET)
        return ynode_error(d, n, "'%s' must be a positive integer, not "
                           "'%.40s'", key,
                           n->type == YNODE_SCALAR ? n->str : "(a collection)");
    *dst = v;
    return 0;
}

/* A number that must be finite and > 0 (an lr, a scale). */
static int read_positive(const yamldoc *d, const ynode *n, const char *what,
                         double *dst)
{
    if (n->type != YNODE_SCALAR || ynode_double(d, n, dst) < 0 ||
        !(isfinite(*dst) && *dst > 0))
        return ynode_error(d, n, "%s must be a finite number > 0, not "
                           "'%.40s'", what,
                           n->type == YNODE_SCALAR ? n->str : "(a collection)");
    return 0;
}

static int read_stage(const yamldoc *d, const ynode *m, plan *p, size_t si)
{
    plan_stage *s;
    const ynode *lr = ynode_get(m, "lr");
    if (m->type != YNODE_MAP)
        return ynode_error(d, m, "expected a mapping for stage %zu (keys "
                           "freeze, unfreeze, steps or epochs, lr)", si);
    if (!(s = plan_add_stage(p)))
        return at_node(d, m);
    s->line = m->line;
    s->col = m->col;
    if (ynode_check_keys(d, m, stage_keys) < 0 ||
        read_stage_rules(d, m, p, si, "freeze") < 0 ||
        read_stage_rules(d, m, p, si, "unfreeze") < 0 ||
        read_length(d, m, "steps", &p->stages[si].steps) < 0 ||
        read_length(d, m, "epochs", &p->stages[si].epochs) < 0 ||
        (lr && read_positive(d, lr, "a stage's 'lr'", &p->stages[si].lr) < 0))
        return -1;
    s = &p->stages[si];
    if (s->steps != PLAN_UNSET && s->epochs != PLAN_UNSET)
        return ynode_error(d, ynode_get(m, "epochs"), "stage %zu has both "
                           "'steps' and 'epochs' (give one)", si);
    if (si == 0 && (s->nrules || lr))
        return ynode_error(d, m, "stage 0 is the plan's own frozen set: it "
                           "takes no freeze, unfreeze or lr (only its length)");
    if (si > 0 && !s->nrules)
        return ynode_error(d, m, "stage %zu changes nothing (give it "
                           "'freeze:' or 'unfreeze:' rules)", si);
    return 0;
}

/* The lengths: one unit, only the last may be left out, no overflow, and
 * every stage inside the run when train.max_steps / train.epochs says
 * where it ends. */
static int check_lengths(const yamldoc *d, const ynode *seq, const plan *p)
{
    int epochs = -1;
    uint64_t start = 0;
    for (size_t i = 0; i < p->nstages; i++) {
        const plan_stage *s = &p->stages[i];
        const ynode *m = seq->items[i];
        uint64_t len = s->steps != PLAN_UNSET ? s->steps : s->epochs;
        int e = s->epochs != PLAN_UNSET;
        if (len == PLAN_UNSET) {
            if (i + 1 < p->nstages)
                return ynode_error(d, m, "stage %zu needs 'steps:' or "
                                   "'epochs:' (only the last stage may run "
                                   "to the end)", i);
            break;
        }
        if (epochs >= 0 && e != epochs)
            return ynode_error(d, m, "stage %zu counts in %s but stage 0 in "
                               "%s (all stages use one unit)", i,
                               e ? "epochs" : "steps",
                               epochs ? "epochs" : "steps");
        epochs = e;
        uint64_t end = p->train.present ? (e ? p->train.epochs
                                             : p->train.max_steps)
                                        : PLAN_UNSET;
        if (len > UINT64_MAX - 1 - start)
            return ynode_error(d, m, "stage %zu ends past 2^64 %s", i,
                               e ? "epochs" : "steps");
        if (end != PLAN_UNSET && (start >= end || start + len > end))
            return ynode_error(d, m, "stage %zu %s at %s %llu, past the run's "
                               "end (train.%s: %llu)", i,
                               start >= end ? "starts" : "ends",
                               e ? "epoch" : "step",
                               (unsigned long long)(start >= end ? start
                                                    : start + len),
                               e ? "epochs" : "max_steps",
                               (unsigned long long)end);
        start += len;
    }
    if (p->nstages && p->stages[p->nstages - 1].steps == PLAN_UNSET &&
        p->stages[p->nstages - 1].epochs == PLAN_UNSET && p->train.present) {
        uint64_t end = epochs ? p->train.epochs : p->train.max_steps;
        if (end != PLAN_UNSET && start >= end)
            return ynode_error(d, seq->items[p->nstages - 1], "stage %zu "
                               "starts at %s %llu, past the run's end "
                               "(train.%s: %llu)", p->nstages - 1,
                               epochs ? "epoch" : "step",
                               (unsigned long long)start,
                               epochs ? "epochs" : "max_steps",
                               (unsigned long long)end);
    }
    return 0;
}

static int read_stage_list(const yamldoc *d, const ynode *root, plan *p)
{
    const ynode *s = ynode_get(root, "stages");
    if (!s)
        return 0;
    if (s->type != YNODE_SEQ)
        return ynode_error(d, s, "expected a list of stages for 'stages'");
    if (s->n < 2)
        return ynode_error(d, s, "'stages' needs at least two stages (stage 0 "
                           "is the plan's own frozen set; leave the key out "
                           "for an unstaged plan)");
    if (s->n > PLAN_MAX_STAGES)
        return ynode_error(d, s, "more than %d stages", PLAN_MAX_STAGES);
    for (size_t i = 0; i < s->n; i++)
        if (read_stage(d, s->items[i], p, i) < 0)
            return -1;
    return check_lengths(d, s, p);
}

static int read_lr_scale(const yamldoc *d, const ynode *root, plan *p)
{
    const ynode *s = ynode_get(root, "lr_scale");
    if (!s)
        return 0;
    if (s->type != YNODE_SEQ || s->n == 0)
        return ynode_error(d, s, "expected a non-empty list of {PATTERN: "
                           "SCALE} for 'lr_scale'");
    for (size_t i = 0; i < s->n; i++) {
        const ynode *it = s->items[i];
        const char *pat;
        double v;
        if (it->type != YNODE_MAP || it->n != 2)
            return ynode_error(d, it, "expected a one-key mapping {PATTERN: "
                               "SCALE} for an 'lr_scale' item");
        if (read_pattern(d, it->items[0], "lr_scale", &pat) < 0 ||
            read_positive(d, it->items[1], "an lr_scale", &v) < 0)
            return -1;
        if (plan_add_lr_scale(p, pat, v) < 0)
            return at_node(d, it->items[0]);
        p->lr_scale[i].line = it->line;
        p->lr_scale[i].col = it->col;
    }
    return 0;
}

static int read_decay(const yamldoc *d, const ynode *root, plan *p)
{
    const ynode *m = ynode_get(root, "layer_decay"), *f;
    const ynode *s = ynode_get(root, "no_decay");
    double v;
    if (m) {
        if (m->type != YNODE_MAP)
            return ynode_error(d, m, "expected {factor: F} for "
                               "'layer_decay'");
        if (ynode_check_keys(d, m, decay_keys) < 0)
            return -1;
        if (!(f = ynode_get(m, "factor")))
            return ynode_error(d, m, "missing required key 'factor' in "
                               "'layer_decay'");
        if (f->type != YNODE_SCALAR || ynode_double(d, f, &v) < 0 ||
            !(v > 0 && v <= 1))
            return ynode_error(d, f, "'factor' must be a number in (0, 1], "
                               "not '%.40s'",
                               f->type == YNODE_SCALAR ? f->str
                                                       : "(a collection)");
        p->layer_decay = v;
        p->layer_decay_line = m->line;
        p->layer_decay_col = m->col;
    }
    if (!s)
        return 0;
    if (s->type == YNODE_SEQ && s->n == 0)
        return ynode_error(d, s, "empty list for 'no_decay' (leave the key "
                           "out instead)");
    size_t n = s->type == YNODE_SEQ ? s->n : 1;
    for (size_t i = 0; i < n; i++) {
        const ynode *it = s->type == YNODE_SEQ ? s->items[i] : s;
        const char *pat;
        if (read_pattern(d, it, "no_decay", &pat) < 0)
            return -1;
        if (plan_add_no_decay(p, pat) < 0)
            return at_node(d, it);
        p->no_decay[i].line = it->line;
        p->no_decay[i].col = it->col;
    }
    return 0;
}

int plan_read_stages(const yamldoc *d, const ynode *root, plan *p)
{
    if (read_stage_list(d, root, p) < 0 || read_lr_scale(d, root, p) < 0 ||
        read_decay(d, root, p) < 0)
        return -1;
    return 0;
}

/* --- the writer's check ---------------------------------------------------- */

int plan_check_stages(const plan *p)
{
    int epochs = -1;
    uint64_t start = 0;
    if (p->nstages == 1 || p->nstages > PLAN_MAX_STAGES)
        return err_set("plan: 'stages' needs 2 to %d stages, not %zu",
                       PLAN_MAX_STAGES, p->nstages);
    for (size_t i = 0; i < p->nstages; i++) {
        const plan_stage *s = &p->stages[i];
        uint64_t len = s->steps != PLAN_UNSET ? s->steps : s->epochs;
        int e = s->epochs != PLAN_UNSET;
        if (s->steps != PLAN_UNSET && s->epochs != PLAN_UNSET)
            return err_set("plan: stage %zu has both steps and epochs", i);
        if (len == 0)
            return err_set("plan: stage %zu has length 0", i);
        if (len == PLAN_UNSET && i + 1 < p->nstages)
            return err_set("plan: stage %zu has no length (only the last "
                           "stage may run to the end)", i);
        if (len != PLAN_UNSET && epochs >= 0 && e != epochs)
            return err_set("plan: stage %zu counts in another unit than "
                           "stage 0", i);
        if (len != PLAN_UNSET && len > UINT64_MAX - 1 - start)
            return err_set("plan: stage %zu ends past 2^64", i);
        if (len != PLAN_UNSET) {
            epochs = e;
            start += len;
        }
        if (i == 0 && (s->nrules || plan_has_number(s->lr)))
            return err_set("plan: stage 0 takes no rules and no lr");
        if (i > 0 && !s->nrules)
            return err_set("plan: stage %zu changes nothing (no rules)", i);
        if (plan_has_number(s->lr) && !(isfinite(s->lr) && s->lr > 0))
            return err_set("plan: stage %zu: lr must be a finite number > 0",
                           i);
        for (size_t j = 0; j < s->nrules; j++)
            if (s->rules[j].kind == PLAN_INVERT ||
                (j && s->rules[j].kind == PLAN_FREEZE &&
                 s->rules[j - 1].kind != PLAN_FREEZE) ||
                pattern_ok(s->rules[j].pattern) < 0)
                return err_set("plan: stage %zu rule %zu: %s", i, j + 1,
                               s->rules[j].kind == PLAN_INVERT
                                   ? "invert is not a stage rule"
                                   : "a bad pattern or out of order");
    }
    for (size_t i = 0; i < p->nlr_scale; i++)
        if (!(isfinite(p->lr_scale[i].scale) && p->lr_scale[i].scale > 0) ||
            pattern_ok(p->lr_scale[i].pattern) < 0)
            return err_set("plan: lr_scale item %zu: a bad pattern or a scale "
                           "that is not a finite number > 0", i + 1);
    if (plan_has_number(p->layer_decay) &&
        !(p->layer_decay > 0 && p->layer_decay <= 1))
        return err_set("plan: layer_decay.factor must be in (0, 1]");
    for (size_t i = 0; i < p->nno_decay; i++)
        if (pattern_ok(p->no_decay[i].pattern) < 0)
            return err_set("plan: no_decay item %zu: a bad pattern", i + 1);
    return 0;
}
