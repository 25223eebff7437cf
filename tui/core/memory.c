/* memory.c: the training-memory estimate (see memory.h, docs/memory.md). */
#include "memory.h"

#include "human.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* bitsandbytes Optimizer2State.init_state: tensors below min_8bit_size
 * keep fp32 state; block-wise absmax over blocks of 256 elements. */
#define ADAM8BIT_MIN_SIZE 4096u
#define ADAM8BIT_BLOCK 256u

static const char *const opt_names[MEM_OPT_COUNT] = {
    "sgd", "momentum", "adam", "adamw", "adafactor", "adam8bit",
};

static const char *const prec_names[MEM_PREC_COUNT] = {
    "fp32", "amp", "bf16", "pure-bf16",
};

/* A u64 accumulator whose overflow is sticky, so that one check at the
 * end covers a whole sum. */
typedef struct {
    uint64_t v;
    int overflow;
} acc64;

static void acc_add(acc64 *a, uint64_t x)
{
    if (__builtin_add_overflow(a->v, x, &a->v))
        a->overflow = 1;
}

/* Adds x * k. */
static void acc_addmul(acc64 *a, uint64_t x, uint64_t k)
{
    uint64_t p;
    if (__builtin_mul_overflow(x, k, &p))
        a->overflow = 1;
    else
        acc_add(a, p);
}

/* The trainable sums of one side (before or after). */
typedef struct {
    acc64 numel, tensors, optimizer, bookkeeping;
} side_sums;

/* Adds the optimizer state of one trainable tensor of shape
 * shape[ndim] (numel n) to s. */
static void add_optimizer_state(side_sums *s, mem_optimizer opt,
                                mem_precision prec, unsigned ndim,
                                const uint64_t *shape, uint64_t n)
{
    int pure = prec == MEM_PURE_BF16;
    switch (opt) {
    case MEM_SGD:
        break;
    case MEM_MOMENTUM:
        acc_addmul(&s->optimizer, n, pure ? 2 : 4);
        break;
    case MEM_ADAM:
    case MEM_ADAMW:
        acc_addmul(&s->optimizer, n, pure ? 4 : 8);
        acc_add(&s->optimizer, 4); /* float32 `step` tensor */
        acc_add(&s->bookkeeping, 4);
        break;
    case MEM_ADAFACTOR:
        if (ndim >= 2) {
            /* exp_avg_sq_row: shape[:-1]; exp_avg_sq_col:
             * shape[:-2] + shape[-1:]; fp32 */
            uint64_t lead = 1, row = 0, col = 0;
            int ovf = 0;
            /* checked: a zero dimension lets the others be huge */
            for (unsigned d = 0; d + 2 < ndim; d++)
                ovf |= __builtin_mul_overflow(lead, shape[d], &lead);
            ovf |= __builtin_mul_overflow(lead, shape[ndim - 2], &row);
            ovf |= __builtin_mul_overflow(lead, shape[ndim - 1], &col);
            if (ovf)
                s->optimizer.overflow = 1;
            acc_addmul(&s->optimizer, row, 4);
            acc_addmul(&s->optimizer, col, 4);
        } else {
            acc_addmul(&s->optimizer, n, 4);
        }
        break;
    case MEM_ADAM8BIT:
        if (n >= ADAM8BIT_MIN_SIZE) {
            uint64_t blocks = n / ADAM8BIT_BLOCK + (n % ADAM8BIT_BLOCK != 0);
            acc_addmul(&s->optimizer, n, 2);          /* two uint8 states */
            acc_addmul(&s->optimizer, blocks, 8);     /* absmax1, absmax2 */
            acc_addmul(&s->bookkeeping, blocks, 8);
        } else {
            acc_addmul(&s->optimizer, n, 8);          /* fp32 fallback */
        }
        break;
    default:
        break;
    }
}

static int is_frozen(const bitset *frozen, size_t i)
{
    return frozen && i < frozen->n && bitset_get(frozen, i);
}

/* Marks tied parameters (table_link_ties). role[i]: 0 = counted on its
 * own, 1 = an alias counted through its group's first member, 2 = a
 * group's first member that is trainable because some member is.
 * Cannot fail. */
static void mark_aliases(const table *t, const bitset *frozen,
                         unsigned char *role)
{
    if (t->aliases == 0)
        return;
    for (size_t i = 0; i < t->count; i++) {
        const table_tensor *x = table_at(t, i);
        if (x->kind != TK_PARAMETER || x->tie == i)
            continue;
        if (x->flags & TF_ALIAS) {
            role[i] = 1;
            continue;
        }
        for (size_t j = x->tie; j != i; j = table_at(t, j)->tie)
            if (!is_frozen(frozen, j))
                role[i] = 2;
    }
}

/* Fills parts from the sums and the shared weight/buffer bytes. */
static int finish_side(mem_parts *p, const side_sums *s, mem_precision prec,
                       uint64_t weights, uint64_t buffers)
{
    acc64 master = {0, 0}, grads = {0, 0}, total = {0, 0};
    if (s->numel.overflow || s->optimizer.overflow || s->tensors.overflow ||
        s->bookkeeping.overflow)
        return err_set("memory estimate overflows 64 bits");
    if (prec == MEM_BF16)
        acc_addmul(&master, s->numel.v, 4);
    acc_addmul(&grads, s->numel.v,
               prec == MEM_FP32 || prec == MEM_AMP ? 4 : 2);
    acc_add(&total, weights);
    acc_add(&total, master.v);
    acc_add(&total, grads.v);
    acc_add(&total, s->optimizer.v);
    acc_add(&total, buffers);
    if (master.overflow || grads.overflow || total.overflow)
        return err_set("memory estimate overflows 64 bits");
    p->weights = weights;
    p->master = master.v;
    p->gradients = grads.v;
    p->optimizer = s->optimizer.v;
    p->bookkeeping = s->bookkeeping.v;
    p->buffers = buffers;
    p->total = total.v;
    p->trainable_numel = s->numel.v;
    p->trainable_tensors = s->tensors.v;
    return 0;
}

int memory_estimate(const table *t, const bitset *frozen,
                    mem_optimizer opt, mem_precision prec,
                    mem_estimate *out)
{
    int rc = -1;
    unsigned char *role = NULL;
    side_sums before, after;
    acc64 pnumel = {0, 0}, ptensors = {0, 0}, weights = {0, 0};
    acc64 buffers = {0, 0};

    if ((unsigned)opt >= MEM_OPT_COUNT || (unsigned)prec >= MEM_PREC_COUNT) {
        err_set("memory estimate: unknown optimizer or precision");
        goto cleanup;
    }
    memset(&before, 0, sizeof before);
    memset(&after, 0, sizeof after);
    role = calloc(t->count ? t->count : 1, 1);
    if (!role) {
        err_set("out of memory");
        goto cleanup;
    }
    mark_aliases(t, frozen, role);

    uint64_t wwidth = (prec == MEM_FP32 || prec == MEM_AMP) ? 4 : 2;
    for (size_t i = 0; i < t->count; i++) {
        const table_tensor *x = table_at(t, i);
        if (x->kind == TK_BUFFER) {
            acc_add(&buffers, x->nbytes);
            continue;
        }
        if (x->kind != TK_PARAMETER || role[i] == 1)
            continue;
        if (!dtype_is_float((dtype)x->dtype)) {
            acc_add(&weights, x->nbytes); /* kept as stored, never trained */
            continue;
        }
        acc_add(&pnumel, x->numel);
        acc_add(&ptensors, 1);
        acc_addmul(&weights, x->numel, wwidth);
        const uint64_t *shape = table_shape(t, i);
        acc_add(&before.numel, x->numel);
        acc_add(&before.tensors, 1);
        add_optimizer_state(&before, opt, prec, x->ndim, shape, x->numel);
        if (role[i] == 2 || !is_frozen(frozen, i)) {
            acc_add(&after.numel, x->numel);
            acc_add(&after.tensors, 1);
            add_optimizer_state(&after, opt, prec, x->ndim, shape, x->numel);
        }
    }
    if (pnumel.overflow || weights.overflow || buffers.overflow ||
        ptensors.overflow) {
        err_set("memory estimate overflows 64 bits");
        goto cleanup;
    }
    memset(out, 0, sizeof *out);
    out->optimizer = opt;
    out->precision = prec;
    out->param_numel = pnumel.v;
    out->param_tensors = ptensors.v;
    if (finish_side(&out->before, &before, prec, weights.v, buffers.v) ||
        finish_side(&out->after, &after, prec, weights.v, buffers.v))
        goto cleanup;
    rc = 0;
cleanup:
    free(role);
    return rc;
}

double memory_percent_saved(uint64_t before, uint64_t after)
{
    if (before == 0)
        return 0.0;
    return 100.0 * ((double)before - (double)after) / (double)before;
}

const char *memory_saved_text(uint64_t before, uint64_t after, char *buf,
                              size_t cap)
{
    if (after > before && cap > 1) {
        buf[0] = '-';
        human_percent(after - before, before, buf + 1, cap - 1);
        return buf;
    }
    return human_percent(before - after, before, buf, cap);
}

const char *memory_optimizer_name(mem_optimizer o)
{
    return (unsigned)o < MEM_OPT_COUNT ? opt_names[o] : "?";
}

const char *memory_precision_name(mem_precision p)
{
    return (unsigned)p < MEM_PREC_COUNT ? prec_names[p] : "?";
}

int memory_optimizer_parse(const char *s, mem_optimizer *out)
{
    for (unsigned i = 0; i < MEM_OPT_COUNT; i++) {
        if (strcmp(s, opt_names[i]) == 0) {
            *out = (mem_optimizer)i;
            return 0;
        }
    }
    return err_set("unknown optimizer '%s' (expected one of: sgd, momentum, "
                   "adam, adamw, adafactor, adam8bit)", s);
}

int memory_precision_parse(const char *s, mem_precision *out)
{
    for (unsigned i = 0; i < MEM_PREC_COUNT; i++) {
        if (strcmp(s, prec_names[i]) == 0) {
            *out = (mem_precision)i;
            return 0;
        }
    }
    if (strcmp(s, "pure_bf16") == 0) {
        *out = MEM_PURE_BF16;
        return 0;
    }
    return err_set("unknown precision '%s' (expected one of: fp32, amp, "
                   "bf16, pure-bf16)", s);
}

/* One row: exact bytes with separators, human bytes, percent saved. */
static int report_row(FILE *f, const char *label, uint64_t before,
                      uint64_t after)
{
    char hb[32], ha[32], cb[32], ca[32], pc[16];
    return fprintf(f, "  %-10s %18s %10s %18s %10s %7s\n", label,
                   human_count(before, cb, sizeof cb),
                   human_bytes(before, hb, sizeof hb),
                   human_count(after, ca, sizeof ca),
                   human_bytes(after, ha, sizeof ha),
                   memory_saved_text(before, after, pc, sizeof pc)) < 0
               ? -1
               : 0;
}

/* The measured activations (activation.h) in place of the "not
 * estimated" line: their bytes, where they were measured, and this
 * plan's total with them added. */
static int report_measured(FILE *f, const mem_estimate *e,
                           const activation *m)
{
    char c1[32], c2[32], h1[32], h2[32], h3[32];
    uint64_t with;
    if (__builtin_add_overflow(e->after.total, m->activation_bytes, &with))
        return err_set("writing the memory report: the total with the "
                       "measured activations overflows 64 bits");
    return fprintf(f, "activations: %s %s (%s) measured at batch %" PRIu64
                   " on %s (libtorch %s), peak %s above the step's start; "
                   "for the frozen set they were measured with\n"
                   "total with activations: %s %s (%s), this plan's total "
                   "above plus the measured activations\n",
                   human_count(m->activation_bytes, c1, sizeof c1),
                   human_plural(m->activation_bytes, "byte", "bytes"),
                   human_bytes(m->activation_bytes, h1, sizeof h1), m->batch,
                   m->device ? m->device : "an unknown device",
                   m->libtorch ? m->libtorch : "version unknown",
                   human_bytes(m->peak_bytes, h2, sizeof h2),
                   human_count(with, c2, sizeof c2),
                   human_plural(with, "byte", "bytes"),
                   human_bytes(with, h3, sizeof h3)) < 0
               ? err_set("writing the memory report: output error")
               : 0;
}

int memory_write_report(FILE *f, const mem_estimate *e)
{
    return memory_write_report_measured(f, e, NULL);
}

int memory_write_report_measured(FILE *f, const mem_estimate *e,
                                 const activation *measured)
{
    const mem_parts *b = &e->before, *a = &e->after;
    char c1[32], c2[32], c3[32], c4[32], hb[32];
    int bad = 0;
    bad |= fprintf(f, "memory estimate: optimizer %s, precision %s\n",
                   memory_optimizer_name(e->optimizer),
                   memory_precision_name(e->precision)) < 0;
    bad |= fprintf(f, "trainable: %s of %s %s in %s of %s %s\n",
                   human_count(a->trainable_numel, c1, sizeof c1),
                   human_count(e->param_numel, c2, sizeof c2),
                   human_plural(e->param_numel, "parameter", "parameters"),
                   human_count(a->trainable_tensors, c3, sizeof c3),
                   human_count(e->param_tensors, c4, sizeof c4),
                   human_plural(e->param_tensors, "tensor", "tensors")) < 0;
    bad |= fprintf(f, "  %-10s %18s %10s %18s %10s %7s\n", "part",
                   "all trainable", "", "this plan", "", "saved") < 0;
    bad |= report_row(f, "weights", b->weights, a->weights);
    bad |= report_row(f, "master", b->master, a->master);
    bad |= report_row(f, "gradients", b->gradients, a->gradients);
    bad |= report_row(f, "optimizer", b->optimizer, a->optimizer);
    bad |= report_row(f, "buffers", b->buffers, a->buffers);
    bad |= report_row(f, "total", b->total, a->total);
    if (a->bookkeeping || b->bookkeeping)
        bad |= fprintf(f, "optimizer state includes %s %s (%s) of "
                       "per-tensor bookkeeping (%s)\n",
                       human_count(a->bookkeeping, c1, sizeof c1),
                       human_plural(a->bookkeeping, "byte", "bytes"),
                       human_bytes(a->bookkeeping, hb, sizeof hb),
                       e->optimizer == MEM_ADAM8BIT
                           ? "fp32 absmax per 256-element block"
                           : "a 4-byte float32 step tensor per parameter") < 0;
    if (!measured)
        bad |= fprintf(f, "activations are not estimated (they depend on "
                       "batch and input size)\n") < 0;
    if (bad)
        return err_set("writing the memory report: output error");
    return measured ? report_measured(f, e, measured) : 0;
}
