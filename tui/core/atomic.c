/* atomic.c: all-or-nothing file writes (see atomic.h). */
#include "atomic.h"

#include "err.h"

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
    *dir = NULL;
    *base = slash ? slash + 1 : path;
    if (!**base || strcmp(*base, ".") == 0 || strcmp(*base, "..") == 0)
        return err_set("%s: not a file name", path);
    if (!slash)
        *dir = strdup(".");
    else if (slash == path)
        *dir = strdup("/");
    else
        *dir = strndup(path, (size_t)(slash - path));
    if (!*dir)
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

static int write_all(int fd, const char *p, size_t len)
{
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

static int folder_error(const char *path, const char *dir, int e)
{
    if (e == EROFS)
        return err_set("%s: cannot write in %s: folder is read-only", path,
                       dir);
    return err_set("%s: cannot write in %s: %s", path, dir, strerror(e));
}

int atomic_write(const char *path, const void *buf, size_t len)
{
    char *dir = NULL;
    const char *base;
    char tmp[TMP_BASE_MAX + 64];
    int dfd = -1, fd = -1, have_tmp = 0, rc = -1;
    mode_t mode = 0644;
    int keep_mode = 0;
    struct stat st;

    if (split_path(path, &dir, &base) < 0)
        goto cleanup;
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        err_set("%s: cannot open folder %s: %s", path, dir, strerror(errno));
        goto cleanup;
    }
    if (flock(dfd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
        err_set("%s: another save is in progress in this folder", path);
        goto cleanup;
    } /* other flock errors (a file system without locks): go on unlocked */
    if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISDIR(st.st_mode)) {
            err_set("%s: is a folder", path);
            goto cleanup;
        }
        if (S_ISREG(st.st_mode)) {
            mode = st.st_mode & 07777;
            keep_mode = 1;
        } else if (!S_ISLNK(st.st_mode)) {
            err_set("%s: not a regular file (a device, pipe or socket): "
                    "refusing to replace it", path);
            goto cleanup;
        }
    }
    remove_stale(dfd, base);
    for (int tries = 0; tries < TMP_TRIES && fd < 0; tries++) {
        snprintf(tmp, sizeof tmp, ".%.*s" TMP_TAG "%ld.%u",
                 (int)tmp_base_len(base), base, (long)getpid(),
                 tmp_counter++);
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST) {
            folder_error(path, dir, errno);
            goto cleanup;
        }
    }
    if (fd < 0) {
        err_set("%s: cannot make a temp file in %s", path, dir);
        goto cleanup;
    }
    have_tmp = 1;
    if (keep_mode && fchmod(fd, mode) < 0) {
        err_set("%s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (write_all(fd, buf, len) < 0 || fsync(fd) < 0) {
        err_set("%s: %s", path, strerror(errno));
        goto cleanup;
    }
    int cfd = fd;
    fd = -1;
    if (close(cfd) < 0) {
        err_set("%s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (renameat(dfd, tmp, dfd, base) < 0) {
        err_set("%s: %s", path, strerror(errno));
        goto cleanup;
    }
    have_tmp = 0;
    if (fsync(dfd) < 0 && errno != EINVAL && errno != ENOTSUP) {
        err_set("%s: saved, but syncing folder %s failed: %s", path, dir,
                strerror(errno));
        goto cleanup;
    }
    rc = 0;
cleanup:
    if (fd >= 0)
        close(fd);
    if (have_tmp)
        unlinkat(dfd, tmp, 0);
    if (dfd >= 0)
        close(dfd); /* releases the lock */
    free(dir);
    return rc;
}
