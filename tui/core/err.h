/* err.h: the one error message of the core and the readers.
 *
 * A failing function returns -1 (or NULL) and sets the message with
 * err_set(); the caller that reports to the user prints err_msg().
 * Messages name the file and the problem, e.g.
 *   "model.bin: data/17: storage of 4096 bytes, record holds 1024".
 * Each thread has its own message: a failure in a background thread is
 * read there (err_msg) and handed over by the job itself.
 */
#ifndef TUI_CORE_ERR_H
#define TUI_CORE_ERR_H

#if defined(__GNUC__)
#define ERR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ERR_PRINTF(a, b)
#endif

/* Sets the current message (printf-style, truncated at 1 KiB).
 * Always returns -1, so `return err_set(...);` reads naturally. */
int err_set(const char *fmt, ...) ERR_PRINTF(1, 2);

/* Prepends "prefix: " to the current message (used to add a file name
 * on the way up). Returns -1. */
int err_prefix(const char *fmt, ...) ERR_PRINTF(1, 2);

/* The current message, "" when none was set. Borrowed; valid until the
 * next err_set/err_prefix/err_clear. Cannot fail. */
const char *err_msg(void);

/* Forgets the current message. Cannot fail. */
void err_clear(void);

#endif
