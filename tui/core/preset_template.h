/* preset_template.h: the template expressions of preset rules (internal
 * to preset.c and preset_expand.c; the language is described in
 * preset.h). */
#ifndef TUI_CORE_PRESET_TEMPLATE_H
#define TUI_CORE_PRESET_TEMPLATE_H

#include "preset.h"

/* What identifiers mean while expanding. */
typedef struct {
    const preset *p;
    const long long *values; /* one per parameter of p; NULL in check mode */
    const preset_vars *vars; /* NULL: no model open */
    int check_only;          /* 1: only syntax and names are checked, every
                                known identifier reads as 0, nothing is
                                dropped or expanded */
} tmpl_env;

/* Expands the template src. On success returns 1 and sets *out to a new
 * string (caller frees), or returns 0 when the rule is dropped (*out
 * NULL). Returns -1 with err set to "column N: problem" on a malformed
 * expression, an unknown identifier, a model variable without a model,
 * an open range inside a segment, a range over PRESET_MAX_SPAN values or
 * an expanded pattern over PRESET_MAX_PATTERN bytes. src is untouched. */
int tmpl_expand(const char *src, const tmpl_env *env, char **out);

/* Evaluates an `if:` expression (integers, identifiers, + and -).
 * Returns 0 with *value set, or -1 with err set ("column N: ..."). */
int tmpl_eval(const char *expr, const tmpl_env *env, long long *value);

/* 1 when s is a valid parameter name ([A-Za-z_][A-Za-z0-9_]*, at most
 * PRESET_MAX_NAME bytes, not a model variable). Cannot fail. */
int tmpl_is_param_name(const char *s);

#endif
