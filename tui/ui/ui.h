/* ui.h: the interactive editor (curses). The only entry points main.c
 * uses; everything else in ui/ is private to it.
 *
 * The editor is a face of the core session (core/session.h): every
 * change goes through session_* calls, so what the editor does, the
 * command line can do and test without a terminal.
 */
#ifndef TUI_UI_UI_H
#define TUI_UI_UI_H

#include "../core/preset.h"
#include "../core/session.h"

typedef struct {
    const char *plan_path;      /* the plan opened with --plan, or NULL */
    const char *plan_report;    /* what no longer matched when that plan was
                                   loaded (text, may be NULL or "") */
    const preset_list *presets; /* built-in + user presets (never NULL) */
    const char *user_preset_dir;/* where "save as preset" writes, or NULL */
    const char *builtin_preset_dir; /* the built-in presets folder, to
                                   reload the list after "save as preset"
                                   (NULL: the list is not reloaded) */
    int timing;                 /* TUI_TIMING: log frame times to stderr
                                   ("first_frame_ms=", one "frame:" line
                                   per key), replayed after exit */
    double start_ms;            /* CLOCK_MONOTONIC ms at process start (0:
                                   measure from ui_run) */
} ui_config;

/* Checks that an editor can run here: stdin and stdout are terminals,
 * TERM is set and not "dumb". Returns 0, or -1 with err set to one line
 * that points to --list / --summary. Never touches curses. */
int ui_check_terminal(void);

/* Runs the editor on an open session until the user quits. The terminal
 * is restored on every exit path (q, Ctrl-C, SIGTERM, SIGHUP, crash
 * signals). Returns the process exit status: 0 after a normal quit, 2
 * with one line on stderr after an error. */
int ui_run(session *s, const ui_config *cfg);

#endif
