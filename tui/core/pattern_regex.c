/* pattern_regex.c: the "re:" form (see pattern.h): a POSIX extended regex
 * (regcomp REG_EXTENDED | REG_NOSUB) searched anywhere in the name.
 *
 * glibc's regexec costs about 100 ns a name; most regexes name a literal
 * ("^lm_head", "experts\.1[0-9]\."), so the longest run of bytes every
 * match must contain is found at compile time and a memmem rejects most
 * names before regexec runs.
 */
#include "pattern_impl.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

static int fail_at(size_t *err_col, uint32_t col, const char *what)
{
    if (err_col)
        *err_col = col;
    return err_set("%s at column %u", what, (unsigned)col);
}

static void keep_longer(char *best, size_t *nbest, const char *run,
                        size_t *nrun)
{
    if (*nrun > *nbest) {
        memcpy(best, run, *nrun);
        *nbest = *nrun;
    }
    *nrun = 0;
}

/* Sets p->re_lit to the longest run of literal bytes that every match of
 * the ERE r must contain, so matching can skip regexec with a memmem.
 * Conservative: any construct it does not fully understand (alternation,
 * intervals, nested brackets, unknown escapes) leaves no run.
 * Returns 0, or -1 with err set (out of memory). */
static int regex_literal(pattern *p, const char *r)
{
    char run[PATTERN_MAX_LEN], best[PATTERN_MAX_LEN];
    size_t nrun = 0, nbest = 0, depth = 0, i = 0;
    int last_lit = 0; /* the previous atom is run[nrun - 1] */
    while (r[i]) {
        char ch = r[i];
        int prev_lit = last_lit;
        last_lit = 0;
        if (depth > 0) { /* a group: skipped, only its end is looked for */
            if (ch == '\\' && !r[i + 1])
                return 0;
            if (ch == '[')
                return 0;
            depth += ch == '(';
            depth -= ch == ')';
            i += ch == '\\' ? 2 : 1;
            continue;
        }
        switch (ch) {
        case '|': case '{': case '}': case ')':
            return 0;
        case '*': case '?': case '+':
            if (r[i + 1] == '*' || r[i + 1] == '?' || r[i + 1] == '+' ||
                r[i + 1] == '{')
                return 0;
            if (ch != '+' && prev_lit)
                nrun--; /* that byte may be absent */
            keep_longer(best, &nbest, run, &nrun);
            i++;
            continue;
        case '[': {
            size_t j = i + 1;
            keep_longer(best, &nbest, run, &nrun);
            if (r[j] == '^')
                j++;
            if (r[j] == ']')
                j++;
            while (r[j] && r[j] != ']') {
                if (r[j] == '[')
                    return 0;
                j++;
            }
            if (!r[j])
                return 0;
            i = j + 1;
            continue;
        }
        case '(':
            keep_longer(best, &nbest, run, &nrun);
            depth = 1;
            i++;
            continue;
        case '.': case '^': case '$':
            keep_longer(best, &nbest, run, &nrun);
            i++;
            continue;
        case '\\': {
            /* only escapes known to stand for the byte itself (GNU
             * gives \w \< \` \' and others other meanings) */
            unsigned char e = (unsigned char)r[i + 1];
            if (!e || !strchr(".[](){}*+?|^$\\/-:,_=", e))
                return 0;
            ch = (char)e;
            i++;
            break;
        }
        default:
            break;
        }
        run[nrun++] = ch;
        last_lit = 1;
        i++;
    }
    if (depth > 0)
        return 0;
    keep_longer(best, &nbest, run, &nrun);
    if (nbest == 0)
        return 0;
    p->re_lit = malloc(nbest);
    if (!p->re_lit)
        return err_set("pattern: out of memory");
    memcpy(p->re_lit, best, nbest);
    p->re_lit_len = nbest;
    return 0;
}

/* glibc's regcomp copies a counted repeat's operand once per count, so
 * stacked quantifiers (`a{1,1000}{1,1000}`, `p+++++...`) or counted
 * repeats inside counted repeats take gigabytes and minutes. Refused
 * before regcomp: a quantifier right after another, a count above
 * REGEX_MAX_REPEAT, a counted repeat of a group holding one, and groups
 * nested deeper than REGEX_MAX_DEPTH. Returns 0, or -1 with err set. */
#define REGEX_MAX_REPEAT 255
#define REGEX_MAX_DEPTH 32

static int regex_check_safe(const char *r, size_t *err_col)
{
    int counted[REGEX_MAX_DEPTH + 1] = {0}; /* group holds a {m,n} */
    size_t depth = 0, i = 0;
    int prev_quant = 0, prev_group_counted = 0;
    while (r[i]) {
        uint32_t col = (uint32_t)(i + 4);
        char ch = r[i];
        int quant = 0, closed_counted = 0;
        if (ch == '\\') {
            i += r[i + 1] ? 2 : 1;
        } else if (ch == '[') {
            size_t j = i + 1;
            if (r[j] == '^')
                j++;
            if (r[j] == ']')
                j++;
            while (r[j] && r[j] != ']') {
                if (r[j] == '[' && (r[j + 1] == ':' || r[j + 1] == '.' ||
                                    r[j + 1] == '=')) {
                    char end = r[j + 1];
                    j += 2;
                    while (r[j] && !(r[j] == end && r[j + 1] == ']'))
                        j++;
                    if (r[j])
                        j++;
                }
                if (r[j])
                    j++;
            }
            i = r[j] ? j + 1 : j;
        } else if (ch == '(') {
            if (++depth > REGEX_MAX_DEPTH)
                return fail_at(err_col, col, "groups nested deeper than 32");
            counted[depth] = 0;
            i++;
        } else if (ch == ')') {
            if (depth > 0) {
                closed_counted = counted[depth];
                depth--;
                if (closed_counted)
                    counted[depth] = 1;
            }
            i++;
        } else if (ch == '*' || ch == '+' || ch == '?' || ch == '{') {
            quant = 1;
            if (prev_quant)
                return fail_at(err_col, col,
                               "a quantifier right after another one");
            if (ch == '{') {
                char *end;
                unsigned long lo = strtoul(r + i + 1, &end, 10), hi = lo;
                if (*end == ',')
                    hi = end[1] == '}' ? 0 : strtoul(end + 1, &end, 10);
                if (lo > REGEX_MAX_REPEAT || hi > REGEX_MAX_REPEAT)
                    return fail_at(err_col, col, "a repeat count above 255");
                if (prev_group_counted)
                    return fail_at(err_col, col, "a counted repeat of a "
                                   "group that holds one");
                counted[depth] = 1;
                while (r[i] && r[i] != '}')
                    i++;
            }
            if (r[i])
                i++;
        } else {
            i++;
        }
        prev_quant = quant;
        prev_group_counted = closed_counted;
    }
    return 0;
}

/* The C locale. regcomp and regexec read the thread's locale (bytes or
 * multibyte characters, collation of ranges), and the editor sets
 * LC_CTYPE from the environment to draw UTF-8, so a regex runs under the
 * C locale in every mode: on bytes, the same everywhere. (locale_t)0
 * when it cannot be made; the process locale is used then. */
static locale_t c_locale(void)
{
    static locale_t c;
    if (!c)
        c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    return c;
}

/* uselocale(c) when c is a locale; returns the locale to restore. */
static locale_t enter_c(void)
{
    locale_t c = c_locale();
    return c ? uselocale(c) : (locale_t)0;
}

static void leave_c(locale_t old)
{
    if (old)
        uselocale(old);
}

int pattern_regex_compile(pattern *p, size_t *err_col)
{
    int rc;
    if (p->src[3] == '\0')
        return fail_at(err_col, 4, "empty regex after 're:'");
    if (regex_check_safe(p->src + 3, err_col))
        return -1;
    locale_t old = enter_c();
    rc = regcomp(&p->re, p->src + 3, REG_EXTENDED | REG_NOSUB);
    leave_c(old);
    if (rc != 0) {
        char msg[256], what[320];
        regerror(rc, &p->re, msg, sizeof msg);
        snprintf(what, sizeof what, "invalid regex (%s)", msg);
        return fail_at(err_col, 4, what);
    }
    p->is_regex = 1;
    return regex_literal(p, p->src + 3);
}

int pattern_regex_match(const pattern *p, const char *name, size_t len)
{
    if (p->re_lit && !memmem(name, len, p->re_lit, p->re_lit_len))
        return 0;
    int rc;
    locale_t old = enter_c();
#ifdef REG_STARTEND
    regmatch_t m[1];
    m[0].rm_so = 0;
    m[0].rm_eo = (regoff_t)len;
    rc = regexec(&p->re, name, 1, m, REG_STARTEND);
#else
    char buf[TABLE_MAX_NAME + 1];
    rc = 1;
    if (len <= TABLE_MAX_NAME) {
        memcpy(buf, name, len);
        buf[len] = '\0';
        rc = regexec(&p->re, buf, 0, NULL, 0);
    }
#endif
    leave_c(old);
    return rc == 0;
}

