/* pattern_compile.c: pattern source -> compiled branches (see pattern.h).
 *
 * Three passes over a glob:
 *   1. validate: brackets, braces, escapes, ranges and empty alternatives,
 *      on the source itself, so the leftmost syntax error is the one told;
 *   2. expand: each {a,b} group (not ranges) is expanded, bash-style, into
 *      one string per alternative; every byte carries its source column;
 *   3. emit: each expanded string is split at '.' into segment matchers.
 * Errors found in pass 3 ('**' or a range that is not a whole segment,
 * an empty segment) still point at the source column.
 */
#include "pattern_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* Bytes copied while expanding, all strings together: bounds the work a
 * hostile pattern can ask for (a few KiB for any real pattern). */
#define EXPAND_WORK_MAX (16u << 20)

typedef struct {
    pattern *p;
    size_t *err_col;
    size_t work;     /* bytes copied by expand() so far */
    size_t expanded; /* bytes of all emitted branches */
} cctx;

static int fail_at(size_t *err_col, uint32_t col, const char *what)
{
    if (err_col)
        *err_col = col;
    return err_set("%s at column %u", what, (unsigned)col);
}

/* Makes room for `need` elements of `elsz` bytes. Returns the (maybe
 * moved) buffer, or NULL with err set; the old buffer and *cap are then
 * unchanged. */
static void *grow(void *buf, size_t *cap, size_t need, size_t elsz)
{
    size_t ncap = *cap ? *cap : 16;
    void *nb;
    if (need <= *cap)
        return buf;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / elsz) {
            err_set("pattern: out of memory");
            return NULL;
        }
        ncap *= 2;
    }
    nb = realloc(buf, ncap * elsz);
    if (!nb) {
        err_set("pattern: out of memory");
        return NULL;
    }
    *cap = ncap;
    return nb;
}

/* Reads one class member at s[*j] (maybe escaped) into *c and advances. */
static int class_char(const char *s, const uint32_t *cols, size_t n,
                      size_t *j, unsigned *c, size_t *err_col)
{
    if (s[*j] == '\\') {
        if (*j + 1 >= n)
            return fail_at(err_col, cols[*j], "trailing '\\'");
        *c = (unsigned char)s[*j + 1];
        *j += 2;
        return 0;
    }
    *c = (unsigned char)s[*j];
    *j += 1;
    return 0;
}

/* Reads the class at s[i] == '['. Fills map when not NULL and sets *end
 * to the index after its ']'. Returns 0, or -1 with err set. */
static int class_parse(const char *s, const uint32_t *cols, size_t n,
                       size_t i, uint8_t *map, size_t *end, size_t *err_col)
{
    uint8_t m[32] = {0};
    size_t j = i + 1;
    int neg = 0, first = 1;
    if (j < n && (s[j] == '!' || s[j] == '^')) {
        neg = 1;
        j++;
    }
    for (;;) {
        unsigned lo, hi;
        size_t at = j;
        if (j >= n)
            return fail_at(err_col, cols[i], "unclosed '['");
        if (s[j] == ']' && !first)
            break;
        first = 0;
        if (class_char(s, cols, n, &j, &lo, err_col) < 0)
            return -1;
        hi = lo;
        if (j + 1 < n && s[j] == '-' && s[j + 1] != ']') {
            j++;
            if (class_char(s, cols, n, &j, &hi, err_col) < 0)
                return -1;
            if (hi < lo) {
                char what[64];
                snprintf(what, sizeof what, "empty class range '%c-%c'",
                         (char)lo, (char)hi);
                return fail_at(err_col, cols[at], what);
            }
        }
        for (unsigned c = lo; c <= hi; c++)
            m[c >> 3] |= (uint8_t)(1u << (c & 7));
    }
    if (neg)
        for (size_t k = 0; k < sizeof m; k++)
            m[k] = (uint8_t)~m[k];
    if (map)
        memcpy(map, m, sizeof m);
    *end = j + 1;
    return 0;
}

static uint64_t parse_u64(const char *s, size_t n)
{
    uint64_t v = 0;
    for (size_t k = 0; k < n; k++)
        v = v * 10 + (uint64_t)(s[k] - '0');
    return v;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* s[i] == '{'. Returns 1 and fills r (kind, lo, hi, open) and *end (the
 * index after '}') when s[i..] is a range {A..B} with A and B decimal and
 * at least one present; 0 when it is no range; -1 with err set when it is
 * a bad one. */
static int range_parse(const char *s, const uint32_t *cols, size_t n,
                       size_t i, pat_seg *r, size_t *end, size_t *err_col)
{
    size_t j = i + 1, a0 = j, alen, b0, blen;
    while (j < n && is_digit(s[j]))
        j++;
    alen = j - a0;
    if (j + 1 >= n || s[j] != '.' || s[j + 1] != '.')
        return 0;
    j += 2;
    b0 = j;
    while (j < n && is_digit(s[j]))
        j++;
    blen = j - b0;
    if (j >= n || s[j] != '}')
        return 0;
    if (!alen && !blen)
        return fail_at(err_col, cols[i], "range {..} needs a bound");
    if (alen > 19)
        return fail_at(err_col, cols[a0], "range bound over 19 digits");
    if (blen > 19)
        return fail_at(err_col, cols[b0], "range bound over 19 digits");
    memset(r, 0, sizeof *r);
    r->kind = SEG_RANGE;
    r->lo = parse_u64(s + a0, alen);
    r->open = blen == 0;
    r->hi = blen ? parse_u64(s + b0, blen) : UINT64_MAX;
    if (r->lo > r->hi) {
        char what[96];
        snprintf(what, sizeof what, "range {%.*s} is empty",
                 (int)(j - i - 1), s + i + 1);
        return fail_at(err_col, cols[i], what);
    }
    *end = j + 1;
    return 1;
}

/* The index after the atom at s[i]: an escape, a class, a range, or one
 * byte. Only for validated text. */
static size_t skip_atom(const char *s, const uint32_t *cols, size_t n,
                        size_t i)
{
    size_t end;
    pat_seg r;
    if (s[i] == '\\')
        return i + 2;
    if (s[i] == '[' && class_parse(s, cols, n, i, NULL, &end, NULL) == 0)
        return end;
    if (s[i] == '{' && range_parse(s, cols, n, i, &r, &end, NULL) == 1)
        return end;
    return i + 1;
}

/* Pass 1: the syntax of the whole source. Returns 0, or -1 with err set
 * at the leftmost error. */
static int validate(const char *s, const uint32_t *cols, size_t n,
                    size_t *err_col)
{
    uint32_t open[PATTERN_MAX_LEN];  /* index of each unclosed '{' */
    uint8_t full[PATTERN_MAX_LEN + 1]; /* its current alternative is not empty */
    size_t depth = 0, i = 0, end;
    pat_seg r;
    full[0] = 1;
    while (i < n) {
        int rc;
        switch (s[i]) {
        case '\\':
            if (i + 1 >= n)
                return fail_at(err_col, cols[i], "trailing '\\'");
            if (s[i + 1] == '.')
                return fail_at(err_col, cols[i],
                               "'\\.' is not allowed ('.' always separates "
                               "segments)");
            i += 2;
            break;
        case '[':
            if (class_parse(s, cols, n, i, NULL, &end, err_col) < 0)
                return -1;
            i = end;
            break;
        case ']':
            return fail_at(err_col, cols[i], "unmatched ']'");
        case '{':
            rc = range_parse(s, cols, n, i, &r, &end, err_col);
            if (rc < 0)
                return -1;
            if (rc == 1) {
                i = end;
                break;
            }
            open[depth++] = (uint32_t)i;
            full[depth] = 0;
            i++;
            continue; /* the new alternative is still empty */
        case '}':
            if (depth == 0)
                return fail_at(err_col, cols[i], "unmatched '}'");
            if (!full[depth])
                return fail_at(err_col, cols[i], "empty alternative");
            depth--;
            i++;
            break;
        case ',':
            if (depth > 0) {
                if (!full[depth])
                    return fail_at(err_col, cols[i], "empty alternative");
                full[depth] = 0;
                i++;
                continue;
            }
            i++;
            break;
        default:
            i++;
            break;
        }
        full[depth] = 1;
    }
    if (depth > 0)
        return fail_at(err_col, cols[open[depth - 1]], "unclosed '{'");
    return 0;
}

static int add_seg(pattern *p, const pat_seg *g)
{
    pat_seg *ns = grow(p->segs, &p->segs_cap, p->nsegs + 1, sizeof *ns);
    if (!ns)
        return -1;
    p->segs = ns;
    p->segs[p->nsegs++] = *g;
    return 0;
}

static int add_tok(pattern *p, uint8_t op, uint8_t ch, uint32_t cls)
{
    pat_tok *nt = grow(p->toks, &p->toks_cap, p->ntoks + 1, sizeof *nt);
    if (!nt)
        return -1;
    p->toks = nt;
    p->toks[p->ntoks].op = op;
    p->toks[p->ntoks].ch = ch;
    p->toks[p->ntoks].cls = cls;
    p->ntoks++;
    return 0;
}

/* Pass 3, one segment (n > 0 bytes, no '.' outside atoms). */
static int emit_segment(cctx *c, const char *s, const uint32_t *cols,
                        size_t n)
{
    pattern *p = c->p;
    size_t tok0 = p->ntoks, i = 0, end;
    int plain = 1;
    pat_seg g;
    memset(&g, 0, sizeof g);
    if (n == 2 && s[0] == '*' && s[1] == '*') {
        g.kind = SEG_DSTAR;
        return add_seg(p, &g);
    }
    while (i < n) {
        int rc = 0;
        switch (s[i]) {
        case '\\':
            rc = add_tok(p, TOK_LIT, (uint8_t)s[i + 1], 0);
            i += 2;
            break;
        case '*':
            if (i + 1 < n && s[i + 1] == '*')
                return fail_at(c->err_col, cols[i],
                               "'**' must be a whole segment");
            rc = add_tok(p, TOK_STAR, 0, 0);
            plain = 0;
            i++;
            break;
        case '?':
            rc = add_tok(p, TOK_ANY, 0, 0);
            plain = 0;
            i++;
            break;
        case '[': {
            uint8_t (*nc)[32] = grow(p->classes, &p->classes_cap,
                                     p->nclasses + 1, sizeof *nc);
            if (!nc)
                return -1;
            p->classes = nc;
            if (class_parse(s, cols, n, i, p->classes[p->nclasses], &end,
                            c->err_col) < 0)
                return -1;
            rc = add_tok(p, TOK_CLASS, 0, (uint32_t)p->nclasses++);
            plain = 0;
            i = end;
            break;
        }
        case '{':
            /* only ranges are left after expansion */
            if (range_parse(s, cols, n, i, &g, &end, c->err_col) != 1)
                return -1;
            if (i != 0 || end != n) {
                char what[96];
                snprintf(what, sizeof what,
                         "range {%.*s} must be a whole segment",
                         (int)(end - i - 2), s + i + 1);
                return fail_at(c->err_col, cols[i], what);
            }
            return add_seg(p, &g);
        default:
            rc = add_tok(p, TOK_LIT, (uint8_t)s[i], 0);
            i++;
            break;
        }
        if (rc < 0)
            return -1;
    }
    if (plain) {
        size_t len = p->ntoks - tok0;
        char *nl = grow(p->lits, &p->lits_cap, p->nlits + len, 1);
        if (!nl)
            return -1;
        p->lits = nl;
        for (size_t k = 0; k < len; k++)
            p->lits[p->nlits + k] = (char)p->toks[tok0 + k].ch;
        p->ntoks = tok0;
        g.kind = SEG_LIT;
        g.off = (uint32_t)p->nlits;
        g.len = (uint32_t)len;
        p->nlits += len;
        return add_seg(p, &g);
    }
    g.kind = SEG_GLOB;
    g.off = (uint32_t)tok0;
    g.len = (uint32_t)(p->ntoks - tok0);
    return add_seg(p, &g);
}

/* Pass 3: one expanded glob becomes one branch. */
static int emit_branch(cctx *c, const char *s, const uint32_t *cols,
                       size_t n)
{
    pattern *p = c->p;
    size_t first = p->nsegs, st = 0, i = 0;
    pat_branch *nb;
    pat_seg dstar;
    if (c->expanded + n > PATTERN_MAX_EXPANDED) {
        char what[96];
        snprintf(what, sizeof what, "pattern expands to more than %u bytes",
                 PATTERN_MAX_EXPANDED);
        return fail_at(c->err_col, cols[0], what);
    }
    c->expanded += n;
    for (;;) {
        if (i == n || s[i] == '.') {
            if (i == st)
                return fail_at(c->err_col, cols[st < n ? st : st - 1],
                               "empty segment");
            if (emit_segment(c, s + st, cols + st, i - st) < 0)
                return -1;
            /* "**.**" is "**" */
            if (p->nsegs - first >= 2 &&
                p->segs[p->nsegs - 1].kind == SEG_DSTAR &&
                p->segs[p->nsegs - 2].kind == SEG_DSTAR)
                p->nsegs--;
            if (i == n)
                break;
            st = ++i;
            continue;
        }
        i = skip_atom(s, cols, n, i);
    }
    /* the subtree rule: a trailing "**" */
    if (p->segs[p->nsegs - 1].kind != SEG_DSTAR) {
        memset(&dstar, 0, sizeof dstar);
        dstar.kind = SEG_DSTAR;
        if (add_seg(p, &dstar) < 0)
            return -1;
    }
    nb = grow(p->branches, &p->branches_cap, p->nbranches + 1, sizeof *nb);
    if (!nb)
        return -1;
    p->branches = nb;
    p->branches[p->nbranches].first = (uint32_t)first;
    p->branches[p->nbranches].n = (uint32_t)(p->nsegs - first);
    p->nbranches++;
    return 0;
}

/* The index of the first '{' that opens alternatives (not a range), or n. */
static size_t find_group(const char *s, const uint32_t *cols, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t next = skip_atom(s, cols, n, i);
        if (s[i] == '{' && next == i + 1)
            return i;
        i = next;
    }
    return n;
}

/* Pass 2: expands the first group of s, recursing on each alternative,
 * and emits a branch when no group is left. */
static int expand(cctx *c, const char *s, const uint32_t *cols, size_t n)
{
    size_t b = find_group(s, cols, n), e, i, as, depth = 0, len;
    char *buf = NULL;
    uint32_t *bcols = NULL;
    int rc = -1;
    if (b == n)
        return emit_branch(c, s, cols, n);
    /* the matching '}' */
    for (e = b + 1; e < n; e = skip_atom(s, cols, n, e)) {
        if (s[e] == '{' && skip_atom(s, cols, n, e) == e + 1)
            depth++;
        else if (s[e] == '}' && depth-- == 0)
            break;
    }
    buf = malloc(n);
    bcols = malloc(n * sizeof *bcols);
    if (!buf || !bcols) {
        err_set("pattern: out of memory");
        goto cleanup;
    }
    memcpy(buf, s, b);
    memcpy(bcols, cols, b * sizeof *cols);
    depth = 0;
    as = b + 1;
    for (i = b + 1; i <= e; i = skip_atom(s, cols, n, i)) {
        if (s[i] == '{' && skip_atom(s, cols, n, i) == i + 1) {
            depth++;
            continue;
        }
        if (s[i] == '}' && i < e) {
            depth--;
            continue;
        }
        if (!(i == e || (s[i] == ',' && depth == 0)))
            continue;
        /* alternative s[as..i) */
        if (c->p->nbranches >= PATTERN_MAX_BRANCHES) {
            char what[96];
            snprintf(what, sizeof what, "more than %u alternatives after "
                     "expanding '{'", PATTERN_MAX_BRANCHES);
            fail_at(c->err_col, cols[b], what);
            goto cleanup;
        }
        len = b + (i - as) + (n - e - 1);
        c->work += len;
        if (c->work > EXPAND_WORK_MAX) {
            fail_at(c->err_col, cols[b], "pattern expands too far");
            goto cleanup;
        }
        memcpy(buf + b, s + as, i - as);
        memcpy(bcols + b, cols + as, (i - as) * sizeof *cols);
        memcpy(buf + b + (i - as), s + e + 1, n - e - 1);
        memcpy(bcols + b + (i - as), cols + e + 1,
               (n - e - 1) * sizeof *cols);
        if (expand(c, buf, bcols, len) < 0)
            goto cleanup;
        as = i + 1;
    }
    rc = 0;
cleanup:
    free(buf);
    free(bcols);
    return rc;
}

pattern *pattern_compile(const char *src, size_t *err_col)
{
    pattern *p = NULL;
    uint32_t *cols = NULL;
    size_t n = strnlen(src, PATTERN_MAX_LEN + 1);
    cctx c;
    if (err_col)
        *err_col = 0;
    if (n == 0) {
        fail_at(err_col, 1, "empty pattern");
        goto fail;
    }
    if (n > PATTERN_MAX_LEN) {
        char what[64];
        snprintf(what, sizeof what, "pattern longer than %u bytes",
                 PATTERN_MAX_LEN);
        fail_at(err_col, PATTERN_MAX_LEN + 1, what);
        goto fail;
    }
    p = calloc(1, sizeof *p);
    if (!p || !(p->src = malloc(n + 1))) {
        err_set("pattern: out of memory");
        goto fail;
    }
    memcpy(p->src, src, n + 1);
    if (strncmp(src, "re:", 3) == 0) {
        if (pattern_regex_compile(p, err_col) < 0)
            goto fail;
        return p;
    }
    cols = malloc(n * sizeof *cols);
    if (!cols) {
        err_set("pattern: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        cols[i] = (uint32_t)(i + 1);
    if (validate(src, cols, n, err_col) < 0)
        goto fail;
    c.p = p;
    c.err_col = err_col;
    c.work = 0;
    c.expanded = 0;
    if (expand(&c, src, cols, n) < 0)
        goto fail;
    free(cols);
    return p;
fail:
    free(cols);
    pattern_free(p);
    return NULL;
}
