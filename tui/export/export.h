/* export.h: the plan's frozen set written for the tools that consume it
 * (`tui --export FORMAT`, issue #11; docs/cli.md, "Exports").
 *
 * Each export states, at the top of its file, the consumer semantics it
 * relies on (with the consumer's source path), writes a selection that
 * the consumer, run on the export, turns into exactly the plan's frozen
 * set, and refuses (returns -1, writes nothing) a plan the consumer
 * cannot express. The exports read the resolved set (table, name tree,
 * frozen bitset), never the plan's rules, so a `re:` rule needs no
 * translation.
 *
 * What the consumers see is `model.named_parameters()`: parameters only
 * (buffers never matter), a tie group once, under its first name (a
 * TF_ALIAS tensor is skipped). The frozen set keeps a tie group in one
 * state, so an alias's bit is its group's state.
 *
 * Every export takes a session the caller keeps (only read) and a FILE it
 * writes to; on failure nothing has been written and err names the plan
 * (or the checkpoint) and the reason in one line.
 */
#ifndef TUI_EXPORT_EXPORT_H
#define TUI_EXPORT_EXPORT_H

#include <stdint.h>
#include <stdio.h>

#include "../core/session.h"

/* One export format. */
typedef struct {
    const char *name;     /* "axolotl", "fts", "llamafactory", "modules",
                             "names" */
    int (*write)(FILE *out, const session *s);
    const char *summary;  /* one line for messages */
} export_format;

/* The format called `name`, or NULL when there is none. Cannot fail. */
const export_format *export_find(const char *name);

/* "axolotl, fts, llamafactory, modules or names": the formats for
 * messages. Cannot fail. */
const char *export_format_names(void);

/* Axolotl's `unfrozen_parameters` (export_axolotl.c). Returns 0, or -1
 * with err set: every parameter frozen (Axolotl reads an empty list as
 * "freeze nothing"), a name that is not valid UTF-8, a write error. */
int export_axolotl(FILE *out, const session *s);

/* A Lightning FinetuningScheduler schedule (ft_schedule) from the plan's
 * stages (export_fts.c): phase 0 the names stage 0 trains, phase k the
 * names stage k thaws, max_transition_epoch where the next stage starts,
 * lr per later phase. Returns 0, or -1 with err set: stage lengths in
 * steps, a stage that freezes again what trained, lr_scale:,
 * layer_decay: or no_decay: present, a stage 0 that trains nothing, a
 * stage that does not resolve (stages_resolve's message), a name that is
 * not valid UTF-8, a write error. Nothing is written on a refusal. */
int export_fts(FILE *out, const session *s);

/* LLaMA-Factory's freeze-tuning settings (export_llamafactory.c).
 * Returns 0, or -1 with err set: a plan no setting expresses (naming the
 * first tensors it cannot), every parameter frozen, a model LLaMA-Factory
 * cannot freeze-tune, out of memory, a write error. */
int export_llamafactory(FILE *out, const session *s);

/* The module paths whose subtrees hold exactly the frozen parameters,
 * and the frozen parameters no module path can take alone
 * (export_modules.c). Returns 0, or -1 with err set (out of memory, a
 * name that is not valid UTF-8, a write error). */
int export_modules(FILE *out, const session *s);

/* The frozen parameter names, one a line, in table order, tied names
 * included (export_names.c). Returns 0, or -1 with err set (a write
 * error). */
int export_names(FILE *out, const session *s);

/* --- shared by the exports (export.c) ---------------------------------- */

/* Parameter counts of one node's subtree, the node's own tensor included:
 * all names (aliases too) and named_parameters() names (no aliases). */
typedef struct {
    uint32_t frozen, trainable;     /* every parameter name */
    uint32_t nfrozen, ntrainable;   /* TF_ALIAS names left out */
} export_count;

/* The counts for every node of s's tree, indexed like s->tr.nodes, in
 * *out (malloc'ed; the caller frees it). Returns 0, or -1 with err set
 * (out of memory; *out is then NULL). */
int export_count_nodes(const session *s, export_count **out);

/* The counts of node k's subtree without node k's own tensor. Cannot
 * fail. */
export_count export_count_below(const session *s, const export_count *c,
                                size_t k);

/* One line of an export: a tree node. The exports list their lines in
 * the tree's natural name order (tree.h: `layer.2` before `layer.10`),
 * so one model gives one export whatever order its file keeps. */
typedef struct {
    uint32_t node;    /* index into s->tr.nodes */
    uint32_t subtree; /* 1: the node's subtree; 0: its own tensor */
} export_entry;

/* 1 when tensor i is a parameter in the tree (a name the frozen set can
 * hold), else 0. Cannot fail. */
int export_is_param(const session *s, size_t i);

/* The file to name in messages: the plan the session was loaded from or
 * saved to, else the checkpoint. Borrowed from s. Cannot fail. */
const char *export_source(const session *s);

/* Writes the len bytes at str (valid UTF-8) as a YAML double-quoted
 * scalar: `"`, `\` and the characters YAML may not hold raw are escaped.
 * Cannot fail (stream errors show at export_finish). */
void export_yaml_string(FILE *out, const char *str, size_t len);

/* 0 when the len bytes at str are valid UTF-8; else -1 with err set
 * ("SOURCE: the name 'x...' is not valid UTF-8 (byte N), which a YAML
 * export cannot hold"). */
int export_check_utf8(const session *s, const char *str, size_t len);

/* Flushes out. Returns 0, or -1 with err set (the write error). */
int export_finish(FILE *out);

#endif
