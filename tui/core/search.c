/* search.c: the editor's / queries (see search.h). */
#include "search.h"

#include <string.h>

#include "err.h"
#include "pattern.h"

int search_is_pattern(const char *query)
{
    return strncmp(query, "re:", 3) == 0 || strpbrk(query, "*?[{") != NULL;
}

int search_case_sensitive(const char *query)
{
    for (const char *p = query; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            return 1;
    return 0;
}

static unsigned char fold(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* 1 when the lowercase needle (nl bytes) occurs in s (sl bytes) with
 * ASCII case ignored. */
static int contains_nocase(const char *s, size_t sl, const char *needle,
                           size_t nl)
{
    if (nl > sl)
        return 0;
    for (size_t i = 0; i + nl <= sl; i++) {
        size_t k = 0;
        while (k < nl && fold((unsigned char)s[i + k]) ==
                             (unsigned char)needle[k])
            k++;
        if (k == nl)
            return 1;
    }
    return 0;
}

long search_match_table(const char *query, const table *t, bitset *out,
                        size_t *err_col)
{
    size_t ql = strlen(query);
    long found = 0;
    if (err_col)
        *err_col = 0;
    bitset_zero(out);
    if (ql == 0)
        return err_set("empty search");
    if (search_is_pattern(query)) {
        pattern *p = pattern_compile(query, err_col);
        if (!p)
            return -1;
        found = (long)pattern_match_table(p, t, out);
        pattern_free(p);
        return found;
    }
    int exact = search_case_sensitive(query);
    for (size_t i = 0; i < t->count; i++) {
        const char *name = table_name(t, i);
        size_t nl = table_at(t, i)->name_len;
        if (exact ? memmem(name, nl, query, ql) != NULL
                  : contains_nocase(name, nl, query, ql)) {
            bitset_set(out, i);
            found++;
        }
    }
    return found;
}
