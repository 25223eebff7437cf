/* pattern_impl.h: the compiled form of a pattern, shared by
 * pattern_compile.c (which builds it), pattern_match.c (which runs it)
 * and pattern_regex.c (the "re:" form). Private to those three files;
 * everyone else uses pattern.h.
 *
 * A glob compiles to branches (one per expansion of its {a,b} groups);
 * a branch is a run of segment matchers, each consuming exactly one name
 * segment, except SEG_DSTAR, which consumes any number. Every branch ends
 * in a SEG_DSTAR (added when the source does not end in "**"): that is
 * the subtree rule. SEG_GLOB segments hold byte tokens.
 */
#ifndef TUI_CORE_PATTERN_IMPL_H
#define TUI_CORE_PATTERN_IMPL_H

#include <regex.h>
#include <stdint.h>

#include "pattern.h"

enum { SEG_LIT, SEG_GLOB, SEG_RANGE, SEG_DSTAR };
enum { TOK_LIT, TOK_STAR, TOK_ANY, TOK_CLASS };

typedef struct {
    uint8_t op;    /* TOK_* */
    uint8_t ch;    /* TOK_LIT: the byte */
    uint32_t cls;  /* TOK_CLASS: index into classes */
} pat_tok;

typedef struct {
    uint8_t kind;  /* SEG_* */
    uint8_t open;  /* SEG_RANGE: no upper bound */
    uint32_t off;  /* SEG_LIT: into lits; SEG_GLOB: into toks */
    uint32_t len;  /* bytes (SEG_LIT) or tokens (SEG_GLOB) */
    uint64_t lo, hi; /* SEG_RANGE, inclusive */
} pat_seg;

typedef struct {
    uint32_t first, n; /* into segs */
} pat_branch;

struct pattern {
    char *src;
    int is_regex;
    regex_t re;
    char *re_lit;      /* bytes every regex match contains, or NULL */
    size_t re_lit_len;
    pat_branch *branches;
    size_t nbranches, branches_cap;
    pat_seg *segs;
    size_t nsegs, segs_cap;
    pat_tok *toks;
    size_t ntoks, toks_cap;
    uint8_t (*classes)[32]; /* bit b of byte b/8: byte b is in the class */
    size_t nclasses, classes_cap;
    char *lits;
    size_t nlits, lits_cap;
};

/* pattern_regex.c. Compiles p->src + 3 into p->re (and p->re_lit);
 * sets p->is_regex on success. Returns 0, or -1 with err set and
 * *err_col (when not NULL) at 4. */
int pattern_regex_compile(pattern *p, size_t *err_col);

/* 1 when the regex is found in name[0..len), else 0. Cannot fail. */
int pattern_regex_match(const pattern *p, const char *name, size_t len);

#endif
