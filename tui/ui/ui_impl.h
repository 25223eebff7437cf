/* ui_impl.h: what the files of ui/ share; private to ui/.
 *
 *   ui_screen.c  curses lifecycle, colours, signals, stderr capture,
 *                input (the one place KEY_RESIZE is handled)
 *   ui_keys.c    ui_run: the main loop, the key table and its actions
 *   ui_draw.c    immediate-mode drawing of the whole screen
 *   ui_columns.c the tree pane's column widths, the column headers (with
 *                the sort order), the breadcrumb of the selected row,
 *                the score column (the cached spectral scores)
 *   ui_box.c     boxes over it: text (help, plan report), questions
 *   ui_prompt.c  the line editor, the pattern and search prompts
 *   ui_menu.c    the presets menu
 *   ui_preset_save.c  W: the rules as a user preset, as written
 *   ui_save.c    w: saving the plan (asks before writing over a plan
 *                made for another checkpoint), the unsaved mark
 *   ui_measure.c a: the activation memory measured by a child process
 *                (tui --headless --measure-memory), the panel's row
 *
 * Actions return reaction flags (R_*); the loop applies them.
 */
#ifndef TUI_UI_UI_IMPL_H
#define TUI_UI_UI_IMPL_H

#include <curses.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

#include "../core/activation.h"
#include "../core/bitset.h"
#include "../core/memory.h"
#include "../core/pattern.h"
#include "../core/stages.h"
#include "../core/table.h"
#include "../core/view.h"
#include "ui.h"

#define UI_MIN_COLS 40
#define UI_MIN_ROWS 10
#define UI_PANEL_MIN_ROWS 23 /* below this the memory panel is one line */
#define UI_PANEL_ROWS 10     /* the unfolded panel */

/* Colours: one table (ncdu's UI_COLORS) makes the enum and the pairs. */
#define UI_COLORS(C)                                         \
    C(UIC_NORMAL, -1, -1, A_NORMAL)                          \
    C(UIC_HEADER, COLOR_BLACK, COLOR_CYAN, A_NORMAL)         \
    C(UIC_FROZEN, COLOR_BLUE, -1, A_BOLD)                    \
    C(UIC_TRAINABLE, COLOR_GREEN, -1, A_NORMAL)              \
    C(UIC_PARTIAL, COLOR_YELLOW, -1, A_NORMAL)               \
    C(UIC_BUFFER, COLOR_MAGENTA, -1, A_DIM)                  \
    C(UIC_MATCH, COLOR_BLACK, COLOR_YELLOW, A_NORMAL)        \
    C(UIC_ERROR, COLOR_RED, -1, A_BOLD)                      \
    C(UIC_DIM, -1, -1, A_DIM)                                \
    C(UIC_WARN, COLOR_YELLOW, -1, A_BOLD | A_REVERSE)        \
    C(UIC_BOX, COLOR_WHITE, COLOR_BLUE, A_NORMAL)

#define UI_COLOR_ENUM(name, fg, bg, attr) name,
enum ui_color { UI_COLORS(UI_COLOR_ENUM) UIC_COUNT };
#undef UI_COLOR_ENUM

/* Reaction flags of an action. */
enum {
    R_NONE = 0,
    R_REDRAW = 1 << 0,  /* draw again (always done after a key) */
    R_EDIT = 1 << 1,    /* the frozen set or the rules changed */
    R_QUIT = 1 << 2,    /* leave the main loop */
};

/* A preset applied from the menu, kept so that W can save its rules as
 * written (the templates, the parameters with the values chosen as
 * their defaults) rather than this model's expansion. */
typedef struct {
    size_t start, n;    /* the session rules it added */
    char **pats;        /* their patterns, to recognise them (n) */
    char *params;       /* the YAML of its params: block's entries */
    char *rules;        /* the YAML of its rules: list, as written */
    char **pnames;      /* its parameters' names and chosen values */
    long long *pvals;
    size_t np;
} ui_preset_use;

/* The kinds of prompt: each has its own history; PATTERN and SEARCH
 * complete names from the tree on Tab, PATH file names. */
typedef enum {
    UI_PK_NONE = 0,   /* no history, no completion */
    UI_PK_PATTERN,
    UI_PK_SEARCH,
    UI_PK_PATH,
    UI_PK_PARAMS,
    UI_PK_COUNT
} ui_prompt_kind;

#define UI_HIST_MAX 100   /* lines kept per prompt kind */

/* The background measurement (ui_measure.c). */
typedef struct {
    pid_t pid;              /* the measuring child; 0 when none runs */
    int out_fd, err_fd;     /* its stdout and stderr (non-blocking), -1 */
    char *out;              /* what it printed (the --json line) */
    size_t nout, out_cap;
    char err[512];          /* the start of its stderr */
    size_t nerr;
    int all_job;            /* 1: it measures everything trainable */
    int then_current;       /* 1: the current set is measured next */
    bitset job_frozen;      /* the frozen set it measures */
    double started_ms;
    char plan[4096];        /* the temporary plan it reads ("": none) */
    activation all;         /* with everything trainable, when has_all */
    int has_all;
} ui_measure;

typedef struct ui {
    session *s;
    const ui_config *cfg;
    view v;
    int rows, cols;          /* screen size */
    int utf8, color;
    int tree_y, tree_h;      /* where the tree pane is (for the mouse) */
    /* the estimate, recomputed when the state changes */
    mem_estimate est;
    int est_ok;
    uint64_t est_gen, est_shown;
    int est_opt, est_prec;
    lr_scales lr;            /* the plan's lr rules resolved (lr_ok) */
    int lr_ok;
    uint64_t lr_gen;         /* the session's shown_gen they were made at */
    int panel_folded;        /* M: the memory panel as one line */
    table_totals tot;        /* of the table (it never changes) */
    /* matches (search or pattern prompt): a set over the tensors */
    bitset match;
    char match_src[PATTERN_MAX_LEN + 8]; /* what made them ("" none) */
    uint64_t match_param_numel;          /* parameters among them */
    size_t match_params;
    /* the status line message, cleared at the next key */
    char msg[600];
    int msg_err;
    size_t prompt_col;       /* 1-based column of a pattern error, or 0 */
    /* what was saved last, for the unsaved mark */
    uint64_t saved_rules_hash;
    int saved_opt, saved_prec; /* -1: the plan does not store it */
    char plan_path[4096];    /* the last path saved to or loaded */
    char foreign_model[4096];/* model.path of the foreign plan loaded
                                (s->foreign_plan), as it was written */
    /* presets reloaded after "save as preset" (else cfg->presets) */
    preset_list own_presets;
    int has_own_presets;
    ui_preset_use *uses;     /* presets applied from the menu */
    size_t nuses;
    /* each prompt kind's history (ui_prompt_kind), oldest first */
    char **hist[UI_PK_COUNT];
    size_t nhist[UI_PK_COUNT];
    int last_key;
    double key_ms;           /* when ui_input returned the last key */
    int ticks;               /* 1: ui_input returns UI_KEY_TICK while a
                                measurement runs (the main loop only) */
    ui_measure meas;
    struct ui_stats *stats;  /* ui_stats.c: NULL until S */
    double *score_node;      /* ui_columns.c: each tree node's score
                                column (NaN: blank); NULL without the
                                checkpoint's score cache */
} ui;

/* --- ui_stage.c: the stage selector --- */

/* The keys [ ] + D L r: R_* flags. */
int ui_stage_prev(ui *u);
int ui_stage_next(ui *u);
int ui_stage_add(ui *u);
int ui_stage_delete(ui *u);
int ui_stage_length(ui *u);
int ui_stage_lr(ui *u);

/* "stage 1 of 3: 500 steps, lr 0.0001" for the stage shown, "" without
 * stages. Returns buf. */
const char *ui_stage_text(ui *u, char *buf, size_t cap);

/* A row's thaw column: the stage from which its parameters train ("2",
 * "1-3", "-" never, "2,-" some never); "" for buffers. */
void ui_stage_thaw_cell(ui *u, const tree_node *n, char *buf, size_t cap);

/* A row's lr column: its parameters' lr scale ("x0.56", "x0.075-1");
 * "" without lr rules (ui_stage_update_lr first). */
void ui_stage_lr_cell(ui *u, const tree_node *n, char *buf, size_t cap);

/* Resolves the plan's lr rules when they changed. Returns 1 when the
 * rows have an lr column. Cannot fail (an error goes to the message). */
int ui_stage_update_lr(ui *u);

/* Frees what the stage selector holds. Idempotent. */
void ui_stage_end(ui *u);

/* --- ui_stats.c: the values' statistics (S) --- */

typedef struct ui_stats ui_stats;

/* S: starts the statistics of the selected row's tensors in the
 * background (or shows them when all are known; S while they run
 * cancels). Returns R_* flags. */
int ui_stats_key(ui *u);

/* 1 while a statistics job runs. Cannot fail. */
int ui_stats_running(const ui *u);

/* Between keys: the job's progress in the message; when done, takes its
 * results and shows them (the row still selected) or says they are
 * ready. Returns 1 when the screen needs drawing. Cannot fail. */
int ui_stats_poll(ui *u);

/* 1 when a tensor of node n's subtree was found to hold NaN or Inf.
 * Cannot fail. */
int ui_stats_flag(const ui *u, const tree_node *n);

/* Cancels a running job and frees what was kept. Idempotent. */
void ui_stats_end(ui *u);

/* --- ui_screen.c --- */

/* Starts curses on the terminal (newterm on stdin/stdout), installs the
 * signal handlers and moves stderr to a memory file. Returns 0, or -1
 * with err set (the terminal is then untouched). */
int ui_screen_start(ui *u);

/* Restores the terminal and stderr (replaying what was written to it).
 * Idempotent; safe from a signal handler and at exit. */
void ui_done(void);

/* Ends curses for good: ui_done, the old signal handlers back, the
 * screen freed. Idempotent. */
void ui_screen_end(void);

/* Waits for a key. Handles KEY_RESIZE (re-reads the size, returns
 * KEY_RESIZE so the caller repaints), returns UI_KEY_INTERRUPT after a
 * SIGINT. Cannot fail. */
#define UI_KEY_INTERRUPT (KEY_MAX + 1)
#define UI_KEY_TICK (KEY_MAX + 2) /* a measurement moved on (main loop) */
int ui_input(ui *u);

/* Sets the colour pair and attributes of a role (no colour when the
 * terminal has none or NO_COLOR is set). Cannot fail. */
void ui_color_set(const ui *u, enum ui_color c);
attr_t ui_color_attr(const ui *u, enum ui_color c);

/* Milliseconds on the monotonic clock. */
double ui_now_ms(void);

/* --- ui_draw.c --- */

/* Paints the whole screen from the model (header, tree, panel, status)
 * into curses' buffer; the caller refreshes. Cannot fail. */
void ui_draw(ui *u);

/* Writes at most `width` columns of s (len bytes) at the cursor,
 * UTF-8 aware (non-ASCII as '?' in ASCII mode). Returns the columns
 * written. */
int ui_put(const ui *u, const char *s, size_t len, int width);

/* Display columns of s (code points; non-ASCII as 1). */
int ui_width(const char *s, size_t len);

/* Paints the persistent marks of the status line, right-aligned on line
 * y: "! plan made for another checkpoint" while s->foreign_plan is set
 * (the shorter "! foreign plan" under 80 columns). Returns the columns
 * it used (0: nothing to mark), so the caller keeps its text left of
 * them. Cannot fail. */
int ui_draw_marks(ui *u, int y);

/* Sets the status message (printf-style); err = 1 shows it as an error. */
void ui_message(ui *u, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Recomputes the estimate when the state changed. */
void ui_update_estimate(ui *u);

/* --- ui_columns.c --- */

/* The widths of the tree pane's columns (0: not shown), after the
 * 4-column mark: the name, shape, dtype, parameters, bytes, share bar. */
typedef struct {
    int name_w, shape_w, dtype_w, params_w, bytes_w, bar_w;
    int thaw_w, lr_w;        /* a staged plan's columns (0: none) */
    int score_w;             /* the cached spectral scores (0: none) */
} ui_layout;

/* The columns that fit u->cols. Cannot fail. */
void ui_make_layout(ui *u, ui_layout *L);

/* Paints the column headers on line y, over the columns of L, with the
 * sort order (s) and the sorted column marked. Cannot fail. */
void ui_draw_column_heads(ui *u, int y, const ui_layout *L);

/* Reads the checkpoint's score cache (core/score_cache.h) for the score
 * column: a weight's row shows its Spectrum score, a module's the
 * highest of its matrices (of all its weights when it has none). No
 * cache: no column; a bad one: no column and the reason in the message.
 * Cannot fail. */
void ui_scores_load(ui *u);

/* Node n's score cell into buf ("" for none). Cannot fail. */
void ui_score_cell(const ui *u, const tree_node *n, char *buf, size_t cap);

/* Frees what ui_scores_load kept. Idempotent. */
void ui_scores_free(ui *u);

/* The full dotted name of the selected row into buf (cap bytes, cut to
 * fit), a module's with a trailing '/'; "" on the root. Returns its
 * length. Cannot fail. */
int ui_breadcrumb(const ui *u, char *buf, size_t cap);

/* --- ui_box.c --- */

/* Paints a centred box with a title and the lines of `text` (split at
 * '\n'), starting at line `first`, over what is there. Returns the number
 * of text lines the box can show. */
int ui_draw_box(ui *u, const char *title, const char *text, int first,
                const char *footer);

/* Shows `text` in a box until a key is pressed (arrows, j/k, Space and
 * PgUp/PgDn scroll a text taller than the screen); the footer says how
 * it closes. The key that closed it is read again by the next ui_input
 * unless it is Esc, q, Enter or an interrupt (those only close).
 * Returns that key ('\n' for Enter, 27 for Esc and interrupts). */
int ui_show_text(ui *u, const char *title, const char *text);

/* Shows an error in a box, the footer under it (NULL: "any key closes"),
 * until a key; the key is passed on as ui_show_text does. Returns it
 * ('\n' for Enter, 27 for Esc and interrupts). */
int ui_show_error(ui *u, const char *title, const char *text,
                  const char *footer);

/* Asks a one-key question in a box; returns the key pressed (one of
 * `keys`, or 27 for Esc / interrupt). */
int ui_ask(ui *u, const char *title, const char *text, const char *keys);

/* --- ui_prompt.c --- */

/* Called after every edit of a prompt with the current text; may set
 * u->msg (shown under the prompt). */
typedef void (*ui_prompt_change)(ui *u, const char *text, void *ctx);

/* Reads a line at the bottom of the screen into buf (cap bytes), which
 * holds the initial text. Enter confirms (returns 1), Esc or Ctrl-C
 * cancels (returns 0, buf then undefined). */
int ui_prompt(ui *u, const char *label, char *buf, size_t cap,
              ui_prompt_change on_change, void *ctx);

/* ui_prompt with a kind: Up/Down walk that kind's history (kept for the
 * session; a confirmed line is added), Tab completes (UI_PK_PATTERN,
 * UI_PK_SEARCH: the next dotted segment from the tree; UI_PK_PATH: a
 * file name),
 * listing the candidates above the prompt when several are left. */
int ui_prompt_kind_read(ui *u, ui_prompt_kind kind, const char *label,
                        char *buf, size_t cap, ui_prompt_change on_change,
                        void *ctx);

/* Frees the prompt histories. Idempotent. */
void ui_prompt_free_history(ui *u);

/* Sets the matches from a search text (core/search.h: smartcase text,
 * or a pattern as f takes it when it starts with "re:" or holds
 * * ? [ {): highlights them. Returns the
 * matched model tensors, or -1 with err set (a bad pattern; matches
 * cleared). */
long ui_set_search(ui *u, const char *text, size_t *err_col);

/* Clears the matches. */
void ui_clear_matches(ui *u);

/* The f/F prompt: freeze (PLAN_FREEZE) or unfreeze by pattern, with the
 * live count. Returns R_* flags. */
int ui_prompt_pattern(ui *u, plan_rule_kind kind);

/* The / prompt; then jumps to the first match. Returns R_* flags. */
int ui_prompt_search(ui *u);

/* --- ui_menu.c --- */

/* The presets menu: pick, ask the parameters, preview, apply. Returns
 * R_* flags. */
int ui_menu_presets(ui *u);


/* --- ui_preset_save.c --- */

/* Records that preset p (applied as spec) added the session rules from
 * index `before` on, for W. Out of memory only loses the record (W then
 * saves those rules expanded). */
void ui_record_preset_use(ui *u, const preset *p, const char *spec,
                          size_t before);

/* Frees the records of the presets applied. Idempotent. */
void ui_menu_free_uses(ui *u);

/* W: asks a name, then (showing the full path) whether to write the
 * rules as a user preset. Returns R_*. */
int ui_save_preset(ui *u);

/* The preset list in use. */
const preset_list *ui_presets(const ui *u);

/* --- ui_save.c --- */

/* 1 when the state differs from the last save / the loaded plan: the
 * frozen set, the rules, and the optimizer and precision where that
 * plan stores them (estimate:). */
int ui_unsaved(const ui *u);

/* Remembers the current state as saved: written = 1 after writing a
 * plan (which stores the optimizer and precision), 0 for the plan
 * loaded at the start, if any (they count when it has them). */
void ui_mark_saved(ui *u, int written);

/* w: asks for the path (pre-filled; a new name beside a plan made for
 * another checkpoint, which is only written over after an explicit y),
 * saves, and says where. Returns 1 when saved, 0 when cancelled or on
 * error (the message says which; the file on disk is then untouched). */
int ui_save_plan(ui *u);

/* --- ui_measure.c --- */

/* Binds the measurement state to the session (the plan's measurement,
 * when it has one, counts as "all trainable" if nothing is frozen).
 * Cannot fail. */
void ui_measure_init(ui *u);

/* Stops a running measurement (the child killed and reaped, the
 * temporary plan removed) and frees the state. Idempotent. */
void ui_measure_end(ui *u);

/* a: starts measuring the current frozen set in the background (first
 * with everything trainable, once per session, when something is
 * frozen); while one runs, cancels it; with nothing runnable, says what
 * is needed in a box. Returns R_* flags. */
int ui_measure_key(ui *u);

/* Reads what the child wrote and takes its result when it has ended
 * (into the session, a message). Returns 1 while a measurement runs or
 * when one just ended (the screen moves on), 0 when none runs. */
int ui_measure_poll(ui *u);

/* 1 while a measurement runs. */
int ui_measure_running(const ui *u);

/* The panel's activations row into buf (cap bytes): measuring, not
 * measured (and what is needed), stale, or the bytes (all trainable ->
 * this plan), where they were measured, this plan's total with them and
 * the warning on frozen modules after a trainable one. Returns the
 * colour to paint it in. Cannot fail. */
enum ui_color ui_measure_row(ui *u, char *buf, size_t cap);

#endif
