/* pattern_match.c: running a compiled pattern (see pattern.h).
 *
 * Both levels use the classic greedy wildcard match with one backtrack
 * point (the last star seen), which is linear-times-pattern in the worst
 * case and allocation-free: inside a segment over bytes with '*', and
 * over the name's segments with '**'. Each non-star matcher consumes
 * exactly one unit (a byte, a segment), which is what makes the single
 * backtrack point enough.
 */
#include "pattern_impl.h"

#include <stdlib.h>
#include <string.h>

static int tok_one(const pattern *p, const pat_tok *t, unsigned char c)
{
    switch (t->op) {
    case TOK_LIT:
        return t->ch == c;
    case TOK_ANY:
        return 1;
    default:
        return (p->classes[t->cls][c >> 3] >> (c & 7)) & 1;
    }
}

/* One segment s[0..n) against tokens t[0..nt). */
static int glob_seg(const pattern *p, const pat_tok *t, size_t nt,
                    const char *s, size_t n)
{
    size_t ti = 0, si = 0, star_t = SIZE_MAX, star_s = 0;
    while (si < n) {
        if (ti < nt && t[ti].op == TOK_STAR) {
            star_t = ti++;
            star_s = si;
        } else if (ti < nt && tok_one(p, &t[ti], (unsigned char)s[si])) {
            ti++;
            si++;
        } else if (star_t != SIZE_MAX) {
            ti = star_t + 1;
            si = ++star_s;
        } else {
            return 0;
        }
    }
    while (ti < nt && t[ti].op == TOK_STAR)
        ti++;
    return ti == nt;
}

/* A canonical decimal segment (0, or no leading zero) inside the range. */
static int range_seg(const pat_seg *g, const char *s, size_t n)
{
    uint64_t v = 0;
    if (n == 0 || (n > 1 && s[0] == '0'))
        return 0;
    for (size_t k = 0; k < n; k++) {
        if (s[k] < '0' || s[k] > '9')
            return 0;
        if (k < 19)
            v = v * 10 + (uint64_t)(s[k] - '0');
    }
    if (n > 19) /* above every 19-digit bound */
        return g->open;
    return v >= g->lo && (g->open || v <= g->hi);
}

static int seg_one(const pattern *p, const pat_seg *g, const char *s,
                   size_t n)
{
    switch (g->kind) {
    case SEG_LIT:
        return n == g->len &&
               (n == 0 || (s[0] == p->lits[g->off] &&
                           memcmp(s, p->lits + g->off, n) == 0));
    case SEG_GLOB:
        return glob_seg(p, p->toks + g->off, g->len, s, n);
    default:
        return range_seg(g, s, n);
    }
}

/* The name's segments, found lazily: the matcher reads them in order and
 * never backtracks before one it has seen, and a name that fails on its
 * first segment costs one short scan. Shared by all branches. end[k] is
 * the index just past segment k. */
typedef struct {
    const char *s;
    size_t len;    /* at most TABLE_MAX_NAME */
    size_t known;  /* segments found so far */
    int done;      /* the last segment is among them */
    uint16_t end[TABLE_MAX_NAME + 1];
} name_segs;

/* 1 when the name has a segment k (finding it now if need be), else 0. */
static int segs_have(name_segs *ns, size_t k)
{
    while (ns->known <= k) {
        size_t pos;
        if (ns->done)
            return 0;
        pos = ns->known ? ns->end[ns->known - 1] + 1u : 0;
        while (pos < ns->len && ns->s[pos] != '.')
            pos++;
        ns->end[ns->known++] = (uint16_t)pos;
        if (pos == ns->len)
            ns->done = 1;
    }
    return 1;
}

/* One branch against the whole name; si is the next name segment. */
static int branch_match(const pattern *p, const pat_branch *b,
                        name_segs *ns)
{
    const pat_seg *g = p->segs + b->first;
    size_t np = b->n, pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;
    while (segs_have(ns, si)) {
        size_t st, e;
        if (pi < np && g[pi].kind == SEG_DSTAR) {
            if (pi + 1 == np)
                return 1; /* a trailing '**' takes the rest */
            star_p = pi++;
            star_s = si;
            continue;
        }
        st = si ? ns->end[si - 1] + 1u : 0;
        e = ns->end[si];
        if (pi < np && seg_one(p, &g[pi], ns->s + st, e - st)) {
            pi++;
            si++;
        } else if (star_p != SIZE_MAX) {
            pi = star_p + 1;
            si = ++star_s;
        } else {
            return 0;
        }
    }
    while (pi < np && g[pi].kind == SEG_DSTAR)
        pi++;
    return pi == np;
}

int pattern_match(const pattern *p, const char *name, size_t len)
{
    name_segs ns;
    if (p->is_regex)
        return pattern_regex_match(p, name, len);
    if (len > TABLE_MAX_NAME)
        return 0;
    ns.s = name;
    ns.len = len;
    ns.known = 0;
    ns.done = 0;
    for (size_t i = 0; i < p->nbranches; i++)
        if (branch_match(p, &p->branches[i], &ns))
            return 1;
    return 0;
}

size_t pattern_match_table(const pattern *p, const table *t, bitset *out)
{
    size_t count = 0;
    for (size_t i = 0; i < t->count; i++) {
        const table_tensor *x = &t->tensors[i];
        if (pattern_match(p, t->arena + x->name_off, x->name_len)) {
            bitset_set(out, i);
            count++;
        }
    }
    return count;
}

const char *pattern_source(const pattern *p)
{
    return p->src;
}

int pattern_is_regex(const pattern *p)
{
    return p->is_regex;
}

void pattern_free(pattern *p)
{
    if (!p)
        return;
    if (p->is_regex)
        regfree(&p->re);
    free(p->src);
    free(p->re_lit);
    free(p->branches);
    free(p->segs);
    free(p->toks);
    free(p->classes);
    free(p->lits);
    free(p);
}
