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
} train_options;

/* The symbol main.c looks up in libtui-train.so. */
#define TRAIN_ENTRY "tui_train_main"

/* Trains per the plan. Prints progress on stderr and one line "tui: ..."
 * on failure. Returns the process exit status: 0 done, 2 bad input or
 * a failed run, 130 after SIGINT (a checkpoint was saved first). */
int tui_train_main(const train_options *o);

typedef int (*train_entry_fn)(const train_options *o);

#endif
