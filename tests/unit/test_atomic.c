/* test_atomic.c: atomic_write (tui/core/atomic.h): replace, mode kept,
 * failures leave the old file and no temp, the folder lock, stale temps,
 * and (where the test may mount) ENOSPC and a read-only folder; the
 * streaming form (atomic_open/put/commit/abort) and atomic_write_all. */
#include "check.h"

#include "../../tui/core/atomic.h"
#include "../../tui/core/err.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *b = malloc(1 << 20);
    *len = fread(b, 1, 1 << 20, f);
    fclose(f);
    return b;
}

static int file_is(const char *path, const char *want)
{
    size_t n = 0;
    char *b = slurp(path, &n);
    int ok = b && n == strlen(want) && memcmp(b, want, n) == 0;
    free(b);
    return ok;
}

/* Number of entries in `d` whose name contains ".tui-tmp.". */
static int count_temps(const char *d)
{
    int n = 0;
    DIR *dd = opendir(d);
    struct dirent *de;
    if (!dd)
        return -1;
    while ((de = readdir(dd)) != NULL)
        if (strstr(de->d_name, ".tui-tmp."))
            n++;
    closedir(dd);
    return n;
}

static void test_basic(void)
{
    char path[128];
    struct stat st;
    snprintf(path, sizeof path, "%s/plan.yaml", dir);
    CHECK(atomic_write(path, "one\n", 4) == 0);
    CHECK(file_is(path, "one\n"));
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == (0644 & ~(mode_t)022));
    CHECK(chmod(path, 0600) == 0);
    CHECK(atomic_write(path, "two two\n", 8) == 0);
    CHECK(file_is(path, "two two\n"));
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(atomic_write(path, "", 0) == 0);
    CHECK(file_is(path, ""));
    CHECK_EQ_U64(count_temps(dir), 0);

    /* a path with no folder part writes in the current folder */
    char cwd[256];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(chdir(dir) == 0);
    CHECK(atomic_write("here.txt", "h", 1) == 0);
    CHECK(chdir(cwd) == 0);
    snprintf(path, sizeof path, "%s/here.txt", dir);
    CHECK(file_is(path, "h"));
    unlink(path);

    /* errors name the path */
    snprintf(path, sizeof path, "%s/no/such/plan.yaml", dir);
    CHECK(atomic_write(path, "x", 1) == -1);
    CHECK(strncmp(err_msg(), path, strlen(path)) == 0);
    CHECK(strstr(err_msg(), "No such file") != NULL);
    CHECK(atomic_write(dir, "x", 1) == -1);
    snprintf(path, sizeof path, "%s/", dir);
    CHECK(atomic_write(path, "x", 1) == -1);
    CHECK(strstr(err_msg(), "not a file name") != NULL);
    snprintf(path, sizeof path, "%s/sub", dir);
    CHECK(mkdir(path, 0755) == 0);
    CHECK(atomic_write(path, "x", 1) == -1);
    CHECK(strstr(err_msg(), "is a folder") != NULL);
    rmdir(path);
}

static void test_lock(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/plan.yaml", dir);
    CHECK(atomic_write(path, "old\n", 4) == 0);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0);
    CHECK(flock(dfd, LOCK_EX | LOCK_NB) == 0);
    /* a second save while another holds the folder: refused, nothing
     * changed; the lock is per open file, so this works in-process too */
    pid_t pid = fork();
    if (pid == 0) {
        int r = atomic_write(path, "new\n", 4);
        _exit(r == -1 && strstr(err_msg(), "another save is in progress")
                  ? 0 : 1);
    }
    int status = -1;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(atomic_write(path, "new\n", 4) == -1);
    CHECK(strstr(err_msg(), "plan.yaml: another save is in progress in this "
                            "folder") != NULL);
    CHECK(file_is(path, "old\n"));
    CHECK_EQ_U64(count_temps(dir), 0);
    close(dfd);
    CHECK(atomic_write(path, "new\n", 4) == 0);
    CHECK(file_is(path, "new\n"));
}

static void test_stale(void)
{
    char path[128], stale[160], live[160], other[160];
    snprintf(path, sizeof path, "%s/plan.yaml", dir);
    /* a pid that surely is gone: a child that exited and was reaped */
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);
    snprintf(stale, sizeof stale, "%s/.plan.yaml.tui-tmp.%ld.0", dir,
             (long)pid);
    snprintf(live, sizeof live, "%s/.plan.yaml.tui-tmp.1.0", dir); /* init */
    snprintf(other, sizeof other, "%s/.other.yaml.tui-tmp.%ld.0", dir,
             (long)pid);
    FILE *f = fopen(stale, "w");
    fputs("half", f);
    fclose(f);
    f = fopen(live, "w");
    fclose(f);
    f = fopen(other, "w");
    fclose(f);
    CHECK(atomic_write(path, "after\n", 6) == 0);
    CHECK(access(stale, F_OK) != 0); /* dead writer's temp removed */
    CHECK(access(live, F_OK) == 0);  /* a live pid's temp is kept */
    CHECK(access(other, F_OK) == 0); /* another base name is kept */
    CHECK(file_is(path, "after\n"));
    unlink(live);
    unlink(other);
}

/* A write that fails part-way (the file-size limit, EFBIG): the old
 * file stays, the temp is removed, the message names the path. */
static void test_write_failure(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/big.bin", dir);
    CHECK(atomic_write(path, "keep me\n", 8) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = {4096, 4096};
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        size_t n = 100000;
        char *b = calloc(1, n);
        int r = atomic_write(path, b, n);
        int ok = r == -1 && strncmp(err_msg(), path, strlen(path)) == 0 &&
                 strstr(err_msg(), "File too large");
        _exit(ok ? 0 : 1);
    }
    int status = -1;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(file_is(path, "keep me\n"));
    CHECK_EQ_U64(count_temps(dir), 0);
    unlink(path);
}

/* ENOSPC on a small tmpfs and EROFS on a read-only remount, in a private
 * mount namespace; skipped where the test may not mount (not root). */
static void test_mounts(void)
{
    char mnt[128];
    snprintf(mnt, sizeof mnt, "%s/mnt", dir);
    CHECK(mkdir(mnt, 0755) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        int bits = 0;
        char path[200];
        if (unshare(CLONE_NEWNS) < 0 ||
            mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("tmpfs", mnt, "tmpfs", 0, "size=64k") < 0)
            _exit(0x80);
        snprintf(path, sizeof path, "%s/plan.yaml", mnt);
        if (atomic_write(path, "old\n", 4) == 0)
            bits |= 1;
        size_t n = 1 << 20;
        char *b = calloc(1, n);
        if (atomic_write(path, b, n) == -1 &&
            strstr(err_msg(), "plan.yaml: No space left on device"))
            bits |= 2;
        if (file_is(path, "old\n") && count_temps(mnt) == 0)
            bits |= 4;
        if (mount("tmpfs", mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0 &&
            atomic_write(path, "new\n", 4) == -1 &&
            strstr(err_msg(), "folder is read-only") && file_is(path, "old\n"))
            bits |= 8;
        free(b);
        _exit(bits);
    }
    int status = -1;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    int bits = WEXITSTATUS(status);
    if (bits == 0x80) {
        printf("test_atomic: skipped (needs-root): ENOSPC/EROFS (cannot "
               "mount here)\n");
    } else {
        CHECK(bits & 1);
        CHECK(bits & 2);
        CHECK(bits & 4);
        CHECK(bits & 8);
    }
    rmdir(mnt);
}

/* A device, pipe or socket at the path is refused, not replaced (a
 * root user's `-o /dev/null` must not turn /dev/null into a file). */
static void test_not_regular(void)
{
    char path[128];
    struct stat st;
    snprintf(path, sizeof path, "%s/fifo", dir);
    CHECK(mkfifo(path, 0600) == 0);
    CHECK(atomic_write(path, "x\n", 2) == -1);
    CHECK(strstr(err_msg(), "not a regular file") != NULL);
    CHECK(lstat(path, &st) == 0 && S_ISFIFO(st.st_mode));
    CHECK(count_temps(dir) == 0);
    unlink(path);
}

/* The streaming form: pieces, commit; abort keeps the old file; the
 * folder stays locked while a file is open; write_all through a pipe. */
static void test_stream(void)
{
    char path[128];
    atomic_file af, other;
    snprintf(path, sizeof path, "%s/out.bin", dir);
    CHECK(atomic_write(path, "old\n", 4) == 0);
    CHECK(chmod(path, 0640) == 0);
    CHECK(atomic_open(&af, path) == 0);
    CHECK_EQ_U64(count_temps(dir), 1);
    CHECK(file_is(path, "old\n"));
    /* another save in the folder waits for this one */
    CHECK(atomic_write(path, "x", 1) == -1);
    CHECK(strstr(err_msg(), "another save is in progress") != NULL);
    CHECK(atomic_put(&af, "ab", 2) == 0);
    CHECK(atomic_put(&af, "", 0) == 0);
    CHECK(atomic_put(&af, "cd\n", 3) == 0);
    CHECK(file_is(path, "old\n")); /* nothing shows before the commit */
    CHECK(atomic_commit(&af) == 0);
    CHECK(file_is(path, "abcd\n"));
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640);
    CHECK_EQ_U64(count_temps(dir), 0);

    /* abort: the old file stays, the temp goes, the lock is released */
    CHECK(atomic_open(&af, path) == 0);
    CHECK(atomic_put(&af, "half", 4) == 0);
    atomic_abort(&af);
    CHECK(file_is(path, "abcd\n"));
    CHECK_EQ_U64(count_temps(dir), 0);
    CHECK(atomic_open(&other, path) == 0);
    atomic_abort(&other);

    /* open refuses what atomic_write refuses, leaving nothing to free */
    CHECK(atomic_open(&af, dir) == -1);
    snprintf(path, sizeof path, "%s/no/such/out.bin", dir);
    CHECK(atomic_open(&af, path) == -1);
    CHECK(strstr(err_msg(), "No such file") != NULL);
    snprintf(path, sizeof path, "%s/out.bin", dir);
    unlink(path);

    /* atomic_write_all: every byte through a pipe, errno on failure */
    int p[2];
    char big[100000], back[100000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 7);
    CHECK(pipe(p) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        _exit(atomic_write_all(p[1], big, sizeof big) == 0 ? 0 : 1);
    }
    close(p[1]);
    size_t got = 0;
    ssize_t r;
    while (got < sizeof back && (r = read(p[0], back + got, sizeof back - got)) > 0)
        got += (size_t)r;
    close(p[0]);
    int status = -1;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
          WEXITSTATUS(status) == 0);
    CHECK(got == sizeof big && memcmp(big, back, got) == 0);
    errno = 0;
    CHECK(atomic_write_all(-1, "x", 1) == -1 && errno == EBADF);
    CHECK(atomic_sync_dir(dir) == 0);
    CHECK(atomic_sync_dir("/nonexistent-folder") == -1);
}

int main(void)
{
    umask(022);
    snprintf(dir, sizeof dir, "/tmp/test_atomic.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_basic();
    test_lock();
    test_stale();
    test_write_failure();
    test_mounts();
    test_not_regular();
    test_stream();
    char path[128];
    snprintf(path, sizeof path, "%s/plan.yaml", dir);
    unlink(path);
    CHECK(rmdir(dir) == 0);
    return check_report();
}
