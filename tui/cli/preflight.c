/* preflight.c: the checks before anything is written (preflight.h). */
#include "preflight.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/err.h"
#include "../export/export.h"

/* The folder of `path` into buf ("." when it has none). Returns 0, or -1
 * with err set when it does not fit. */
static int folder_of(const char *path, char *buf, size_t cap)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (slash && n == 0)
        n = 1; /* "/x": the root */
    if (!slash) {
        buf[0] = '.';
        buf[1] = '\0';
        return 0;
    }
    if (n >= cap)
        return err_set("-o %s: the path is too long", path);
    memcpy(buf, path, n);
    buf[n] = '\0';
    return 0;
}

/* -o PATH outside --headless: a plan file in a folder that exists and
 * takes new files. (With --headless, -o is the run's folder, which the
 * trainer makes with its parents.) */
static int check_output(const char *path)
{
    char dir[PATH_MAX];
    struct stat st;
    if (!*path)
        return err_set("-o needs a path, got ''");
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return err_set("-o %s: is a folder; give the plan's file name "
                       "(e.g. %s/model.plan.yaml)", path, path);
    if (folder_of(path, dir, sizeof dir))
        return -1;
    if (stat(dir, &st) != 0)
        return err_set("-o %s: folder %s: %s", path, dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return err_set("-o %s: %s is not a folder", path, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return errno == EROFS
                   ? err_set("%s: cannot write in %s: folder is read-only",
                             path, dir)
                   : err_set("-o %s: cannot write in folder %s: %s", path,
                             dir, strerror(errno));
    return 0;
}

int preflight_check(const options *o)
{
    if (o->mode == MODE_EXPORT && !export_find(o->export_format))
        return err_set("unknown export format '%s' (expected %s)",
                       o->export_format, export_format_names());
    if (o->output && o->mode != MODE_HEADLESS && check_output(o->output))
        return -1;
    return 0;
}
