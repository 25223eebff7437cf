/* preflight.h: the checks a command passes before it writes anything
 * (issue #12: a command that fails writes nothing). */
#ifndef TUI_CLI_PREFLIGHT_H
#define TUI_CLI_PREFLIGHT_H

#include "options.h"

/* Checks what can be checked before any file is opened or written: the
 * --export format is known; -o (when given, outside --headless) names no
 * folder and its folder exists and is writable; --plan names no folder
 * and no checkpoint (a zip, pickle or safetensors file). Returns 0,
 * or -1 with err set to one line naming the option and the problem.
 * Writes nothing. */
int preflight_check(const options *o);

#endif
