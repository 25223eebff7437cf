/* err.c: the module error message (see err.h). */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ERR_CAP 1024

static char err_buf[ERR_CAP];

int err_set(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_buf, sizeof err_buf, fmt, ap);
    va_end(ap);
    return -1;
}

int err_prefix(const char *fmt, ...)
{
    char old[ERR_CAP];
    va_list ap;
    memcpy(old, err_buf, sizeof old);
    va_start(ap, fmt);
    int n = vsnprintf(err_buf, sizeof err_buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    size_t k = (size_t)n < sizeof err_buf - 1 ? (size_t)n : sizeof err_buf - 1;
    if (k + 2 < sizeof err_buf) {
        memcpy(err_buf + k, ": ", 2);
        k += 2;
        size_t rest = strlen(old);
        if (rest > sizeof err_buf - 1 - k)
            rest = sizeof err_buf - 1 - k;
        memcpy(err_buf + k, old, rest);
        k += rest;
    }
    err_buf[k] = '\0';
    return -1;
}

const char *err_msg(void)
{
    return err_buf;
}

void err_clear(void)
{
    err_buf[0] = '\0';
}
