/* train.h: the headless trainer, `tui --headless --plan plan.yaml`.
 *
 * Built only with libtorch (TORCH != off), as the shared library
 * libtui-train.so, which main.c loads with dlopen() only in headless
 * mode, so that every other mode starts without loading libtorch.
 */
#ifndef TUI_TRAIN_TRAIN_H
#define TUI_TRAIN_TRAIN_H

typedef struct {
    const char *plan_path;  /* required */
    const char *device;     /* --device cuda|cpu, or NULL (the plan's) */
    long long max_steps;    /* --max-steps N, or -1 (the plan's) */
    int resume;             /* --resume: continue from the last checkpoint */
    const char *output;     /* --output DIR, or NULL (the plan's) */
    int allow_empty;        /* --allow-empty: plan rules may match nothing */
    /* --measure-memory (train_measure.c): measure one step, train nothing */
    int measure;
    unsigned long long batch_size; /* --batch-size N, or 0 (the plan's) */
    unsigned depth;         /* --depth D of the per-module list, 0: 1 */
    int json;               /* --json: one JSON object on stdout */
    const char *fit;        /* --fit SIZE ("24GiB"), or NULL */
} train_options;

/* The symbol main.c looks up in libtui-train.so. */
#define TRAIN_ENTRY "tui_train_main"

/* Trains per the plan. Prints progress on stderr and one line "tui: ..."
 * on failure. Returns the process exit status: 0 done, 2 bad input or
 * a failed run, 130 after SIGINT (a checkpoint was saved first). */
int tui_train_main(const train_options *o);

/* `tui --headless --measure-memory` (o->measure set; tui_train_main
 * calls it): one forward + loss + backward of the plan's model on a
 * batch of its data, no update, no file written; prints the measured
 * activation and peak bytes, the per-module list, the static parts and
 * the total (and with o->fit the largest batch that fits). Returns 0, or
 * 2 after one line "tui: ..." on stderr. */
int train_measure_main(const train_options *o);

typedef int (*train_entry_fn)(const train_options *o);

#endif
