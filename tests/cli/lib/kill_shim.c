/* kill_shim.c: the LD_PRELOAD shim of the crash-consistency tests
 * (tests/cli/kill_save.sh: plan saves; tests/cli/kill_ckpt.sh: the
 * trainer's checkpoints). cli_kill_shim in common.sh builds it.
 *
 * It counts the calls of an atomic save, the ones whose effect a kill
 * could leave half done, and can SIGKILL the process just before or just
 * after one of them; it also cuts the temp file's writes into small
 * pieces (the code under test must handle short writes) so that a kill
 * can land in the middle of the file.
 *
 * Which paths count comes from the environment, as patterns where '*'
 * stands for any run of characters (slashes included) and "%p" for the
 * process's pid:
 *   KS_TMP     temp files and folders of a save (required; nothing is
 *              counted without it); kill_save.sh: "*.tui-tmp.%p.*"
 *   KS_OLD     published entries whose removal counts (optional);
 *              kill_ckpt.sh: its published ckpt-<step> folders
 * and the rest:
 *   KS_KILL_AT N: SIGKILL at counted call N (1-based; default never)
 *   KS_AFTER   0: just before the call (default), 1: just after it
 *   KS_CHUNK   the most bytes one write of the temp file writes
 *              (default 16384)
 *   KS_LOG     a file that gets one line "N NAME" per counted call
 *
 * The counted calls (NAME in the log):
 *   open-file     open/openat of a KS_TMP path with O_CREAT: that fd is
 *                 "the file"; an openat's folder fd becomes "the folder"
 *   open-tmpdir   open of a KS_TMP path with O_DIRECTORY ("the temp
 *                 folder")
 *   open-outdir   an O_DIRECTORY open after a counted rename while no
 *                 folder is tracked ("the folder": the one published in)
 *   fchmod, write                       on the file
 *   fsync-file, fsync-tmpdir, fsync-outdir, close-file, close-tmpdir,
 *   close-outdir                        on those fds
 *   mkdir-tmp     mkdir of a KS_TMP path
 *   rename        rename/renameat from a KS_TMP path (the publication)
 *   rename-old    rename/renameat from a KS_OLD path (hiding an old one)
 *   unlink-tmp, unlink-old, rmdir-tmp, rmdir-old   unlink/unlinkat/rmdir
 *                 of a KS_TMP, else a KS_OLD path
 * Not thread-safe: the saves under test run on one thread. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { FD_FILE, FD_TMPDIR, FD_OUTDIR, FD_KINDS };
static const char *const open_name[FD_KINDS] = {
    "open-file", "open-tmpdir", "open-outdir"};
static const char *const fsync_name[FD_KINDS] = {
    "fsync-file", "fsync-tmpdir", "fsync-outdir"};
static const char *const close_name[FD_KINDS] = {
    "close-file", "close-tmpdir", "close-outdir"};

static long kill_at = -1, n;
static int after, inited, renamed;
static size_t chunk = 16384;
static int fds[FD_KINDS] = {-1, -1, -1};
static char tmp_pat[512], old_pat[512];
static FILE *log_file;

/* Copies pattern S into OUT with "%p" replaced by the pid; an unset or
 * too long S leaves OUT empty (matches nothing). */
static void pattern_set(char *out, size_t size, const char *s)
{
    char pid[24];
    size_t len = 0, plen = (size_t)snprintf(pid, sizeof pid, "%ld",
                                            (long)getpid());
    out[0] = '\0';
    for (; s && *s; s++) {
        const char *add = s;
        size_t alen = 1;
        if (s[0] == '%' && s[1] == 'p')
            add = pid, alen = plen, s++;
        if (len + alen >= size) {
            out[0] = '\0';
            return;
        }
        memcpy(out + len, add, alen);
        len += alen;
    }
    out[len] = '\0';
}

/* 1 when S matches PAT ('*' any run of characters); an empty PAT
 * matches nothing. */
static int pattern_match(const char *pat, const char *s)
{
    const char *star = NULL, *resume = NULL;
    if (!*pat || !s)
        return 0;
    while (*s) {
        if (*pat == '*') {
            star = ++pat;
            resume = s;
        } else if (*pat == *s) {
            pat++;
            s++;
        } else if (star) {
            pat = star;
            s = ++resume;
        } else {
            return 0;
        }
    }
    while (*pat == '*')
        pat++;
    return !*pat;
}

static int is_tmp(const char *p) { return pattern_match(tmp_pat, p); }
static int is_old(const char *p) { return pattern_match(old_pat, p); }

static void init(void)
{
    const char *s;
    if (inited)
        return;
    inited = 1;
    if ((s = getenv("KS_KILL_AT")))
        kill_at = atol(s);
    if ((s = getenv("KS_AFTER")))
        after = atoi(s);
    if ((s = getenv("KS_CHUNK")) && atol(s) > 0)
        chunk = (size_t)atol(s);
    pattern_set(tmp_pat, sizeof tmp_pat, getenv("KS_TMP"));
    pattern_set(old_pat, sizeof old_pat, getenv("KS_OLD"));
    if ((s = getenv("KS_LOG")))
        log_file = fopen(s, "w");
}

/* One counted call: logs it, kills before it when asked. Returns its
 * number, for done(). */
static long step(const char *what)
{
    n++;
    if (log_file) {
        fprintf(log_file, "%ld %s\n", n, what);
        fflush(log_file);
    }
    if (!after && n == kill_at)
        kill(getpid(), SIGKILL);
    return n;
}

/* The end of counted call I: kills after it when asked. */
static void done(long i)
{
    if (after && i == kill_at)
        kill(getpid(), SIGKILL);
}

/* Which tracked fd FD is (FD_*), or -1. */
static int fd_kind(int fd)
{
    for (int k = 0; fd >= 0 && k < FD_KINDS; k++)
        if (fds[k] == fd)
            return k;
    return -1;
}

#define REAL(name) static __typeof__(name) *real_##name; \
    if (!real_##name) real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

static int open_common(int dfd, const char *path, int flags, mode_t mode,
                       int at)
{
    REAL(openat);
    REAL(open);
    init();
    int kind = -1;
    if (is_tmp(path) && (flags & O_CREAT))
        kind = FD_FILE;
    else if (is_tmp(path) && (flags & O_DIRECTORY))
        kind = FD_TMPDIR;
    else if (renamed && (flags & O_DIRECTORY) && fds[FD_OUTDIR] < 0)
        kind = FD_OUTDIR;
    long i = kind >= 0 ? step(open_name[kind]) : 0;
    int fd = at ? real_openat(dfd, path, flags, mode)
                : real_open(path, flags, mode);
    if (kind >= 0) {
        fds[kind] = fd;
        if (kind == FD_FILE && at && dfd >= 0)
            fds[FD_OUTDIR] = dfd;
        done(i);
    }
    return fd;
}

static mode_t va_mode(int flags, va_list ap)
{
    return (flags & O_CREAT) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = va_mode(flags, ap);
    va_end(ap);
    return open_common(AT_FDCWD, path, flags, m, 0);
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = va_mode(flags, ap);
    va_end(ap);
    return open_common(AT_FDCWD, path, flags, m, 0);
}

int openat(int dfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = va_mode(flags, ap);
    va_end(ap);
    return open_common(dfd, path, flags, m, 1);
}

int openat64(int dfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t m = va_mode(flags, ap);
    va_end(ap);
    return open_common(dfd, path, flags, m, 1);
}

ssize_t write(int fd, const void *buf, size_t len)
{
    REAL(write);
    init();
    if (fd_kind(fd) != FD_FILE)
        return real_write(fd, buf, len);
    long i = step("write");
    ssize_t r = real_write(fd, buf, len < chunk ? len : chunk);
    done(i);
    return r;
}

int fchmod(int fd, mode_t mode)
{
    REAL(fchmod);
    init();
    if (fd_kind(fd) != FD_FILE)
        return real_fchmod(fd, mode);
    long i = step("fchmod");
    int r = real_fchmod(fd, mode);
    done(i);
    return r;
}

int fsync(int fd)
{
    REAL(fsync);
    init();
    int kind = fd_kind(fd);
    if (kind < 0)
        return real_fsync(fd);
    long i = step(fsync_name[kind]);
    int r = real_fsync(fd);
    done(i);
    return r;
}

int close(int fd)
{
    REAL(close);
    init();
    int kind = fd_kind(fd);
    if (kind < 0)
        return real_close(fd);
    fds[kind] = -1;
    if (kind == FD_OUTDIR)
        renamed = 0;
    long i = step(close_name[kind]);
    int r = real_close(fd);
    done(i);
    return r;
}

int mkdir(const char *path, mode_t mode)
{
    REAL(mkdir);
    init();
    if (!is_tmp(path))
        return real_mkdir(path, mode);
    long i = step("mkdir-tmp");
    int r = real_mkdir(path, mode);
    done(i);
    return r;
}

/* rename and renameat: the publication (from a temp path) or the hiding
 * of an old entry. */
static int rename_common(int a, const char *from, int b, const char *to,
                         int at)
{
    REAL(rename);
    REAL(renameat);
    init();
    int tmp = is_tmp(from);
    const char *what = tmp ? "rename" : is_old(from) ? "rename-old" : NULL;
    long i = what ? step(what) : 0;
    int r = at ? real_renameat(a, from, b, to) : real_rename(from, to);
    if (tmp)
        renamed = 1;
    if (what)
        done(i);
    return r;
}

int rename(const char *from, const char *to)
{
    return rename_common(AT_FDCWD, from, AT_FDCWD, to, 0);
}

int renameat(int a, const char *from, int b, const char *to)
{
    return rename_common(a, from, b, to, 1);
}

/* The name of a removal of PATH ("unlink" or "rmdir"), or NULL when it
 * does not count. */
static const char *removal(const char *path, int dir)
{
    if (is_tmp(path))
        return dir ? "rmdir-tmp" : "unlink-tmp";
    if (is_old(path))
        return dir ? "rmdir-old" : "unlink-old";
    return NULL;
}

int unlink(const char *path)
{
    REAL(unlink);
    init();
    const char *what = removal(path, 0);
    if (!what)
        return real_unlink(path);
    long i = step(what);
    int r = real_unlink(path);
    done(i);
    return r;
}

int unlinkat(int dfd, const char *path, int flags)
{
    REAL(unlinkat);
    init();
    const char *what = removal(path, (flags & AT_REMOVEDIR) != 0);
    if (!what)
        return real_unlinkat(dfd, path, flags);
    long i = step(what);
    int r = real_unlinkat(dfd, path, flags);
    done(i);
    return r;
}

int rmdir(const char *path)
{
    REAL(rmdir);
    init();
    const char *what = removal(path, 1);
    if (!what)
        return real_rmdir(path);
    long i = step(what);
    int r = real_rmdir(path);
    done(i);
    return r;
}
