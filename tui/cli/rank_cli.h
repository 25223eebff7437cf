/* rank_cli.h: `tui --rank snr [--json] CHECKPOINT [PATTERN...]`:
 * Spectrum's signal-to-noise score of every weight (inspect/snr.h),
 * ranked within its weight type, as text or JSON (docs/inspect.md). */
#ifndef TUI_CLI_RANK_CLI_H
#define TUI_CLI_RANK_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "../core/table.h"

/* Scores the parameters of t that match any of the npat patterns (none:
 * every parameter) by `method` (only "snr") and prints them with their
 * weight type (the name after its first all-digit segment) and their
 * rank in it (core/preset_spectrum.h: spectrum_rank). Scores in t's
 * score cache (core/score_cache.h) are taken from it; the ones computed
 * are added to it. A progress line goes to stderr when it is a terminal;
 * a cache that cannot be read or written is one warning line on stderr
 * after the scores (the run still succeeds). Nothing is printed unless
 * every tensor could be scored. Returns 0, or -1 with err set (an
 * unknown method, a pattern that matches nothing without allow_empty,
 * snr_run's errors, a write error). */
int rank_cli_print(FILE *out, const table *t, const char *method,
                   char *const *pat, size_t npat, int json, int allow_empty);

#endif
