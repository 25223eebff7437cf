/* train_measure.h: what train_measure.c and train_measure_report.c share
 * (`tui --headless --measure-memory`, docs/memory.md). */
#ifndef TUI_TRAIN_TRAIN_MEASURE_H
#define TUI_TRAIN_TRAIN_MEASURE_H

#include "../../shim/ts_activations.h"
#include "train_impl.h"

/* One measured step at one batch size. */
typedef struct {
    uint64_t batch;
    ts_measure_result r;
    ts_measure *m;          /* the shim's result: per-module figures */
    uint64_t total;         /* measure_total() of this step */
    double seconds;         /* wall time of the measured step alone */
} measure_point;

/* --fit: total(batch) = a + k * batch, from two measured batches. */
typedef struct {
    uint64_t limit;         /* the bytes asked for */
    const char *limit_text; /* as given ("24GiB"); borrowed */
    uint64_t b1, b2;        /* the batches measured */
    uint64_t t1, t2;        /* their totals */
    double a, k;
    uint64_t largest;       /* largest batch with a + k * batch <= limit;
                               0: not even batch 1 */
} measure_fit;

/* The bytes the peak holds beyond the activations and the gradients
 * (transient outputs, workspace): max(0, peak - activations - grads). */
uint64_t measure_margin(const trainer *t, const ts_measure_result *r);

/* Static parts (the plan's estimate, t->est.after: weights, master,
 * gradients, optimizer, buffers) + activations + margin. Cannot fail. */
uint64_t measure_total(const trainer *t, const ts_measure_result *r);

/* Prints the table (json = 0) or one JSON object (json = 1) on stdout
 * for point p, with the fit when f is not NULL. Returns 0, or -1 with
 * err set when writing fails. */
int measure_report(const trainer *t, const measure_point *p,
                   const measure_fit *f, int json);

#endif
