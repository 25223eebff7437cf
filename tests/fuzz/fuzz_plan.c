/* fuzz_plan.c: libFuzzer target for the YAML plan reader (yamldoc over
 * libyaml's events, then the strict plan schema) and the plan writer.
 *
 * Property checked: a plan that parses and can be formatted formats to a
 * text that parses again and formats to the same bytes (plan.h: writing
 * is deterministic and round-trips).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tui/core/err.h"
#include "../../tui/core/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    plan a, b;
    char *t1 = NULL, *t2 = NULL;
    size_t n1 = 0, n2 = 0;
    plan_init(&a);
    plan_init(&b);
    if (plan_parse("fuzz.yaml", (const char *)data, size, &a) != 0) {
        if (!err_msg()[0])
            abort();
        goto done;
    }
    if (plan_validate(&a) != 0 || plan_format(&a, &t1, &n1) != 0)
        goto done;
    if (plan_parse("again.yaml", t1, n1, &b) != 0) {
        fprintf(stderr, "formatted plan does not parse: %s\n---\n%.*s\n",
                err_msg(), (int)n1, t1);
        abort();
    }
    if (plan_format(&b, &t2, &n2) != 0 || n1 != n2 ||
        memcmp(t1, t2, n1) != 0) {
        fprintf(stderr, "plan round trip differs\n---\n%.*s\n---\n%.*s\n",
                (int)n1, t1, (int)n2, t2 ? t2 : "");
        abort();
    }
done:
    free(t1);
    free(t2);
    plan_free(&a);
    plan_free(&b);
    err_clear();
    return 0;
}
