/* headless.c: loads the trainer library only when it is needed. */
#include "headless.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int exe_dir(char *buf, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", buf, cap - 1);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    return 0;
}

int headless_run(const train_options *o)
{
    char dir[PATH_MAX], path[PATH_MAX + 64];
    const char *cands[3];
    size_t n = 0;
    const char *env = getenv("TUI_TRAIN_LIB");
    static char c1[PATH_MAX + 64], c2[PATH_MAX + 64];
    if (env && *env)
        cands[n++] = env;
    if (exe_dir(dir, sizeof dir) == 0) {
        snprintf(c1, sizeof c1, "%s/libtui-train.so", dir);
        snprintf(c2, sizeof c2, "%s/../lib/tui/libtui-train.so", dir);
        cands[n++] = c1;
        cands[n++] = c2;
    }
    const char *found = NULL;
    for (size_t i = 0; i < n && !found; i++)
        if (access(cands[i], R_OK) == 0)
            found = cands[i];
    if (!found) {
        if (env && *env)
            fprintf(stderr, "tui: TUI_TRAIN_LIB=%s: no such file: unset it "
                    "to use the trainer beside tui\n", env);
#if TUI_TRAINER_BUILT
        /* libtorch was there at build time: only the library is missing
         * (`make demo` builds the editor alone) */
        else
            fprintf(stderr, "tui: the trainer is not built (no %s): build "
                    "it with `make` (it compiles against libtorch: a few "
                    "minutes)\n", n > 1 ? c1 : "libtui-train.so");
#else
        else
            fprintf(stderr, "tui: this build has no trainer (built without "
                    "libtorch): `make deps && make` builds it against "
                    "Debian's libtorch-dev, `make TORCH=<libtorch prefix>` "
                    "against another libtorch\n");
#endif
        return 2;
    }
    snprintf(path, sizeof path, "%s", found);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "tui: cannot load the trainer: %s\n", dlerror());
        return 2;
    }
    train_entry_fn fn;
    *(void **)&fn = dlsym(h, TRAIN_ENTRY);
    if (!fn) {
        fprintf(stderr, "tui: %s: no %s\n", path, TRAIN_ENTRY);
        return 2;
    }
    return fn(o);
}
