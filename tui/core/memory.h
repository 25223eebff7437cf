/* memory.h: the training-memory estimate of a freeze plan.
 *
 * Given the tensor table and the frozen set, computes the bytes that
 * training needs for weights, the fp32 master copy, gradients and
 * optimizer state, for the plan ("after") and with every parameter
 * trainable ("before"). The per-element rules are DESIGN.md's table
 * ("Memory accounting"); on top of it the estimate counts the per-tensor
 * state the real optimizers allocate (docs/memory.md):
 *   - Adam/AdamW (torch 1.13): a float32 `step` tensor per parameter,
 *     4 bytes, at every precision.
 *   - Adafactor (transformers, beta1=None): state always in fp32;
 *     tensors of 2+ dims keep exp_avg_sq_row (shape[:-1]) and
 *     exp_avg_sq_col (shape[:-2] + shape[-1:]); 0- and 1-dim tensors keep
 *     a full exp_avg_sq. Its `step` and `RMS` are Python numbers, 0 bytes.
 *   - 8-bit Adam (bitsandbytes, block_wise=True, min_8bit_size=4096):
 *     tensors of 4096+ elements keep two uint8 states plus two fp32
 *     absmax vectors of ceil(n / 256) blocks; smaller ones keep two fp32
 *     states. Its `step` is a Python int, 0 bytes.
 * Activations are not estimated (the text report says so).
 *
 * A trainable tensor is a TK_PARAMETER of floating dtype whose frozen bit
 * is clear. Buffers (and non-floating parameters) are never trainable.
 * Tied parameters (one tensor under several names, table_link_ties)
 * count once; such a group is trainable when any member is (the frozen
 * set keeps a group's members in one state). TK_OPTIMIZER and TK_OTHER tensors are ignored.
 */
#ifndef TUI_CORE_MEMORY_H
#define TUI_CORE_MEMORY_H

#include <stdint.h>
#include <stdio.h>

#include "activation.h"
#include "bitset.h"
#include "table.h"

typedef enum {
    MEM_SGD = 0,    /* plain SGD: no state */
    MEM_MOMENTUM,   /* SGD with momentum: one buffer */
    MEM_ADAM,
    MEM_ADAMW,
    MEM_ADAFACTOR,  /* transformers' Adafactor, beta1=None */
    MEM_ADAM8BIT,   /* bitsandbytes Adam8bit / AdamW8bit */
    MEM_OPT_COUNT
} mem_optimizer;

typedef enum {
    MEM_FP32 = 0,   /* fp32 weights, fp32 grads */
    MEM_AMP,        /* autocast: fp32 params, fp32 grads */
    MEM_BF16,       /* bf16 weights and grads, fp32 master copy */
    MEM_PURE_BF16,  /* everything in bf16, optimizer state too */
    MEM_PREC_COUNT
} mem_precision;

typedef struct {
    uint64_t weights;    /* every parameter, at the precision's width */
    uint64_t master;     /* fp32 master copy of trainable parameters */
    uint64_t gradients;
    uint64_t optimizer;  /* optimizer state, bookkeeping included */
    uint64_t bookkeeping;/* the per-tensor part of `optimizer` (Adam's
                            step tensors, 8-bit Adam's absmax vectors) */
    uint64_t buffers;    /* stored size of buffers; never changes */
    uint64_t total;      /* weights + master + gradients + optimizer +
                            buffers */
    uint64_t trainable_numel;
    uint64_t trainable_tensors;
} mem_parts;

typedef struct {
    mem_optimizer optimizer;
    mem_precision precision;
    mem_parts before;          /* every parameter trainable */
    mem_parts after;           /* this plan */
    uint64_t param_numel;      /* all (deduplicated) parameters */
    uint64_t param_tensors;
} mem_estimate;

/* The estimate for table `t` with frozen set `frozen` (bit i set = tensor
 * i frozen; NULL = nothing frozen; bits beyond frozen->n count as clear).
 * Fills *out. Returns 0, or -1 with err set (a byte count overflows 64
 * bits, out of memory, unknown optimizer or precision). Inputs are not
 * modified; *out is undefined on failure. */
int memory_estimate(const table *t, const bitset *frozen,
                    mem_optimizer opt, mem_precision prec,
                    mem_estimate *out);

/* Percent of `before` that `after` saves: 100 * (before - after) / before;
 * 0 when before is 0; negative when after is larger. Cannot fail. */
double memory_percent_saved(uint64_t before, uint64_t after);

/* memory_percent_saved as text into buf (cap bytes): human_percent's
 * form ("75.0%", "<0.1%", ">99.9%"; "100.0%" only when after is 0),
 * "-50.0%" when after is larger. Returns buf. Cannot fail. */
const char *memory_saved_text(uint64_t before, uint64_t after, char *buf,
                              size_t cap);

/* "sgd", "momentum", "adam", "adamw", "adafactor", "adam8bit"; "?" for a
 * value out of range. Cannot fail. */
const char *memory_optimizer_name(mem_optimizer o);

/* "fp32", "amp", "bf16", "pure-bf16"; "?" out of range. Cannot fail. */
const char *memory_precision_name(mem_precision p);

/* Parses an optimizer name (exactly one of the names above). Returns 0,
 * or -1 with err set naming the valid choices; *out untouched then. */
int memory_optimizer_parse(const char *s, mem_optimizer *out);

/* Parses a precision name ("pure_bf16" is accepted as well). Returns 0,
 * or -1 with err set; *out untouched then. */
int memory_precision_parse(const char *s, mem_precision *out);

/* Writes the human report: one row per component with before, after and
 * percent saved (exact bytes with thousands separators, then human
 * bytes, then memory_saved_text), trainable counts, the bookkeeping note
 * and the line "activations are not estimated". Returns 0, or -1 with err
 * set when writing fails. */
int memory_write_report(FILE *f, const mem_estimate *e);

/* As memory_write_report; with a measurement (`measured` not NULL, e.g.
 * a plan's estimate.activations), the "not estimated" line gives way to
 * "activations: N bytes (H) measured at batch B on DEVICE (libtorch V)"
 * and "total with activations: ...", this plan's total plus the measured
 * bytes. Returns 0, or -1 with err set (write error, the sum overflows). */
int memory_write_report_measured(FILE *f, const mem_estimate *e,
                                 const activation *measured);

#endif
