/* report_stages.h: a staged plan's stages and learning rates in
 * --summary (docs/plan-format.md, "Stages and learning rates"): the
 * table of stages (length, what each thaws, trainable parameters, this
 * plan's memory in that stage, the peak over stages) and the lr rules
 * resolved on the checkpoint (the layer ids layer_decay found, each
 * layer's scale). Text and --json. */
#ifndef TUI_CLI_REPORT_STAGES_H
#define TUI_CLI_REPORT_STAGES_H

#include <stdio.h>

#include "../core/session.h"

/* 1 when the session's plan has stages or lr rules (so the report
 * has something to say). Cannot fail. */
int report_stages_present(const session *s);

/* Resolves the stages and lr rules without writing anything, so that a
 * report can refuse a bad plan before its first line. Returns 0, or -1
 * with err set as report_stages_text. */
int report_stages_check(const session *s);

/* The text part (after the memory table). Returns 0, or -1 with err set
 * (a stage rule or lr pattern that matches nothing: "PLAN:LINE:COL:
 * ..."), nothing written then. */
int report_stages_text(FILE *out, const session *s);

/* The --json members, each written as ",\n \"stages\": [...]" and
 * ",\n \"lr\": {...}" (none without stages or lr rules). Returns 0, or
 * -1 with err set, nothing written then. */
int report_stages_json(FILE *out, const session *s);

#endif
