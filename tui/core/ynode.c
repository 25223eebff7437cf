/* ynode.c: lookups, scalar conversions and messages on yamldoc nodes
 * (see yamldoc.h; the parser is yamldoc.c). */
#include "yamldoc.h"

#include "err.h"
#include "suggest.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const ynode *ynode_get(const ynode *map, const char *key)
{
    if (!map || map->type != YNODE_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < map->n; i += 2)
        if (strcmp(map->items[i]->str, key) == 0)
            return map->items[i + 1];
    return NULL;
}

int ynode_error(const yamldoc *d, const ynode *n, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!n)
        return err_set("%s: %s", yamldoc_name(d), msg);
    return err_set("%s:%u:%u: %s", yamldoc_name(d), n->line, n->col, msg);
}

static const char *type_word(const ynode *n)
{
    if (!n)
        return "nothing";
    if (n->type == YNODE_MAP)
        return "a mapping";
    if (n->type == YNODE_SEQ)
        return "a list";
    return n->quoted ? "a quoted string" : "a scalar";
}

/* "expected an integer for 'lr', found a list" and the like. */
static int type_error(const yamldoc *d, const ynode *n, const char *want)
{
    char found[64] = "";
    if (!n || n->type != YNODE_SCALAR || n->quoted)
        snprintf(found, sizeof found, ", found %s", type_word(n));
    if (n && n->key)
        return ynode_error(d, n, "expected %s for '%s'%s", want, n->key,
                           found);
    return ynode_error(d, n, "expected %s%s", want, found);
}

static int is_plain(const ynode *n)
{
    return n && n->type == YNODE_SCALAR && !n->quoted;
}

static int parse_digits(const char *s, unsigned long long *out)
{
    unsigned long long v = 0;
    if (*s < '0' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned dgt = (unsigned)(*s - '0');
        if (v > (ULLONG_MAX - dgt) / 10)
            return -2;
        v = v * 10 + dgt;
    }
    if (*s)
        return -1;
    *out = v;
    return 0;
}

int ynode_u64(const yamldoc *d, const ynode *n, unsigned long long *out)
{
    unsigned long long v;
    if (!is_plain(n))
        return type_error(d, n, "an integer");
    const char *s = n->str[0] == '+' ? n->str + 1 : n->str;
    int r = parse_digits(s, &v);
    if (r == -2)
        return type_error(d, n, "an integer in range");
    if (r < 0)
        return type_error(d, n, "a non-negative integer");
    *out = v;
    return 0;
}

int ynode_i64(const yamldoc *d, const ynode *n, long long *out)
{
    unsigned long long v;
    if (!is_plain(n))
        return type_error(d, n, "an integer");
    const char *s = n->str;
    int neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    int r = parse_digits(s, &v);
    if (r == -1)
        return type_error(d, n, "an integer");
    if (r == -2 || v > (unsigned long long)LLONG_MAX + (unsigned)neg)
        return type_error(d, n, "an integer in range");
    *out = neg ? (v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN
                                                         : -(long long)v)
               : (long long)v;
    return 0;
}

/* [-+]?(digits[.digits?]|.digits)([eE][-+]?digits)? */
static int float_syntax(const char *s)
{
    size_t digits = 0;
    if (*s == '-' || *s == '+')
        s++;
    for (; *s >= '0' && *s <= '9'; s++)
        digits++;
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9'; s++)
            digits++;
    if (!digits)
        return 0;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+')
            s++;
        if (*s < '0' || *s > '9')
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

int ynode_double(const yamldoc *d, const ynode *n, double *out)
{
    if (!is_plain(n) || !float_syntax(n->str))
        return type_error(d, n, "a number");
    errno = 0;
    double v = strtod(n->str, NULL);
    if (errno == ERANGE && (v > 1.0 || v < -1.0))
        return type_error(d, n, "a number in range");
    *out = v;
    return 0;
}

int ynode_bool(const yamldoc *d, const ynode *n, int *out)
{
    static const char *const t[] = {"true", "True", "TRUE"};
    static const char *const f[] = {"false", "False", "FALSE"};
    if (is_plain(n)) {
        for (size_t i = 0; i < 3; i++) {
            if (strcmp(n->str, t[i]) == 0) {
                *out = 1;
                return 0;
            }
            if (strcmp(n->str, f[i]) == 0) {
                *out = 0;
                return 0;
            }
        }
    }
    return type_error(d, n, "true or false");
}

int ynode_string(const yamldoc *d, const ynode *n, const char **out)
{
    if (!n || n->type != YNODE_SCALAR) {
        char found[64];
        snprintf(found, sizeof found, ", found %s", type_word(n));
        if (n && n->key)
            return ynode_error(d, n, "expected a string for '%s'%s", n->key,
                               found);
        return ynode_error(d, n, "expected a string%s", found);
    }
    *out = n->str;
    return 0;
}

int ynode_check_keys(const yamldoc *d, const ynode *map,
                     const char *const *allowed)
{
    if (!map || map->type != YNODE_MAP)
        return type_error(d, map, "a mapping");
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const ynode *k = map->items[i];
        size_t j;
        for (j = 0; allowed[j]; j++)
            if (strcmp(k->str, allowed[j]) == 0)
                break;
        if (allowed[j])
            continue;
        char list[600], mean[SUGGEST_MAX_LEN + 40] = "";
        size_t used = 0;
        suggest sg;
        list[0] = '\0';
        suggest_begin(&sg, k->str);
        for (j = 0; allowed[j]; j++)
            suggest_offer(&sg, allowed[j]);
        if (sg.best)
            snprintf(mean, sizeof mean, "; did you mean '%s'?", sg.best);
        for (j = 0; allowed[j] && used < sizeof list; j++) {
            int w = snprintf(list + used, sizeof list - used, "%s%s",
                             j ? ", " : "", allowed[j]);
            if (w < 0)
                break;
            used += (size_t)w;
        }
        return ynode_error(d, k, "unknown key '%s'%s (expected one of: %s)",
                           k->str, mean, list);
    }
    return 0;
}
