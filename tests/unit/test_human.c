/* test_human.c: numbers for people (core/human.h): thousands separators,
 * binary byte units, percentages that say 0.0% and 100.0% only when exact
 * (issue 12: "percentages never round to 100.0% or 0.0% unless exact"),
 * and plurals. */
#include "check.h"

#include "../../tui/core/human.h"

int main(void)
{
    char b[32];
    CHECK_STR(human_count(0, b, sizeof b), "0");
    CHECK_STR(human_count(999, b, sizeof b), "999");
    CHECK_STR(human_count(1000, b, sizeof b), "1,000");
    CHECK_STR(human_count(11689512, b, sizeof b), "11,689,512");
    CHECK_STR(human_count(18446744073709551615ULL, b, sizeof b),
              "18,446,744,073,709,551,615");
    char small[6];
    CHECK_STR(human_count(1234567, small, sizeof small), "1,234");

    CHECK_STR(human_bytes(0, b, sizeof b), "0 B");
    CHECK_STR(human_bytes(1023, b, sizeof b), "1023 B");
    CHECK_STR(human_bytes(1024, b, sizeof b), "1.0 KiB");
    CHECK_STR(human_bytes(46757528, b, sizeof b), "44.6 MiB");
    CHECK_STR(human_bytes(18446744073709551615ULL, b, sizeof b), "16.0 EiB");

    CHECK_STR(human_percent(0, 0, b, sizeof b), "0.0%");
    CHECK_STR(human_percent(0, 10, b, sizeof b), "0.0%");
    CHECK_STR(human_percent(10, 10, b, sizeof b), "100.0%");
    CHECK_STR(human_percent(1, 8, b, sizeof b), "12.5%");
    /* resnet18: fc alone is 5,130 of 11,689,512: 0.04% */
    CHECK_STR(human_percent(5130, 11689512, b, sizeof b), "<0.1%");
    CHECK_STR(human_percent(11689512 - 5130, 11689512, b, sizeof b),
              ">99.9%");
    CHECK_STR(human_percent(1, 2000, b, sizeof b), "0.1%");  /* 0.05 */
    CHECK_STR(human_percent(1999, 2000, b, sizeof b), ">99.9%"); /* 99.95 */
    CHECK_STR(human_percent(1998, 2000, b, sizeof b), "99.9%");

    CHECK_STR(human_plural(0, "tensor", "tensors"), "tensors");
    CHECK_STR(human_plural(1, "tensor", "tensors"), "tensor");
    CHECK_STR(human_plural(2, "tensor", "tensors"), "tensors");
    return check_report();
}
