/* preset_template.c: template expressions in preset rules (see preset.h
 * for the language, preset_template.h for the calls). */
#include "preset_template.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* A growing output string, bounded by PRESET_MAX_PATTERN. */
typedef struct {
    char *s;
    size_t len, cap;
    int oom, too_long;
} sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n)
{
    if (b->oom || b->too_long)
        return;
    if (b->len + n > PRESET_MAX_PATTERN) {
        b->too_long = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 64;
        while (ncap < b->len + n + 1)
            ncap *= 2;
        char *p = realloc(b->s, ncap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = ncap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_putnum(sbuf *b, long long v)
{
    char num[32];
    int n = snprintf(num, sizeof num, "%lld", v);
    sb_putn(b, num, (size_t)n);
}

static int is_ident_start(int c)
{
    return isalpha(c) || c == '_';
}

static int is_ident_char(int c)
{
    return isalnum(c) || c == '_';
}

static int is_model_var(const char *s, size_t n)
{
    return n == 6 && memcmp(s, "layers", 6) == 0;
}

/* Index of parameter `s` (n bytes) in p, or -1. */
static long param_index(const preset *p, const char *s, size_t n)
{
    for (size_t i = 0; i < p->nparams; i++)
        if (strlen(p->params[i].name) == n &&
            memcmp(p->params[i].name, s, n) == 0)
            return (long)i;
    return -1;
}

int tmpl_is_param_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > PRESET_MAX_NAME || !is_ident_start((unsigned char)s[0]))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!is_ident_char((unsigned char)s[i]))
            return 0;
    return !is_model_var(s, n);
}

/* The value of identifier s[0..n). col is its 1-based column. */
static int lookup(const tmpl_env *env, const char *s, size_t n, size_t col,
                  long long *v)
{
    long k = param_index(env->p, s, n);
    if (k >= 0) {
        *v = env->check_only ? 0 : env->values[k];
        return 0;
    }
    if (is_model_var(s, n)) {
        if (env->check_only) {
            *v = 0;
            return 0;
        }
        if (!env->vars)
            return err_set("column %zu: '%.*s' is a model variable and no "
                           "model is open", col, (int)n, s);
        *v = env->vars->layers;
        return 0;
    }
    return err_set("column %zu: unknown name '%.*s' (not a parameter of "
                   "this preset nor a model variable)", col, (int)n, s);
}

/* Evaluates src[b..e): ['-'] operand {('+'|'-') operand}, operands being
 * integers (at most 10 digits) and identifiers. Columns are reported
 * relative to src. */
static int eval_span(const char *src, size_t b, size_t e,
                     const tmpl_env *env, long long *out)
{
    long long acc = 0;
    int sign = 1;
    size_t i = b;
    while (i < e && src[i] == ' ')
        i++;
    if (i < e && src[i] == '-') {
        sign = -1;
        i++;
    }
    for (;;) {
        long long v = 0;
        while (i < e && src[i] == ' ')
            i++;
        if (i >= e)
            return err_set("column %zu: expected a number or a name", i + 1);
        int c = (unsigned char)src[i];
        if (isdigit(c)) {
            size_t s = i;
            while (i < e && isdigit((unsigned char)src[i])) {
                if (i - s >= 10)
                    return err_set("column %zu: number too large", s + 1);
                v = v * 10 + (src[i] - '0');
                i++;
            }
        } else if (is_ident_start(c)) {
            size_t s = i;
            while (i < e && is_ident_char((unsigned char)src[i]))
                i++;
            if (lookup(env, src + s, i - s, s + 1, &v))
                return -1;
        } else {
            return err_set("column %zu: unexpected '%c' in an expression",
                           i + 1, c);
        }
        if (__builtin_add_overflow(acc, sign * v, &acc))
            return err_set("column %zu: value out of range", i + 1);
        while (i < e && src[i] == ' ')
            i++;
        if (i >= e)
            break;
        if (src[i] == '+')
            sign = 1;
        else if (src[i] == '-')
            sign = -1;
        else
            return err_set("column %zu: unexpected '%c' in an expression",
                           i + 1, src[i]);
        i++;
    }
    *out = acc;
    return 0;
}

int tmpl_eval(const char *expr, const tmpl_env *env, long long *value)
{
    return eval_span(expr, 0, strlen(expr), env, value);
}

/* Whether the brace group src[b..e) (inside the braces) is a template;
 * *dots gets the offset of its "..", or e. */
static int is_template(const tmpl_env *env, const char *src, size_t b,
                       size_t e, size_t *dots)
{
    int has_ident = 0, has_op = 0, known = 0;
    *dots = e;
    for (size_t i = b; i < e;) {
        int c = (unsigned char)src[i];
        if (c == '.') {
            if (i + 1 >= e || src[i + 1] != '.' ||
                (i + 2 < e && src[i + 2] == '.') || *dots != e)
                return 0;
            *dots = i;
            has_op = 1;
            i += 2;
        } else if (is_ident_start(c)) {
            size_t s = i;
            while (i < e && is_ident_char((unsigned char)src[i]))
                i++;
            has_ident = 1;
            if (param_index(env->p, src + s, i - s) >= 0 ||
                is_model_var(src + s, i - s))
                known = 1;
        } else if (c == '+' || c == '-') {
            has_op = 1;
            i++;
        } else if (isdigit(c) || c == ' ') {
            i++;
        } else {
            return 0;
        }
    }
    return has_ident && (known || has_op);
}

/* Whether src[i..e) holds only spaces. */
static int blank(const char *src, size_t i, size_t e)
{
    for (; i < e; i++)
        if (src[i] != ' ')
            return 0;
    return 1;
}

/* Expands one template group src[b..e) (between braces at b-1 and e).
 * Returns 1 kept, 0 drop the rule, -1 error. */
static int expand_group(const char *src, size_t b, size_t e, size_t dots,
                        int regex, const tmpl_env *env, sbuf *out)
{
    long long lo = 0, hi = 0;
    size_t open = b - 1;
    int whole = !regex && (open == 0 || src[open - 1] == '.') &&
                (src[e + 1] == '\0' || src[e + 1] == '.');
    if (dots == e) {
        if (eval_span(src, b, e, env, &lo))
            return -1;
        if (lo < 0 && !env->check_only)
            return 0;
        sb_putnum(out, lo);
        return 1;
    }
    int has_lo = !blank(src, b, dots), has_hi = !blank(src, dots + 2, e);
    if (!has_lo && !has_hi)
        return err_set("column %zu: empty range", open + 1);
    if (has_lo && eval_span(src, b, dots, env, &lo))
        return -1;
    if (has_hi && eval_span(src, dots + 2, e, env, &hi))
        return -1;
    if (!has_hi && !whole)
        return err_set("column %zu: an open range must fill a whole "
                       "segment of a glob", open + 1);
    if (env->check_only)
        return 1;
    if (lo < 0)
        lo = 0;
    if (has_hi && hi < lo)
        return 0;
    if (whole) {
        sb_putn(out, "{", 1);
        sb_putnum(out, lo);
        sb_putn(out, "..", 2);
        if (has_hi)
            sb_putnum(out, hi);
        sb_putn(out, "}", 1);
        return 1;
    }
    if (hi == lo) {
        sb_putnum(out, lo);
        return 1;
    }
    if (hi - lo >= PRESET_MAX_SPAN)
        return err_set("column %zu: range %lld..%lld inside a segment has "
                       "more than %d values", open + 1, lo, hi,
                       PRESET_MAX_SPAN);
    sb_putn(out, regex ? "(" : "{", 1);
    for (long long v = lo; v <= hi; v++) {
        if (v > lo)
            sb_putn(out, regex ? "|" : ",", 1);
        sb_putnum(out, v);
    }
    sb_putn(out, regex ? ")" : "}", 1);
    return 1;
}

int tmpl_expand(const char *src, const tmpl_env *env, char **out)
{
    sbuf b = {NULL, 0, 0, 0, 0};
    int rc = -1, regex = strncmp(src, "re:", 3) == 0;
    size_t n = strlen(src), i = 0;

    if (out)
        *out = NULL;
    while (i < n) {
        char c = src[i];
        if (c == '\\' && i + 1 < n) {
            sb_putn(&b, src + i, 2);
            i += 2;
        } else if (c == '[') {
            const char *close = strchr(src + i + 1, ']');
            size_t m = close ? (size_t)(close - (src + i)) + 1 : n - i;
            sb_putn(&b, src + i, m);
            i += m;
        } else if (c == '{') {
            const char *close = strchr(src + i + 1, '}');
            const char *inner = strchr(src + i + 1, '{');
            size_t e = close ? (size_t)(close - src) : n, dots;
            if (close && (!inner || inner > close) &&
                is_template(env, src, i + 1, e, &dots)) {
                int k = expand_group(src, i + 1, e, dots, regex, env, &b);
                if (k <= 0) {
                    rc = k;
                    goto cleanup;
                }
                i = e + 1;
            } else {
                sb_putn(&b, "{", 1);
                i++;
            }
        } else {
            sb_putn(&b, src + i, 1);
            i++;
        }
    }
    if (b.oom) {
        err_set("out of memory");
        goto cleanup;
    }
    if (b.too_long) {
        err_set("expanded pattern longer than %u bytes", PRESET_MAX_PATTERN);
        goto cleanup;
    }
    if (out) {
        if (!b.s && !(b.s = calloc(1, 1))) {
            err_set("out of memory");
            goto cleanup;
        }
        *out = b.s;
        b.s = NULL;
    }
    rc = 1;
cleanup:
    free(b.s);
    return rc;
}
