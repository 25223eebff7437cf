/* test_suggest.c: "did you mean" (core/suggest.h): distances by hand,
 * the limit that keeps unrelated words out, ties, long words. */
#include "check.h"

#include <string.h>

#include "../../tui/core/suggest.h"

int main(void)
{
    CHECK_EQ_U64(suggest_distance("", ""), 0);
    CHECK_EQ_U64(suggest_distance("abc", ""), 3);
    CHECK_EQ_U64(suggest_distance("kitten", "sitting"), 3);
    CHECK_EQ_U64(suggest_distance("--sumary", "--summary"), 1);
    CHECK_EQ_U64(suggest_distance("--sumamry", "--summary"), 1); /* swap */
    CHECK_EQ_U64(suggest_distance("HEAD-ONLY", "head-only"), 0);
    char big[SUGGEST_MAX_LEN + 2];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK(suggest_distance(big, "a") == (size_t)-1);

    const char *opts[] = {"--summary", "--list", "--tree", "--presets",
                          "--headless", "--freeze", "--unfreeze"};
    size_t n = sizeof opts / sizeof *opts;
    const char *s = suggest_closest("--sumary", opts, n);
    CHECK(s && strcmp(s, "--summary") == 0);
    s = suggest_closest("--lst", opts, n);
    CHECK(s && strcmp(s, "--list") == 0);
    s = suggest_closest("--freez", opts, n);
    CHECK(s && strcmp(s, "--freeze") == 0);
    CHECK(suggest_closest("--bogus-thing", opts, n) == NULL);
    CHECK(suggest_closest("xyz", opts, n) == NULL);

    const char *presets[] = {"head-only", "bias-only", "norms-only",
                             "bert-embeddings-first-n"};
    s = suggest_closest("head_only", presets, 4);
    CHECK(s && strcmp(s, "head-only") == 0);
    s = suggest_closest("norm-only", presets, 4);
    CHECK(s && strcmp(s, "norms-only") == 0);
    /* equal distance: the first offered wins */
    const char *tie[] = {"ab", "ba"};
    s = suggest_closest("aa", tie, 2);
    CHECK(s && strcmp(s, "ab") == 0);
    return check_report();
}
