/* preflight.c: the checks before anything is written (preflight.h). */
#include "preflight.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/err.h"
#include "../core/plan.h"
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
 * takes new files; a folder is refused with the default plan name of
 * `checkpoint` (plan_checkpoint_stem; NULL: "model") as the example.
 * (With --headless, -o is the run's folder, which the trainer makes with
 * its parents.) */
static int check_output(const char *path, const char *checkpoint)
{
    char dir[PATH_MAX], stem[256];
    struct stat st;
    if (!*path)
        return err_set("-o needs a path, got ''");
    if (!checkpoint || plan_checkpoint_stem(checkpoint, stem, sizeof stem))
        snprintf(stem, sizeof stem, "model");
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return err_set("-o %s: is a folder; give the plan's file name "
                       "(e.g. %s/%s.plan.yaml)", path, path, stem);
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

/* --plan PATH: not a checkpoint given where the plan goes (the first
 * bytes of a zip, a pickle or a safetensors file), nor a folder. A file
 * that cannot be read is left to the plan reader, which names the error.
 * Returns 0, or -1 with err set. */
static int check_plan_file(const char *path)
{
    unsigned char b[9];
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    if (S_ISDIR(st.st_mode))
        return err_set("--plan %s: is a folder; --plan takes a plan's YAML "
                       "file (a folder of shards is the CHECKPOINT: tui %s)",
                       path, path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    uint64_t len = 0;
    for (int i = 7; n == sizeof b && i >= 0; i--)
        len = (len << 8) | b[i];
    const char *what = NULL;
    if (n >= 4 && b[0] == 'P' && b[1] == 'K' && b[2] == 3 && b[3] == 4)
        what = "a torch.save or TorchScript zip";
    else if (n >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5)
        what = "a pickle";
    else if (n == sizeof b && b[8] == '{' && len > 0 &&
             len <= (uint64_t)st.st_size - 8)
        what = "a safetensors file";
    if (what)
        return err_set("--plan %s: a checkpoint (%s), not a plan: give it "
                       "as the CHECKPOINT (tui %s), and --plan a plan's "
                       "YAML file", path, what, path);
    return 0;
}

int preflight_check(const options *o)
{
    if (o->mode == MODE_EXPORT && !export_find(o->export_format))
        return err_set("unknown export format '%s' (expected %s)",
                       o->export_format, export_format_names());
    if (o->output && o->mode != MODE_HEADLESS &&
        check_output(o->output, o->checkpoint))
        return -1;
    if (o->plan && check_plan_file(o->plan))
        return -1;
    return 0;
}
