/* activation.c: the measurement's lifetime (activation.h). */
#include "activation.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

void activation_init(activation *a)
{
    memset(a, 0, sizeof *a);
}

void activation_free(activation *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nmodules; i++)
        free(a->modules[i].module);
    free(a->modules);
    free(a->device);
    free(a->libtorch);
    activation_init(a);
}

static int copy_text(char **dst, const char *src)
{
    if (!src)
        return 0;
    *dst = strdup(src);
    return *dst ? 0 : -1;
}

int activation_copy(activation *dst, const activation *src)
{
    activation_init(dst);
    dst->batch = src->batch;
    dst->activation_bytes = src->activation_bytes;
    dst->peak_bytes = src->peak_bytes;
    if (copy_text(&dst->device, src->device) ||
        copy_text(&dst->libtorch, src->libtorch))
        goto fail;
    if (src->nmodules) {
        dst->modules = calloc(src->nmodules, sizeof *dst->modules);
        if (!dst->modules)
            goto fail;
        for (size_t i = 0; i < src->nmodules; i++) {
            dst->nmodules = i + 1;
            dst->modules[i].bytes = src->modules[i].bytes;
            if (copy_text(&dst->modules[i].module, src->modules[i].module))
                goto fail;
        }
    }
    return 0;
fail:
    activation_free(dst);
    return err_set("activation: out of memory");
}
