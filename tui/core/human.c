/* human.c: numbers for people (human.h). */
#include "human.h"

#include <stdio.h>

const char *human_count(unsigned long long n, char *buf, size_t cap)
{
    char tmp[32];
    int len = snprintf(tmp, sizeof tmp, "%llu", n);
    size_t k = 0;
    if (cap == 0)
        return buf;
    for (int i = 0; i < len && k + 1 < cap; i++) {
        if (i > 0 && (len - i) % 3 == 0 && k + 2 < cap)
            buf[k++] = ',';
        buf[k++] = tmp[i];
    }
    buf[k] = '\0';
    return buf;
}

const char *human_bytes(unsigned long long n, char *buf, size_t cap)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB",
                                        "PiB", "EiB"};
    double v = (double)n;
    unsigned u = 0;
    while (v >= 1024.0 && u + 1 < sizeof units / sizeof *units) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%llu B", n);
    else
        snprintf(buf, cap, "%.1f %s", v, units[u]);
    return buf;
}

const char *human_percent(unsigned long long part, unsigned long long whole,
                          char *buf, size_t cap)
{
    double p = whole ? 100.0 * (double)part / (double)whole : 0.0;
    if (whole && part != 0 && p < 0.05)
        snprintf(buf, cap, "<0.1%%");
    else if (whole && part < whole && p >= 99.95)
        snprintf(buf, cap, ">99.9%%");
    else
        snprintf(buf, cap, "%.1f%%", p);
    return buf;
}

const char *human_plural(unsigned long long n, const char *one,
                         const char *many)
{
    return n == 1 ? one : many;
}
