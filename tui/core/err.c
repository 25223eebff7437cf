/* err.c: the module error message (see err.h). */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ERR_CAP 1024

/* one message per thread: a background job (the editor's statistics)
 * never overwrites the message the main thread is about to show */
static _Thread_local char err_buf[ERR_CAP];

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
    char old[ERR_CAP], pre[ERR_CAP];
    va_list ap;
    memcpy(old, err_buf, sizeof old);
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    /* The reason matters more than the prefix: a long prefix (a quoted
     * 4 KiB pattern) is shortened, never the message it explains. */
    size_t lold = strlen(old), lpre = strlen(pre);
    size_t budget = ERR_CAP - 1 - 2 - (lold < ERR_CAP / 2 ? lold : ERR_CAP / 2);
    if (lpre > budget) {
        memcpy(pre + budget - 3, "...", 4);
        lpre = budget;
    }
    snprintf(err_buf, sizeof err_buf, "%s: %.*s", pre,
             (int)(ERR_CAP - 3 - lpre), old);
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
