/* atomic.c: all-or-nothing file writes (see atomic.h). */
#include "atomic.h"

#include "err.h"
#include "path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMP_TAG ".tui-tmp."
#define TMP_BASE_MAX 200 /* bytes of the base name kept in a temp name */
#define TMP_TRIES 100

static unsigned tmp_counter;

/* Splits `path` into a folder (malloc'ed; "." when none) and a pointer
 * to the base name inside `path`. Returns 0 or -1 with err set. */
static int split_path(const char *path, char **dir, const char **base)
{
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    *dir = NULL;
    if (!**base || strcmp(*base, ".") == 0 || strcmp(*base, "..") == 0)
        return err_set("%s: not a file name", path);
    if (!(*dir = path_dir(path)))
        return err_set("%s: out of memory", path);
    return 0;
}

/* Length of the base name as used inside temp names. */
static size_t tmp_base_len(const char *base)
{
    size_t n = strlen(base);
    return n > TMP_BASE_MAX ? TMP_BASE_MAX : n;
}

/* Removes ".<base>.tui-tmp.<pid>.<n>" files whose pid is gone. Best
 * effort: errors are ignored (the save itself does not depend on it). */
static void remove_stale(int dfd, const char *base)
{
    char prefix[TMP_BASE_MAX + 16];
    size_t blen = tmp_base_len(base);
    int fd = dup(dfd);
    DIR *dir;
    struct dirent *de;

    if (fd < 0)
        return;
    dir = fdopendir(fd);
    if (!dir) {
        close(fd);
        return;
    }
    snprintf(prefix, sizeof prefix, ".%.*s" TMP_TAG, (int)blen, base);
    size_t plen = strlen(prefix);
    while ((de = readdir(dir)) != NULL) {
        char *end;
        if (strncmp(de->d_name, prefix, plen) != 0)
            continue;
        errno = 0;
        long pid = strtol(de->d_name + plen, &end, 10);
        if (errno || end == de->d_name + plen || *end != '.' || pid <= 0 ||
            pid > INT_MAX || pid == (long)getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        unlinkat(dfd, de->d_name, 0);
    }
    closedir(dir);
}

int atomic_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        if (w == 0) {
            errno = ENOSPC;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int atomic_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return err_set("%s: %s", dir, strerror(errno));
    int r = fsync(fd);
    int e = errno;
    close(fd);
    if (r < 0 && e != EINVAL && e != ENOTSUP)
        return err_set("%s: %s", dir, strerror(e));
    return 0;
}

static int folder_error(const char *path, const char *dir, int e)
{
    if (e == EROFS)
        return err_set("%s: cannot write in %s: folder is read-only", path,
                       dir);
    return err_set("%s: cannot write in %s: %s", path, dir, strerror(e));
}

/* Closes what is open and removes the temp file; keeps err. */
static void af_release(atomic_file *af)
{
    if (af->fd >= 0)
        close(af->fd);
    if (af->have_tmp)
        unlinkat(af->dfd, af->tmp, 0);
    if (af->dfd >= 0)
        close(af->dfd); /* releases the lock */
    free(af->dir);
    free(af->path);
    af->fd = af->dfd = -1;
    af->have_tmp = 0;
    af->dir = af->path = NULL;
}

int atomic_open(atomic_file *af, const char *path)
{
    const char *base;
    mode_t mode = 0644;
    int keep_mode = 0;
    struct stat st;

    memset(af, 0, sizeof *af);
    af->fd = af->dfd = -1;
    if (!(af->path = strdup(path))) {
        err_set("%s: out of memory", path);
        goto fail;
    }
    if (split_path(af->path, &af->dir, &base) < 0)
        goto fail;
    af->base = base;
    af->dfd = open(af->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (af->dfd < 0) {
        err_set("%s: cannot open folder %s: %s", path, af->dir,
                strerror(errno));
        goto fail;
    }
    if (flock(af->dfd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
        err_set("%s: another save is in progress in this folder", path);
        goto fail;
    } /* other flock errors (a file system without locks): go on unlocked */
    if (fstatat(af->dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISDIR(st.st_mode)) {
            err_set("%s: is a folder", path);
            goto fail;
        }
        if (S_ISREG(st.st_mode)) {
            mode = st.st_mode & 07777;
            keep_mode = 1;
        } else if (!S_ISLNK(st.st_mode)) {
            err_set("%s: not a regular file (a device, pipe or socket): "
                    "refusing to replace it", path);
            goto fail;
        }
    }
    remove_stale(af->dfd, base);
    for (int tries = 0; tries < TMP_TRIES && af->fd < 0; tries++) {
        snprintf(af->tmp, sizeof af->tmp, ".%.*s" TMP_TAG "%ld.%u",
                 (int)tmp_base_len(base), base, (long)getpid(),
                 tmp_counter++);
        af->fd = openat(af->dfd, af->tmp,
                        O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (af->fd < 0 && errno != EEXIST) {
            folder_error(path, af->dir, errno);
            goto fail;
        }
    }
    if (af->fd < 0) {
        err_set("%s: cannot make a temp file in %s", path, af->dir);
        goto fail;
    }
    af->have_tmp = 1;
    if (keep_mode && fchmod(af->fd, mode) < 0) {
        err_set("%s: %s", path, strerror(errno));
        goto fail;
    }
    return 0;
fail:
    af_release(af);
    return -1;
}

int atomic_put(atomic_file *af, const void *buf, size_t len)
{
    if (atomic_write_all(af->fd, buf, len) < 0)
        return err_set("%s: %s", af->path, strerror(errno));
    return 0;
}

int atomic_commit(atomic_file *af)
{
    if (fsync(af->fd) < 0) {
        err_set("%s: %s", af->path, strerror(errno));
        goto fail;
    }
    int cfd = af->fd;
    af->fd = -1;
    if (close(cfd) < 0) {
        err_set("%s: %s", af->path, strerror(errno));
        goto fail;
    }
    if (renameat(af->dfd, af->tmp, af->dfd, af->base) < 0) {
        err_set("%s: %s", af->path, strerror(errno));
        goto fail;
    }
    af->have_tmp = 0;
    if (fsync(af->dfd) < 0 && errno != EINVAL && errno != ENOTSUP) {
        err_set("%s: saved, but syncing folder %s failed: %s", af->path,
                af->dir, strerror(errno));
        goto fail;
    }
    af_release(af);
    return 0;
fail:
    af_release(af);
    return -1;
}

void atomic_abort(atomic_file *af)
{
    af_release(af);
}

int atomic_write(const char *path, const void *buf, size_t len)
{
    atomic_file af;
    if (atomic_open(&af, path) < 0)
        return -1;
    if (atomic_put(&af, buf, len) < 0) {
        atomic_abort(&af);
        return -1;
    }
    return atomic_commit(&af);
}
