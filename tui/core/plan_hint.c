/* plan_hint.c: what to try instead of a pattern that does not compile or
 * matches nothing (plan_hint in plan_resolve.h): the seed article's
 * substring forms, a one-segment '*' meant for any depth, and the
 * closest names of the model. */
#include "plan_resolve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"
#include "suggest.h"

#define HINT_UNITS 64   /* segments of a pattern looked at */
#define HINT_NAMES 3    /* closest names listed */
#define HINT_SHOWN 200  /* bytes of a pattern quoted in a hint */

/* Model tensors are parameters and buffers. */
static int is_model(const table *t, size_t i)
{
    unsigned k = table_at(t, i)->kind;
    return k == TK_PARAMETER || k == TK_BUFFER;
}

/* 1 when pattern `src` compiles and matches a model tensor of t. */
static int matches_some(const table *t, const char *src)
{
    pattern *p = pattern_compile(src, NULL);
    int hit = 0;
    if (!p)
        return 0;
    for (size_t i = 0; i < t->count && !hit; i++)
        if (is_model(t, i))
            hit = pattern_match(p, table_name(t, i),
                                table_at(t, i)->name_len);
    pattern_free(p);
    return hit;
}

/* 1 when s (len bytes) holds no glob syntax. */
static int is_literal(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (strchr("*?[]{}\\", s[i]))
            return 0;
    return len > 0;
}

/* Splits src at the dots outside braces (an escaped character is
 * skipped) into at most HINT_UNITS units: start[k], len[k]. Returns the
 * count, or 0 when there are more. */
static size_t split_units(const char *src, size_t *start, size_t *len)
{
    size_t n = 0, depth = 0, begin = 0, i = 0;
    for (;; i++) {
        char c = src[i];
        if (c == '\\' && src[i + 1]) {
            i++;
            continue;
        }
        if (c == '{')
            depth++;
        else if (c == '}' && depth)
            depth--;
        if (c == '\0' || (c == '.' && depth == 0)) {
            if (n == HINT_UNITS)
                return 0;
            start[n] = begin;
            len[n++] = i - begin;
            begin = i + 1;
        }
        if (c == '\0')
            return n;
    }
}

/* The seed article's substring forms: "layer1.0." (a trailing dot) and
 * ".embeddings" (a leading one). Writes the hint and returns 1, or 0. */
static int hint_dots(const char *src, char *buf, size_t cap)
{
    size_t n = strlen(src), a = 0, b = n;
    while (a < n && src[a] == '.')
        a++;
    while (b > a && src[b - 1] == '.' && (b < 2 || src[b - 2] != '\\'))
        b--;
    if ((a == 0 && b == n) || a == b || b - a > HINT_SHOWN)
        return 0;
    int bare = (int)(b - a);
    if (a == 0) {
        snprintf(buf, cap, "; drop the trailing dot: a pattern that names a "
                 "module means its subtree (%.*s)", bare, src + a);
        return 1;
    }
    snprintf(buf, cap, "; drop the %s: a pattern matches a name from its "
             "start and a module means its subtree (**.%.*s at any depth)",
             b == n ? "leading dot" : "dots", bare, src + a);
    return 1;
}

/* A pattern that would match at any depth: "*LayerNorm*" for
 * "**.LayerNorm", "attention" for "**.attention". Writes the hint and
 * returns 1, or 0. */
static int hint_depth(const table *t, const char *src, char *buf, size_t cap)
{
    size_t n = strlen(src);
    char any[HINT_SHOWN + 8];
    if (n > HINT_SHOWN || strncmp(src, "**", 2) == 0 || strchr(src, '.'))
        return 0;
    size_t a = 0, b = n;
    while (a < b && src[a] == '*')
        a++;
    while (b > a && src[b - 1] == '*')
        b--;
    if ((a || b < n) && is_literal(src + a, b - a)) {
        snprintf(any, sizeof any, "**.%.*s", (int)(b - a), src + a);
        if (matches_some(t, any)) {
            snprintf(buf, cap, "; * matches within one segment; use %s.** "
                     "for every %.*s", any, (int)(b - a), src + a);
            return 1;
        }
    }
    snprintf(any, sizeof any, "**.%s", src);
    if (!matches_some(t, any))
        return 0;
    if (strchr(src, '*'))
        snprintf(buf, cap, "; * matches within one segment; use %s for "
                 "every segment like %s at any depth", any, src);
    else
        snprintf(buf, cap, "; a pattern matches a name from its start; use "
                 "%s for every %s", any, src);
    return 1;
}

/* The closest candidates so far: a name's first `len` bytes, whose last
 * segment starts at `seg`. One per last segment: the first offered of
 * the nearest (layer1.0.bn1 stands for layer2.0.bn1 too). */
typedef struct {
    const char *name[HINT_NAMES];
    size_t len[HINT_NAMES], seg[HINT_NAMES], dist[HINT_NAMES],
        depth[HINT_NAMES];
    size_t n;
} closest;

/* Offers name[0..len) (its last segment at seg) at distance dist, depth
 * depth. */
static void closest_offer(closest *c, const char *name, size_t len,
                          size_t seg, size_t dist, size_t depth)
{
    size_t i;
    for (i = 0; i < c->n; i++)
        if (c->len[i] - c->seg[i] == len - seg &&
            memcmp(c->name[i] + c->seg[i], name + seg, len - seg) == 0)
            return;
    for (i = c->n; i > 0; i--) {
        size_t j = i - 1;
        if (c->dist[j] < dist || (c->dist[j] == dist && c->depth[j] <= depth))
            break;
    }
    if (i >= HINT_NAMES)
        return;
    size_t last = c->n < HINT_NAMES ? c->n : HINT_NAMES - 1;
    for (size_t j = last; j > i; j--) {
        c->name[j] = c->name[j - 1];
        c->len[j] = c->len[j - 1];
        c->seg[j] = c->seg[j - 1];
        c->dist[j] = c->dist[j - 1];
        c->depth[j] = c->depth[j - 1];
    }
    c->name[i] = name;
    c->len[i] = len;
    c->seg[i] = seg;
    c->dist[i] = dist;
    c->depth[i] = depth;
    if (c->n < HINT_NAMES)
        c->n++;
}

/* The names closest to the first unit of src that matches nothing, below
 * the modules its preceding units match. Writes the hint and returns 1,
 * or 0. */
static int hint_closest(const table *t, const char *src, char *buf,
                        size_t cap)
{
    size_t start[HINT_UNITS], len[HINT_UNITS];
    size_t nu = split_units(src, start, len);
    char pre[PATTERN_MAX_LEN + 1], word[SUGGEST_MAX_LEN + 1];
    pattern *p = NULL;
    size_t k;
    if (nu == 0 || strlen(src) > PATTERN_MAX_LEN)
        return 0;
    /* the longest run of leading units that matches something */
    for (k = nu - 1; k > 0; k--) {
        snprintf(pre, sizeof pre, "%.*s", (int)(start[k - 1] + len[k - 1]),
                 src);
        if (matches_some(t, pre))
            break;
    }
    if (!is_literal(src + start[k], len[k]) || len[k] > SUGGEST_MAX_LEN)
        return 0;
    snprintf(word, sizeof word, "%.*s", (int)len[k], src + start[k]);
    if (k > 0 && !(p = pattern_compile(pre, NULL)))
        return 0;
    suggest sg;
    suggest_begin(&sg, word);
    closest c;
    memset(&c, 0, sizeof c);
    for (size_t i = 0; i < t->count; i++) {
        if (!is_model(t, i))
            continue;
        const char *name = table_name(t, i);
        size_t nl = table_at(t, i)->name_len, at = 0;
        /* at: the end of the module of depth d (0: the root) */
        for (size_t d = 0; at < nl; d++) {
            size_t seg = at ? at + 1 : 0;
            const char *dot = memchr(name + seg, '.', nl - seg);
            size_t end = dot ? (size_t)(dot - name) : nl;
            if (k == 0 ? d == 0 : pattern_match(p, name, at)) {
                char s[SUGGEST_MAX_LEN + 1];
                if (end - seg <= SUGGEST_MAX_LEN) {
                    memcpy(s, name + seg, end - seg);
                    s[end - seg] = '\0';
                    size_t dist = suggest_distance(word, s);
                    if (dist <= sg.limit)
                        closest_offer(&c, name, end, seg, dist, d);
                }
            }
            if (k == 0)
                break;
            at = end;
        }
    }
    pattern_free(p);
    if (c.n == 0)
        return 0;
    size_t used = (size_t)snprintf(buf, cap, "; closest %s:",
                                   c.n == 1 ? "name" : "names");
    for (size_t i = 0; i < c.n && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s %.*s",
                                 i ? "," : "",
                                 (int)(c.len[i] > HINT_SHOWN ? HINT_SHOWN
                                                             : c.len[i]),
                                 c.name[i]);
    return 1;
}

const char *plan_hint_name(const table *t, const char *name, char *buf,
                           size_t cap)
{
    if (cap == 0)
        return buf;
    buf[0] = '\0';
    hint_closest(t, name, buf, cap);
    return buf;
}

const char *plan_hint(const table *t, const char *src, char *buf,
                      size_t cap)
{
    if (cap == 0)
        return buf;
    buf[0] = '\0';
    if (!src || strncmp(src, "re:", 3) == 0)
        return buf;
    if (!hint_dots(src, buf, cap) && !hint_depth(t, src, buf, cap))
        hint_closest(t, src, buf, cap);
    return buf;
}
