/* preset.h: named, parameterised freeze recipes (the presets folder, *.yaml).
 *
 * A preset file (docs/presets.md):
 *   name: bert-embeddings-first-n     # must equal the file's basename
 *   description: "..."
 *   params:                           # optional; at most PRESET_MAX_PARAMS
 *     n: {default: 3, min: 0, max: 48, help: "..."}
 *   rules:                            # ordered; a later rule wins
 *     - freeze: "{bert,roberta,deberta}.embeddings"
 *     - freeze: "{bert,roberta,deberta}.encoder.layer.{0..n-1}"
 *     - unfreeze: "lm_head"
 *       if: head                      # optional: rule kept when non-zero
 *
 * Templates. A brace group of a pattern is a template when it holds no
 * ',' and at least one identifier, and is made only of identifiers,
 * integers, '+', '-', '..' and spaces: `{n}`, `{n-1}`, `{0..n-1}`,
 * `{n..}`, `{..k}`, `{layers-n..}`. Every other brace group (`{a,b}`,
 * `{0..5}`, a regex's `{2}`) is left to the pattern language untouched.
 * Identifiers are the preset's parameters and the model variables
 * (preset_vars: `layers`). When expanded:
 *   - `{e}` becomes the decimal value; a negative value drops the rule.
 *   - `{a..b}` filling a whole segment becomes `{a..b}`, `{a..}` becomes
 *     `{a..}`, `{..b}` becomes `{0..b}`; a negative start is raised to 0.
 *     A range whose end is below its start (n=0 gives {0..-1}) or below
 *     0 drops the rule (it would select nothing).
 *   - A range inside a segment (`layer{1..k}`) becomes alternatives
 *     (`layer{1,2,3}`), at most PRESET_MAX_SPAN values; an open end there
 *     is an error.
 * Dropped rules are counted in preset_expansion.dropped.
 */
#ifndef TUI_CORE_PRESET_H
#define TUI_CORE_PRESET_H

#include <stddef.h>

#include "bitset.h"
#include "table.h"

#define PRESET_MAX_PARAMS 16u
#define PRESET_MAX_RULES 256u
#define PRESET_MAX_NAME 64u       /* bytes of a preset or parameter name */
#define PRESET_MAX_PATTERN 4096u  /* bytes of one rule's pattern */
#define PRESET_MAX_FILES 1000u    /* preset files read from one folder */
#define PRESET_MAX_VALUE 1000000000LL /* |value| of params and bounds */
#define PRESET_MAX_SPAN 1024      /* values of an in-segment range */

typedef enum { PRESET_FREEZE = 0, PRESET_UNFREEZE } preset_op;

typedef struct {
    char *name;
    long long def, min, max;
    char *help;            /* "" when absent */
} preset_param;

typedef struct {
    preset_op op;
    char *pattern;         /* the template, as written */
    char *cond;            /* the `if:` expression, or NULL */
    unsigned line, col;    /* of the rule in its file */
} preset_rule;

typedef struct {
    char *name;
    char *description;
    char *path;            /* the file it was read from */
    int user;              /* 1 when read from the user's folder */
    int shadows;           /* 1 when it hides a built-in of that name */
    preset_param *params;
    size_t nparams;
    preset_rule *rules;
    size_t nrules;
    const struct preset_gen *gen; /* a computed preset (preset_gen.h):
                              no rules; NULL for a file's */
} preset;

typedef struct {
    preset *items;         /* sorted by name */
    size_t n;
} preset_list;

/* Model variables that templates may use. */
typedef struct {
    long long layers;      /* numbered children of the main layer
                              container (0 when the model has none) */
    char container[256];   /* that container's path ("model.layers"), or
                              "" */
} preset_vars;

/* One concrete rule, ready for pattern_compile. */
typedef struct {
    preset_op op;
    char *pattern;
} preset_out_rule;

typedef struct {
    preset_out_rule *rules;
    size_t n;
    size_t dropped;        /* rules dropped by empty ranges or `if:` */
} preset_expansion;

/* Reads and checks one preset file. On success fills *out (the caller
 * frees it with preset_free) and returns 0; on failure returns -1 with err
 * set to "path:line:col: problem" (unknown key, name not equal to the
 * basename, default outside [min, max], unknown identifier in a
 * template, malformed expression, too many rules...) and *out is empty. */
int preset_load(const char *path, preset *out);

/* Frees what a preset holds and zeroes it. NULL-safe. */
void preset_free(preset *p);

/* The user's preset folder: $XDG_CONFIG_HOME/tui/presets when that is set
 * and absolute, else $HOME/.config/tui/presets. Writes it to buf (cap
 * bytes). Returns 0, or -1 with err set when neither variable is usable
 * or the path does not fit. */
int preset_user_dir(char *buf, size_t cap);

/* Loads the built-in presets from builtin_dir (NULL to skip; a missing
 * folder is an error) and then the user's folder (missing is fine),
 * whose presets replace built-ins of the same name (shadows = 1), then
 * adds the computed presets no file names (preset_gen.h). Reads
 * *.yaml and *.yml files, not hidden ones. Returns 0 with *out filled
 * (free with preset_list_free), or -1 with err set naming the file; *out
 * is empty then. Two files of one name in one folder are an error. */
int preset_list_load(const char *builtin_dir, preset_list *out);

/* The preset with this name, or NULL. Borrowed from the list. */
const preset *preset_list_find(const preset_list *l, const char *name);

/* Frees the list and its presets; NULL-safe. */
void preset_list_free(preset_list *l);

/* Computes the model variables from the table's parameter and buffer
 * names: for every name, the path before its first all-digit segment is
 * a container and that number one of its children; the main container
 * is the one whose numbered children hold the most elements, and
 * `layers` is its largest child index + 1. Indexes over 1,000,000 are
 * ignored; at most 4096 distinct containers are tracked. Returns 0, or -1
 * with err set (out of memory). The table is untouched. */
int preset_vars_from_table(const table *t, preset_vars *out);

/* Splits "name:k=v,k=v" at the first ':'. Copies the name into name
 * (cap bytes) and points *args at the text after ':' ("" when none).
 * Returns 0, or -1 with err set (empty or over-long name). */
int preset_split_spec(const char *spec, char *name, size_t cap,
                      const char **args);

/* Expands preset p with arguments args ("k=v,k=v", NULL or "" for the
 * defaults) and model variables vars (NULL when no model is open: a
 * template that uses a model variable is then an error). Fills *out
 * (free with preset_expansion_free) and returns 0; or returns -1 with err
 * set ("preset 'x': unknown parameter 'm' (parameters: n)", "n=99 is
 * outside [0, 48]", "n given twice", "n=abc is not an integer", open
 * range inside a segment...) and *out empty. p is untouched. */
int preset_expand(const preset *p, const char *args, const preset_vars *vars,
                  preset_expansion *out);

/* Parses "k=v,k=v" (NULL or "": none) into values, which hold p's
 * defaults. Returns 0, or -1 with err set as preset_expand. */
int preset_parse_args(const preset *p, const char *args, long long *values);

/* Frees an expansion; NULL-safe. */
void preset_expansion_free(preset_expansion *e);

/* Applies the expansion's rules in order to `frozen` (t->count bits):
 * each rule is compiled with pattern_compile and sets (freeze) or clears
 * (unfreeze) the bit of every tensor it matches, buffers included;
 * callers that count parameters only mask the rest. *empty_rules (when
 * not NULL) gets the number of rules that matched nothing; all of them
 * (e->n, with e->n > 0) is "this preset matches nothing on this model".
 * Returns 0, or -1 with err set ("preset rule 'x': <pattern error>", out
 * of memory); frozen may then hold the earlier rules' changes. t is
 * untouched. */
int preset_apply(const preset_expansion *e, const table *t, bitset *frozen,
                 size_t *empty_rules);

/* "freeze" or "unfreeze". Cannot fail. */
const char *preset_op_name(preset_op op);

#endif
