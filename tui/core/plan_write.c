/* plan_write.c: validating and writing plans, and the plan's paths (see
 * plan.h).
 *
 * The writer drives libyaml's emitter event by event: block mappings,
 * flow style for the small number maps, no line folding (width -1), and
 * a scalar style chosen from the string alone, so the output depends on
 * the plan only and save -> load -> save is byte-identical.
 */
#include "plan.h"

#include "atomic.h"
#include "err.h"
#include "plan_activation.h"
#include "plan_stages.h"
#include "utf8.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define PLAN_HEADER "# tui freeze plan, version 1 (docs/plan-format.md)\n"

/* --- validation ---------------------------------------------------------- */

static int check_str(const char *what, const char *s)
{
    if (s && !utf8_valid((const unsigned char *)s, strlen(s), NULL))
        return err_set("plan: %s is not valid UTF-8", what);
    if (s && !*s)
        return err_set("plan: %s is empty", what);
    return 0;
}

static int check_choice(const char *field, const char *s)
{
    if (check_str(field, s) < 0)
        return -1;
    if (s && !plan_choice_ok(field, s))
        return err_set("plan: '%s' is not a valid value for %s", s, field);
    return 0;
}

static int check_num(const char *what, double v)
{
    if (plan_has_number(v) && !isfinite(v))
        return err_set("plan: %s is not a finite number", what);
    return 0;
}

static int validate_train(const plan_train *t)
{
    if (check_str("train.model", t->model) < 0 ||
        check_str("train.init", t->init) < 0 ||
        check_str("train.data.train", t->data.train) < 0 ||
        check_str("train.data.val", t->data.val) < 0 ||
        check_str("train.data.inputs", t->data.inputs) < 0 ||
        check_str("train.data.targets", t->data.targets) < 0 ||
        check_str("train.output", t->output) < 0 ||
        check_choice("train.loss", t->loss) < 0 ||
        check_choice("train.optimizer.name", t->optimizer.name) < 0 ||
        check_choice("train.schedule.name", t->schedule.name) < 0 ||
        check_choice("train.device", t->device) < 0 ||
        check_choice("train.precision", t->precision) < 0 ||
        check_choice("train.input_dtype", t->input_dtype) < 0 ||
        check_num("train.data.val_fraction", t->data.val_fraction) < 0 ||
        check_num("train.optimizer.lr", t->optimizer.lr) < 0 ||
        check_num("train.optimizer.weight_decay", t->optimizer.weight_decay) < 0 ||
        check_num("train.optimizer.momentum", t->optimizer.momentum) < 0 ||
        check_num("train.optimizer.eps", t->optimizer.eps) < 0 ||
        check_num("train.optimizer.betas", t->optimizer.betas[0]) < 0 ||
        check_num("train.optimizer.betas", t->optimizer.betas[1]) < 0 ||
        check_num("train.clip_grad_norm", t->clip_grad_norm) < 0 ||
        check_num("train.dist_timeout", t->dist_timeout) < 0)
        return -1;
    double vf = t->data.val_fraction;
    if (plan_has_number(vf) && !(vf >= 0 && vf < 1))
        return err_set("plan: train.data.val_fraction must be in [0, 1)");
    if (plan_has_number(t->optimizer.betas[0]) !=
        plan_has_number(t->optimizer.betas[1]))
        return err_set("plan: train.optimizer.betas needs two numbers");
    if (t->input_ndim > PLAN_MAX_INPUT_DIMS || (t->input_dtype && !t->input_ndim))
        return err_set("plan: train.input_shape has more than %d sizes, or "
                       "input_dtype is set without it", PLAN_MAX_INPUT_DIMS);
    for (unsigned i = 0; i < t->input_ndim; i++)
        if (t->input_shape[i] < 1 || t->input_shape[i] > (1ull << 31))
            return err_set("plan: train.input_shape sizes must be in 1..2^31");
    return 0;
}

int plan_validate(const plan *p)
{
    const char *f = p->model.fingerprint;
    if (p->version != PLAN_VERSION)
        return err_set("plan: version %u is not supported (this tui writes "
                       "version %d)", p->version, PLAN_VERSION);
    if (!p->model.path)
        return err_set("plan: model.path is missing");
    int ok = !f || (strncmp(f, "sha256:", 7) == 0 && strlen(f) == 71);
    for (size_t i = 7; f && ok && i < 71; i++)
        ok = (f[i] >= '0' && f[i] <= '9') || (f[i] >= 'a' && f[i] <= 'f');
    if (!ok)
        return err_set("plan: model.fingerprint is not 'sha256:' and 64 "
                       "lower-case hex digits");
    if (!p->has_rules && !p->has_frozen)
        return err_set("plan: a plan needs rules or a frozen list");
    if (check_str("model.path", p->model.path) < 0 ||
        check_str("model.format", p->model.format) < 0 ||
        check_str("estimate.optimizer", p->estimate.optimizer) < 0 ||
        check_str("estimate.precision", p->estimate.precision) < 0 ||
        plan_check_activations(p->estimate.activations) < 0 ||
        plan_check_stages(p) < 0)
        return -1;
    for (size_t i = 0; i < p->nrules; i++)
        if (p->rules[i].kind != PLAN_INVERT &&
            (!p->rules[i].pattern ||
             check_str("a rule's pattern", p->rules[i].pattern) < 0))
            return err_set("plan: rule %zu: the pattern is missing, empty or "
                           "not valid UTF-8", i + 1);
    for (size_t i = 0; i < p->nfrozen; i++)
        if (!p->frozen[i] || check_str("a frozen name", p->frozen[i]) < 0)
            return err_set("plan: frozen name %zu is empty or not valid "
                           "UTF-8", i + 1);
    if (p->batchnorm != PLAN_BN_UNSET && p->batchnorm != PLAN_BN_FREEZE_STATS &&
        p->batchnorm != PLAN_BN_TRAIN)
        return err_set("plan: batchnorm has an unknown value");
    return p->train.present ? validate_train(&p->train) : 0;
}

/* --- the emitter --------------------------------------------------------- */

typedef struct {
    yaml_emitter_t em;
    char *buf;
    size_t len, cap;
    int oom;
} writer;

static int out_handler(void *data, unsigned char *bytes, size_t size)
{
    writer *w = data;
    if (size > SIZE_MAX - w->len - 1) {
        w->oom = 1;
        return 0;
    }
    if (w->len + size + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + size + 1)
            cap = cap > SIZE_MAX / 2 ? w->len + size + 1 : cap * 2;
        char *b = realloc(w->buf, cap);
        if (!b) {
            w->oom = 1;
            return 0;
        }
        w->buf = b;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, bytes, size);
    w->len += size;
    w->buf[w->len] = '\0';
    return 1;
}

/* Emits an initialized event (the emitter owns it from here). */
static int emit(writer *w, yaml_event_t *ev, int init_ok)
{
    if (!init_ok)
        return err_set("plan: cannot make a YAML event (invalid UTF-8?)");
    if (!yaml_emitter_emit(&w->em, ev))
        return err_set("plan: %s", w->oom ? "out of memory"
                       : w->em.problem ? w->em.problem : "cannot emit YAML");
    return 0;
}

static int lower_is(const char *s, const char *word)
{
    for (; *s && *word; s++, word++)
        if ((*s >= 'A' && *s <= 'Z' ? *s + 32 : *s) != *word)
            return 0;
    return !*s && !*word;
}

/* 1 when a plain scalar `s` could read as something other than this
 * string (a number, bool, null) in YAML 1.1 or 1.2, or holds characters
 * that plain or single-quoted style would not carry unchanged. */
static int needs_double_quotes(const char *s)
{
    static const char *const words[] = {"null", "~", "true", "false", "yes",
                                        "no", "on", "off", "y", "n", ".inf",
                                        "-.inf", "+.inf", ".nan", "=", "<<",
                                        NULL};
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    int digit = 0, numberish = 1;
    if (n == 0 || s[0] == ' ' || s[n - 1] == ' ')
        return 1;
    for (size_t i = 0; words[i]; i++)
        if (lower_is(s, words[i]))
            return 1;
    for (size_t i = 0; i < n; i++) {
        if (u[i] < 0x20 || u[i] == 0x7F)
            return 1;
        if (u[i] == 0xC2 && u[i + 1] == 0x85) /* NEL */
            return 1;
        if (u[i] == 0xE2 && u[i + 1] == 0x80 &&
            (u[i + 2] == 0xA8 || u[i + 2] == 0xA9)) /* LS, PS */
            return 1;
        if (u[i] == 0xEF && u[i + 1] == 0xBB && u[i + 2] == 0xBF) /* BOM */
            return 1;
        if (u[i] >= '0' && u[i] <= '9')
            digit = 1;
        else if (!strchr("+-._:eE", u[i]))
            numberish = 0;
    }
    /* a YAML 1.1 timestamp starts YYYY-M-D (2001-12-14t21:59:43.10-05:00,
     * 2001-12-14 21:59:43.10): quote anything that starts so */
    size_t k = 0;
    while (k < 4 && u[k] >= '0' && u[k] <= '9')
        k++;
    if (k == 4 && u[4] == '-' && u[5] >= '0' && u[5] <= '9') {
        size_t m = 6 + (u[6] >= '0' && u[6] <= '9');
        if (u[m] == '-' && u[m + 1] >= '0' && u[m + 1] <= '9')
            return 1;
    }
    /* 0x1F, 0o17, 0b101 (after a sign) */
    const char *q = s + (s[0] == '+' || s[0] == '-');
    if (q[0] == '0' && q[1] && strchr("xXoObB", q[1]))
        return 1;
    return digit && numberish;
}

static int emit_scalar(writer *w, const char *s, yaml_scalar_style_t style)
{
    yaml_event_t ev;
    if (!utf8_valid((const unsigned char *)s, strlen(s), NULL))
        return err_set("plan: '%.60s' is not valid UTF-8", s);
    return emit(w, &ev, yaml_scalar_event_initialize(&ev, NULL, NULL,
                (yaml_char_t *)s, -1, 1, 1, style));
}

static int emit_str(writer *w, const char *s)
{
    return emit_scalar(w, s, needs_double_quotes(s)
                                 ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
                                 : YAML_ANY_SCALAR_STYLE);
}

static int emit_u64(writer *w, uint64_t v)
{
    char num[24];
    snprintf(num, sizeof num, "%" PRIu64, v);
    return emit_scalar(w, num, YAML_PLAIN_SCALAR_STYLE);
}

void plan_double_text(double v, char *out, size_t cap)
{
    char num[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(num, sizeof num, "%.*g", prec, v);
        if (strtod(num, NULL) == v)
            break;
    }
    char *e = strchr(num, 'e');
    if (strchr(num, '.'))
        snprintf(out, cap, "%s", num);
    else if (e)
        snprintf(out, cap, "%.*s.0%s", (int)(e - num), num, e);
    else
        snprintf(out, cap, "%s.0", num);
}

static int emit_double(writer *w, double v)
{
    char out[48];
    plan_double_text(v, out, sizeof out);
    return emit_scalar(w, out, YAML_PLAIN_SCALAR_STYLE);
}

static int emit_map(writer *w, int flow)
{
    yaml_event_t ev;
    return emit(w, &ev, yaml_mapping_start_event_initialize(&ev, NULL, NULL,
                1, flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE));
}

static int emit_seq(writer *w, int flow)
{
    yaml_event_t ev;
    return emit(w, &ev, yaml_sequence_start_event_initialize(&ev, NULL, NULL,
                1, flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE));
}

static int emit_end(writer *w, int map)
{
    yaml_event_t ev;
    if (map)
        return emit(w, &ev, yaml_mapping_end_event_initialize(&ev));
    return emit(w, &ev, yaml_sequence_end_event_initialize(&ev));
}

/* key: value pairs that are skipped when the value is absent */
static int kv_str(writer *w, const char *k, const char *v)
{
    if (!v)
        return 0;
    return emit_scalar(w, k, YAML_PLAIN_SCALAR_STYLE) < 0 ? -1 : emit_str(w, v);
}

static int kv_u64(writer *w, const char *k, uint64_t v)
{
    if (v == PLAN_UNSET)
        return 0;
    return emit_scalar(w, k, YAML_PLAIN_SCALAR_STYLE) < 0 ? -1 : emit_u64(w, v);
}

static int kv_double(writer *w, const char *k, double v)
{
    if (!plan_has_number(v))
        return 0;
    return emit_scalar(w, k, YAML_PLAIN_SCALAR_STYLE) < 0 ? -1
                                                          : emit_double(w, v);
}

static int key(writer *w, const char *k)
{
    return emit_scalar(w, k, YAML_PLAIN_SCALAR_STYLE);
}

static int emit_model(writer *w, const plan_model *m)
{
    if (key(w, "model") < 0 || emit_map(w, 0) < 0 ||
        kv_str(w, "path", m->path) < 0 || kv_str(w, "format", m->format) < 0 ||
        kv_str(w, "fingerprint", m->fingerprint) < 0 ||
        kv_u64(w, "tensors", m->tensors) < 0 ||
        kv_u64(w, "parameters", m->parameters) < 0)
        return -1;
    return emit_end(w, 1);
}

static int emit_lists(writer *w, const plan *p)
{
    static const char *const kinds[] = {"freeze", "unfreeze", "invert"};
    if (p->has_rules) {
        if (key(w, "rules") < 0 || emit_seq(w, 0) < 0)
            return -1;
        for (size_t i = 0; i < p->nrules; i++) {
            const plan_rule *r = &p->rules[i];
            if (emit_map(w, 0) < 0 || key(w, kinds[r->kind]) < 0)
                return -1;
            if (r->kind == PLAN_INVERT ? key(w, "true") < 0
                : emit_scalar(w, r->pattern,
                              YAML_DOUBLE_QUOTED_SCALAR_STYLE) < 0)
                return -1;
            if (emit_end(w, 1) < 0)
                return -1;
        }
        if (emit_end(w, 0) < 0)
            return -1;
    }
    if (p->has_frozen) {
        if (key(w, "frozen") < 0 || emit_seq(w, 0) < 0)
            return -1;
        for (size_t i = 0; i < p->nfrozen; i++)
            if (emit_str(w, p->frozen[i]) < 0)
                return -1;
        if (emit_end(w, 0) < 0)
            return -1;
    }
    return 0;
}

/* estimate.activations: a block mapping, per_module a list of flow maps
 * (the order plan_activation.c reads). */
static int emit_activations(writer *w, const activation *a)
{
    if (!a)
        return 0;
    if (key(w, "activations") < 0 || emit_map(w, 0) < 0 ||
        key(w, "batch") < 0 || emit_u64(w, a->batch) < 0 ||
        key(w, "activation_bytes") < 0 || emit_u64(w, a->activation_bytes) < 0 ||
        key(w, "peak_bytes") < 0 || emit_u64(w, a->peak_bytes) < 0 ||
        kv_str(w, "device", a->device) < 0 ||
        kv_str(w, "libtorch", a->libtorch) < 0 ||
        (a->nmodules && (key(w, "per_module") < 0 || emit_seq(w, 0) < 0)))
        return -1;
    for (size_t i = 0; i < a->nmodules; i++)
        if (emit_map(w, 1) < 0 || kv_str(w, "module", a->modules[i].module) < 0 ||
            key(w, "bytes") < 0 || emit_u64(w, a->modules[i].bytes) < 0 ||
            emit_end(w, 1) < 0)
            return -1;
    if (a->nmodules && emit_end(w, 0) < 0)
        return -1;
    return emit_end(w, 1);
}

static int emit_estimate(writer *w, const plan_estimate *e)
{
    const plan_bytes *b = &e->bytes;
    int any_bytes = b->weights != PLAN_UNSET || b->master != PLAN_UNSET ||
                    b->gradients != PLAN_UNSET || b->optimizer != PLAN_UNSET ||
                    b->buffers != PLAN_UNSET || b->total != PLAN_UNSET ||
                    b->total_if_all_trainable != PLAN_UNSET;
    if (!e->optimizer && !e->precision &&
        e->trainable_parameters == PLAN_UNSET && !any_bytes &&
        !e->activations)
        return 0;
    if (key(w, "estimate") < 0 || emit_map(w, 0) < 0 ||
        kv_str(w, "optimizer", e->optimizer) < 0 ||
        kv_str(w, "precision", e->precision) < 0 ||
        kv_u64(w, "trainable_parameters", e->trainable_parameters) < 0)
        return -1;
    if (any_bytes &&
        (key(w, "bytes") < 0 || emit_map(w, 1) < 0 ||
         kv_u64(w, "weights", b->weights) < 0 ||
         kv_u64(w, "master", b->master) < 0 ||
         kv_u64(w, "gradients", b->gradients) < 0 ||
         kv_u64(w, "optimizer", b->optimizer) < 0 ||
         kv_u64(w, "buffers", b->buffers) < 0 ||
         kv_u64(w, "total", b->total) < 0 ||
         kv_u64(w, "total_if_all_trainable", b->total_if_all_trainable) < 0 ||
         emit_end(w, 1) < 0))
        return -1;
    if (emit_activations(w, e->activations) < 0)
        return -1;
    return emit_end(w, 1);
}

static int emit_train_parts(writer *w, const plan_train *t)
{
    if ((t->data.train || t->data.val || t->data.inputs || t->data.targets ||
         plan_has_number(t->data.val_fraction)) &&
        (key(w, "data") < 0 || emit_map(w, 1) < 0 ||
         kv_str(w, "train", t->data.train) < 0 ||
         kv_str(w, "val", t->data.val) < 0 ||
         kv_str(w, "inputs", t->data.inputs) < 0 ||
         kv_str(w, "targets", t->data.targets) < 0 ||
         kv_double(w, "val_fraction", t->data.val_fraction) < 0 ||
         emit_end(w, 1) < 0))
        return -1;
    if (t->input_ndim && (key(w, "input_shape") < 0 || emit_seq(w, 1) < 0))
        return -1;
    for (unsigned i = 0; i < t->input_ndim; i++)
        if (emit_u64(w, t->input_shape[i]) < 0)
            return -1;
    if ((t->input_ndim && emit_end(w, 0) < 0) ||
        kv_str(w, "input_dtype", t->input_dtype) < 0 ||
        kv_str(w, "loss", t->loss) < 0)
        return -1;
    int any_opt = t->optimizer.name != NULL ||
                  plan_has_number(t->optimizer.lr) ||
                  plan_has_number(t->optimizer.weight_decay) ||
                  plan_has_number(t->optimizer.momentum) ||
                  plan_has_number(t->optimizer.betas[0]) ||
                  plan_has_number(t->optimizer.eps);
    if (any_opt &&
        (key(w, "optimizer") < 0 || emit_map(w, 1) < 0 ||
         kv_str(w, "name", t->optimizer.name) < 0 ||
         kv_double(w, "lr", t->optimizer.lr) < 0 ||
         kv_double(w, "weight_decay", t->optimizer.weight_decay) < 0 ||
         kv_double(w, "momentum", t->optimizer.momentum) < 0))
        return -1;
    if (any_opt && plan_has_number(t->optimizer.betas[0]) &&
        (key(w, "betas") < 0 || emit_seq(w, 1) < 0 ||
         emit_double(w, t->optimizer.betas[0]) < 0 ||
         emit_double(w, t->optimizer.betas[1]) < 0 || emit_end(w, 0) < 0))
        return -1;
    if (any_opt && (kv_double(w, "eps", t->optimizer.eps) < 0 ||
                    emit_end(w, 1) < 0))
        return -1;
    if ((t->schedule.name || t->schedule.warmup_steps != PLAN_UNSET) &&
        (key(w, "schedule") < 0 || emit_map(w, 1) < 0 ||
         kv_str(w, "name", t->schedule.name) < 0 ||
         kv_u64(w, "warmup_steps", t->schedule.warmup_steps) < 0 ||
         emit_end(w, 1) < 0))
        return -1;
    return 0;
}

static int emit_train(writer *w, const plan_train *t)
{
    if (!t->present)
        return 0;
    if (key(w, "train") < 0 || emit_map(w, 0) < 0 ||
        kv_str(w, "model", t->model) < 0 || kv_str(w, "init", t->init) < 0 ||
        emit_train_parts(w, t) < 0 ||
        kv_double(w, "clip_grad_norm", t->clip_grad_norm) < 0 ||
        kv_u64(w, "batch_size", t->batch_size) < 0 ||
        kv_u64(w, "epochs", t->epochs) < 0 ||
        kv_u64(w, "max_steps", t->max_steps) < 0 ||
        kv_str(w, "device", t->device) < 0 ||
        kv_str(w, "precision", t->precision) < 0 ||
        kv_u64(w, "seed", t->seed) < 0 || kv_str(w, "output", t->output) < 0 ||
        kv_u64(w, "checkpoint_every", t->checkpoint_every) < 0 ||
        kv_u64(w, "log_every", t->log_every) < 0 ||
        kv_double(w, "dist_timeout", t->dist_timeout) < 0 ||
        kv_u64(w, "world_size", t->world_size) < 0)
        return -1;
    return emit_end(w, 1);
}

/* A flow list of double-quoted patterns under `k` (skipped when n is 0). */
static int emit_patterns(writer *w, const char *k, const plan_rule *r,
                         size_t n, plan_rule_kind kind)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += r[i].kind == kind;
    if (!count)
        return 0;
    if (key(w, k) < 0 || emit_seq(w, 1) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (r[i].kind == kind &&
            emit_scalar(w, r[i].pattern, YAML_DOUBLE_QUOTED_SCALAR_STYLE) < 0)
            return -1;
    return emit_end(w, 0);
}

/* stages: (a block map each: freeze, unfreeze, steps or epochs, lr),
 * lr_scale: (flow maps), layer_decay: {factor}, no_decay: (a flow list),
 * in the order plan_stages.c documents. */
static int emit_stages(writer *w, const plan *p)
{
    if (p->nstages && (key(w, "stages") < 0 || emit_seq(w, 0) < 0))
        return -1;
    for (size_t i = 0; i < p->nstages; i++) {
        const plan_stage *s = &p->stages[i];
        if (emit_map(w, s->nrules == 0 && s->steps == PLAN_UNSET &&
                        s->epochs == PLAN_UNSET) < 0 ||
            emit_patterns(w, "freeze", s->rules, s->nrules, PLAN_FREEZE) < 0 ||
            emit_patterns(w, "unfreeze", s->rules, s->nrules,
                          PLAN_UNFREEZE) < 0 ||
            kv_u64(w, "steps", s->steps) < 0 ||
            kv_u64(w, "epochs", s->epochs) < 0 ||
            kv_double(w, "lr", s->lr) < 0 || emit_end(w, 1) < 0)
            return -1;
    }
    if ((p->nstages && emit_end(w, 0) < 0) ||
        (p->nlr_scale && (key(w, "lr_scale") < 0 || emit_seq(w, 0) < 0)))
        return -1;
    for (size_t i = 0; i < p->nlr_scale; i++)
        if (emit_map(w, 1) < 0 ||
            emit_scalar(w, p->lr_scale[i].pattern,
                        YAML_DOUBLE_QUOTED_SCALAR_STYLE) < 0 ||
            emit_double(w, p->lr_scale[i].scale) < 0 || emit_end(w, 1) < 0)
            return -1;
    if ((p->nlr_scale && emit_end(w, 0) < 0) ||
        (plan_has_number(p->layer_decay) &&
         (key(w, "layer_decay") < 0 || emit_map(w, 1) < 0 ||
          kv_double(w, "factor", p->layer_decay) < 0 || emit_end(w, 1) < 0)) ||
        (p->nno_decay && (key(w, "no_decay") < 0 || emit_seq(w, 1) < 0)))
        return -1;
    for (size_t i = 0; i < p->nno_decay; i++)
        if (emit_scalar(w, p->no_decay[i].pattern,
                        YAML_DOUBLE_QUOTED_SCALAR_STYLE) < 0)
            return -1;
    return p->nno_decay ? emit_end(w, 0) : 0;
}

static int emit_plan(writer *w, const plan *p)
{
    yaml_event_t ev;
    static const char *const bn[] = {NULL, "freeze-stats", "train"};
    if (emit(w, &ev, yaml_stream_start_event_initialize(&ev,
                     YAML_UTF8_ENCODING)) < 0 ||
        emit(w, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL,
                     NULL, 1)) < 0 ||
        emit_map(w, 0) < 0 || kv_u64(w, "version", p->version) < 0 ||
        emit_model(w, &p->model) < 0 || emit_lists(w, p) < 0 ||
        emit_estimate(w, &p->estimate) < 0 ||
        kv_str(w, "batchnorm", bn[p->batchnorm]) < 0 ||
        emit_stages(w, p) < 0 || emit_train(w, &p->train) < 0 || emit_end(w, 1) < 0 ||
        emit(w, &ev, yaml_document_end_event_initialize(&ev, 1)) < 0 ||
        emit(w, &ev, yaml_stream_end_event_initialize(&ev)) < 0)
        return -1;
    if (!yaml_emitter_flush(&w->em))
        return err_set("plan: %s", w->oom ? "out of memory"
                                          : "cannot flush YAML");
    return 0;
}

int plan_format(const plan *p, char **buf, size_t *len)
{
    writer w;
    int rc = -1, em_ok = 0;
    memset(&w, 0, sizeof w);
    *buf = NULL;
    *len = 0;
    if (plan_validate(p) < 0)
        goto cleanup;
    if (!yaml_emitter_initialize(&w.em)) {
        err_set("plan: out of memory");
        goto cleanup;
    }
    em_ok = 1;
    yaml_emitter_set_output(&w.em, out_handler, &w);
    yaml_emitter_set_unicode(&w.em, 1);
    yaml_emitter_set_width(&w.em, -1);
    yaml_emitter_set_indent(&w.em, 2);
    yaml_emitter_set_break(&w.em, YAML_LN_BREAK);
    if (!out_handler(&w, (unsigned char *)PLAN_HEADER, strlen(PLAN_HEADER))) {
        err_set("plan: out of memory");
        goto cleanup;
    }
    if (emit_plan(&w, p) < 0)
        goto cleanup;
    rc = 0;
cleanup:
    if (em_ok)
        yaml_emitter_delete(&w.em);
    if (rc < 0) {
        free(w.buf);
        return -1;
    }
    *buf = w.buf;
    *len = w.len;
    return 0;
}

int plan_write(const plan *p, const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = -1;
    if (plan_format(p, &buf, &len) < 0) {
        err_prefix("%s", path);
        goto cleanup;
    }
    if (atomic_write(path, buf, len) < 0)
        goto cleanup;
    rc = 0;
cleanup:
    free(buf);
    return rc;
}
