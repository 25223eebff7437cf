/* test_regex_guard.c: the regex-bomb guard (regex_check_safe in
 * core/pattern_regex.c), one check per rule with the column it reports
 * (1-based, counted in the whole pattern, 're:' included), and the
 * patterns it must let through. */
#include <string.h>

#include "../../tui/core/err.h"
#include "../../tui/core/pattern.h"
#include "check.h"

/* Compiling src fails at column col with a message holding `what`. */
static void refused(const char *src, size_t col, const char *what)
{
    size_t got = 0;
    pattern *p = pattern_compile(src, &got);
    CHECK(p == NULL);
    if (p)
        pattern_free(p);
    CHECK_EQ_U64(got, col);
    CHECK(strstr(err_msg(), what) != NULL);
    if (!strstr(err_msg(), what))
        fprintf(stderr, "  %s: %s\n", src, err_msg());
}

static void accepted(const char *src)
{
    size_t col = 0;
    pattern *p = pattern_compile(src, &col);
    CHECK(p != NULL);
    if (!p)
        fprintf(stderr, "  %s: %s\n", src, err_msg());
    else
        pattern_free(p);
}

int main(void)
{
    char deep[128] = "re:";
    for (int i = 0; i < 33; i++)
        strcat(deep, "(");
    strcat(deep, "a");
    for (int i = 0; i < 33; i++)
        strcat(deep, ")");
    refused(deep, 36, "groups nested deeper than 32");
    refused("re:a**", 6, "a quantifier right after another one");
    refused("re:p+++", 6, "a quantifier right after another one");
    refused("re:a{2}{3}", 8, "a quantifier right after another one");
    refused("re:a{256}", 5, "a repeat count above 255");
    refused("re:a{1,1000}", 5, "a repeat count above 255");
    refused("re:(a{2}){3}", 10, "a counted repeat of a group that holds one");
    refused("re:((a{2})b){3}", 13,
            "a counted repeat of a group that holds one");
    refused("re:", 4, "empty regex after 're:'");
    refused("re:a(", 4, "invalid regex");
    /* what the guard lets through: 32 nested groups is the limit itself */
    {
        char ok32[128] = "re:";
        for (int i = 0; i < 32; i++)
            strcat(ok32, "(");
        strcat(ok32, "a");
        for (int i = 0; i < 32; i++)
            strcat(ok32, ")");
        accepted(ok32);
    }
    accepted("re:a{255}");
    accepted("re:(a{2})+");
    accepted("re:(ab){3}");
    accepted("re:[+*]+");
    accepted("re:layer[0-9]+\\.(weight|bias)");
    return check_report();
}
