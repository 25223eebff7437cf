/* fuzz_pattern.c: libFuzzer target for the pattern compiler and matcher.
 *
 * The input up to the first newline is the pattern source (a NUL inside
 * ends it early, as a C string would); each further line is a name to
 * match. The pattern is also matched against a fixed table of realistic
 * names (fuzz_util.h) with pattern_match_table, whose count must equal
 * the number of single pattern_match hits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../tui/core/bitset.h"
#include "../../tui/core/err.h"
#include "../../tui/core/pattern.h"
#include "../../tui/core/table.h"
#include "fuzz_util.h"

static table names;
static char name[TABLE_MAX_NAME + 2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    table_init(&names);
    fz_fill_names(&names);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *d = (const char *)data;
    const char *nl = memchr(d, '\n', size);
    size_t plen = nl ? (size_t)(nl - d) : size;
    char *src = malloc(plen + 1);
    if (!src)
        abort();
    memcpy(src, d, plen);
    src[plen] = '\0';
    size_t col = 0;
    pattern *p = pattern_compile(src, &col);
    if (!p) {
        if (!err_msg()[0] || col > plen + 1)
            abort();
        goto done;
    }
    if (strcmp(pattern_source(p), src) != 0)
        abort();
    (void)pattern_is_regex(p);
    bitset hit;
    if (bitset_init(&hit, names.count))
        abort();
    bitset_zero(&hit);
    size_t n = pattern_match_table(p, &names, &hit), one = 0;
    for (size_t i = 0; i < names.count; i++) {
        int m = pattern_match(p, table_name(&names, i),
                              table_at(&names, i)->name_len);
        if (m != bitset_get(&hit, i))
            abort();
        one += (size_t)m;
    }
    if (n != one || n != bitset_count(&hit))
        abort();
    bitset_free(&hit);
    /* the remaining lines, each as a name (may hold any byte but '\n') */
    size_t off = nl ? plen + 1 : size;
    while (off < size) {
        const char *s = d + off;
        const char *e = memchr(s, '\n', size - off);
        size_t len = e ? (size_t)(e - s) : size - off;
        /* copied with a NUL after it: pattern_match needs no NUL, but
         * ASan's regexec interceptor runs strlen on the name even with
         * REG_STARTEND (a false report past the fuzzer's buffer) */
        if (!memchr(s, '\0', len) && len <= TABLE_MAX_NAME + 1) {
            memcpy(name, s, len);
            name[len] = '\0';
            (void)pattern_match(p, name, len);
        }
        off += len + 1;
    }
done:
    pattern_free(p);
    free(src);
    err_clear();
    return 0;
}
