#!/bin/sh
# kill_ckpt.sh: SIGKILL the trainer at >= 200 points during its checkpoint
# writes and check that the output folder only ever shows complete
# checkpoints, that a killed run resumes to the same weights as an
# uninterrupted one, and that the hidden temp folder of a killed
# checkpoint is removed by the next run (docs/training.md "Checkpoints
# and --resume"; hostile-inputs.md row 20; issue 7 item 4).
#
# The run: `tui --headless` on the tiny MLP fixture (train/plan_mlp.yaml,
# copied with its files into a temp folder) with checkpoint_every 1 and
# one epoch, so every step writes a checkpoint. A small LD_PRELOAD shim,
# built here with $CC, splits the checkpoint file's writes into
# KC_CHUNK-byte pieces and counts the calls of every checkpoint save:
# mkdir of OUT/.ckpt-<step>.tmp.<pid>, the open of its state file, each
# write, its fsync and close, the open/fsync/close of the temp folder,
# the rename to OUT/ckpt-<step>, the open/fsync/close of OUT, and the
# the rename that hides the older checkpoint, and the unlink/rmdir of it
# and of stale temp folders (prune).
# KC_KILL_AT=N makes it SIGKILL the process just before (KC_AFTER=0) or
# just after (KC_AFTER=1) call N. A first run records the calls; the kill
# points spread over them, both sides of each.
#
# After every kill: every visible entry of OUT is metrics.jsonl or a
# ckpt-<10 digits> folder holding exactly a complete state.safetensors
# (its header parses, the file is as long as its header says, format
# tui-checkpoint-1 and its step equals the folder's); hidden entries are
# only .ckpt-*.tmp.<killed pid>. Every KILL_SAMPLE-th point (and the
# last) also runs `tui --headless --resume`: exit 0, weights.safetensors
# byte for byte those of an uninterrupted run, exactly one ckpt-* left,
# no temp folder left.
#
# Env: TUI, FIX, CC (default cc), KILL_POINTS (default 200), KILL_SAMPLE
# (default 10), KC_CHUNK (default 512).
# Prints "kill_ckpt: N passed, N failed"; exits 1 on any failure.
CHECK_CKPT=$(cd "$(dirname "$0")" && pwd)/lib/check_ckpt.py
FIX=${FIX:-build/fixtures}
TUI=${TUI:-build/tui}
CC=${CC:-cc}
PY=${PYTHON:-/usr/bin/python3}
KILL_POINTS=${KILL_POINTS:-200}
KILL_SAMPLE=${KILL_SAMPLE:-10}
CHUNK=${KC_CHUNK:-512}
case $TUI in /*) ;; *) TUI=$(pwd)/$TUI ;; esac
case $FIX in /*) ;; *) FIX=$(pwd)/$FIX ;; esac
T=$FIX/train
passed=0
failed=0
if [ ! -x "$TUI" ] || [ ! -f "$T/plan_mlp.yaml" ]; then
    echo "kill_ckpt: missing $TUI or $T/plan_mlp.yaml"
    echo "kill_ckpt: 0 passed, 1 failed"
    exit 1
fi
if [ ! -f "$(dirname "$TUI")/libtui-train.so" ] && [ -z "$TUI_TRAIN_LIB" ]; then
    echo "kill_ckpt: no trainer in this build (TORCH=off): skipped"
    echo "kill_ckpt: 0 passed, 0 failed"
    exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kill_ckpt.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
ok() { passed=$((passed + 1)); }
bad() {
    failed=$((failed + 1))
    echo "FAIL $1: $2"
}
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
export ASAN_OPTIONS

cat >"$tmp/shim.c" <<'CEOF'
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

static long kill_at = -1, n;
static int after, inited;
static size_t chunk = 512;
static int file_fd = -1, dir_fd = -1, out_fd = -1, renamed;
static FILE *log_file;

static void init(void)
{
    const char *s;
    if (inited)
        return;
    inited = 1;
    if ((s = getenv("KC_KILL_AT")))
        kill_at = atol(s);
    if ((s = getenv("KC_AFTER")))
        after = atoi(s);
    if ((s = getenv("KC_CHUNK")) && atol(s) > 0)
        chunk = (size_t)atol(s);
    if ((s = getenv("KC_LOG")))
        log_file = fopen(s, "w");
}

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

static void done(long i)
{
    if (after && i == kill_at)
        kill(getpid(), SIGKILL);
}

/* a checkpoint temp folder or something in it */
static int is_tmp(const char *p) { return strstr(p, "/.ckpt-") && strstr(p, ".tmp."); }
/* a published checkpoint folder or something in it */
static int is_ckpt(const char *p) { return strstr(p, "/ckpt-") != NULL; }

#define REAL(name) static __typeof__(name) *real_##name; \
    if (!real_##name) real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

static int open_common(int dfd, const char *path, int flags, mode_t mode, int at)
{
    REAL(openat);
    REAL(open);
    init();
    const char *what = NULL;
    int kind = 0;
    if (is_tmp(path) && (flags & O_CREAT))
        what = "open-file", kind = 1;
    else if (is_tmp(path) && (flags & O_DIRECTORY))
        what = "open-tmpdir", kind = 2;
    else if (renamed && (flags & O_DIRECTORY))
        what = "open-outdir", kind = 3;
    long i = what ? step(what) : 0;
    int fd = at ? real_openat(dfd, path, flags, mode) : real_open(path, flags, mode);
    if (kind == 1) file_fd = fd;
    if (kind == 2) dir_fd = fd;
    if (kind == 3) out_fd = fd;
    if (what)
        done(i);
    return fd;
}

static mode_t va_mode(int flags, va_list ap)
{
    return (flags & O_CREAT) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
    va_list ap; va_start(ap, flags); mode_t m = va_mode(flags, ap); va_end(ap);
    return open_common(AT_FDCWD, path, flags, m, 0);
}
int open64(const char *path, int flags, ...)
{
    va_list ap; va_start(ap, flags); mode_t m = va_mode(flags, ap); va_end(ap);
    return open_common(AT_FDCWD, path, flags, m, 0);
}
int openat(int dfd, const char *path, int flags, ...)
{
    va_list ap; va_start(ap, flags); mode_t m = va_mode(flags, ap); va_end(ap);
    return open_common(dfd, path, flags, m, 1);
}
int openat64(int dfd, const char *path, int flags, ...)
{
    va_list ap; va_start(ap, flags); mode_t m = va_mode(flags, ap); va_end(ap);
    return open_common(dfd, path, flags, m, 1);
}

ssize_t write(int fd, const void *buf, size_t len)
{
    REAL(write);
    init();
    if (fd < 0 || fd != file_fd)
        return real_write(fd, buf, len);
    long i = step("write");
    ssize_t r = real_write(fd, buf, len < chunk ? len : chunk);
    done(i);
    return r;
}

int fsync(int fd)
{
    REAL(fsync);
    init();
    const char *what = fd < 0 ? NULL : fd == file_fd ? "fsync-file" :
        fd == dir_fd ? "fsync-tmpdir" : fd == out_fd ? "fsync-outdir" : NULL;
    if (!what)
        return real_fsync(fd);
    long i = step(what);
    int r = real_fsync(fd);
    done(i);
    return r;
}

int close(int fd)
{
    REAL(close);
    init();
    const char *what = fd < 0 ? NULL : fd == file_fd ? "close-file" :
        fd == dir_fd ? "close-tmpdir" : fd == out_fd ? "close-outdir" : NULL;
    if (!what)
        return real_close(fd);
    if (fd == file_fd) file_fd = -1;
    if (fd == dir_fd) dir_fd = -1;
    if (fd == out_fd) out_fd = -1, renamed = 0;
    long i = step(what);
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

int rename(const char *from, const char *to)
{
    REAL(rename);
    init();
    if (is_ckpt(from) && !is_tmp(from)) { /* prune hides an old one */
        long k = step("rename-old");
        int rr = real_rename(from, to);
        done(k);
        return rr;
    }
    if (!is_tmp(from))
        return real_rename(from, to);
    long i = step("rename");
    int r = real_rename(from, to);
    renamed = 1;
    done(i);
    return r;
}

int unlink(const char *path)
{
    REAL(unlink);
    init();
    if (!is_tmp(path) && !is_ckpt(path))
        return real_unlink(path);
    long i = step(is_tmp(path) ? "unlink-tmp" : "unlink-old");
    int r = real_unlink(path);
    done(i);
    return r;
}

int rmdir(const char *path)
{
    REAL(rmdir);
    init();
    if (!is_tmp(path) && !is_ckpt(path))
        return real_rmdir(path);
    long i = step(is_tmp(path) ? "rmdir-tmp" : "rmdir-old");
    int r = real_rmdir(path);
    done(i);
    return r;
}
CEOF
if ! $CC -shared -fPIC -O1 -o "$tmp/shim.so" "$tmp/shim.c" -ldl 2>"$tmp/cc.err"; then
    echo "kill_ckpt: cannot build the shim: $(head -n 3 "$tmp/cc.err")"
    echo "kill_ckpt: 0 passed, 1 failed"
    exit 1
fi


cp "$T"/mlp.ts.pt "$T"/mlp.init.safetensors "$T"/mlp.safetensors "$tmp/"
P=$tmp/plan.yaml
sed 's/checkpoint_every: [0-9]*/checkpoint_every: 1/; s/epochs: [0-9]*/epochs: 1/' \
    "$T/plan_mlp.yaml" >"$P"
if ! grep -q 'checkpoint_every: 1$' "$P" || ! grep -q 'epochs: 1$' "$P"; then
    bad setup "cannot set checkpoint_every/epochs in the plan"
    echo "kill_ckpt: $passed passed, $failed failed"
    exit 1
fi

# tui_run PIDFILE OUT [--resume] ENV...: the trainer in the foreground of a
# child shell that execs it (its pid is known, no "Killed" notice).
tui_run() {
    pf=$1
    o=$2
    shift 2
    sh -c 'echo $$ >"$0"; exec env "$@"' "$pf" "$@" \
        "$TUI" --headless --plan "$P" -o "$o" >/dev/null 2>"$tmp/run.err"
}

# the uninterrupted reference, and the call log of one run through the shim
t0=$(date +%s%N)
"$TUI" --headless --plan "$P" -o "$tmp/ref" >/dev/null 2>"$tmp/ref.err"
rc=$?
run_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ "$rc" -eq 0 ] && [ -s "$tmp/ref/weights.safetensors" ]; then ok; else
    bad reference "exit $rc: $(head -n 3 "$tmp/ref.err")"
    echo "kill_ckpt: $passed passed, $failed failed"
    exit 1
fi
tui_run "$tmp/pid" "$tmp/logged" KC_LOG="$tmp/calls.log" KC_CHUNK="$CHUNK" \
    LD_PRELOAD="$tmp/shim.so"
rc=$?
total=$(wc -l <"$tmp/calls.log" | tr -d ' ')
nsaves=$(grep -c ' rename$' "$tmp/calls.log")
if [ "$rc" -eq 0 ] && cmp -s "$tmp/ref/weights.safetensors" "$tmp/logged/weights.safetensors" &&
   [ "$nsaves" -ge 10 ] && [ "$(grep -c ' write$' "$tmp/calls.log")" -gt "$nsaves" ] &&
   [ "$(grep -c ' rename-old$' "$tmp/calls.log")" -ge 1 ]; then
    ok
else
    bad "calls" "run through the shim: exit $rc, $total calls, $nsaves saves"
    echo "kill_ckpt: $passed passed, $failed failed"
    exit 1
fi
echo "kill_ckpt: one run ${run_ms} ms; $total checkpoint calls in $nsaves saves ($CHUNK-byte writes)"

# check_out DIR PID LABEL: only complete checkpoints visible; hidden
# entries only the killed process's temp folder.
check_out() {
    for e in $(ls -A "$1"); do
        case $e in
        metrics.jsonl) ;;
        ckpt-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9])
            s=$(echo "$e" | sed 's/^ckpt-0*//')
            if ! why=$("$PY" "$CHECK_CKPT" "$1/$e" "${s:-0}" 2>&1); then
                bad "$3" "$e is not a complete checkpoint: $why"
                return 1
            fi ;;
        .ckpt-[0-9]*.tmp."$2") ;;
        .ckpt-[0-9]*.tmp.old) ;;  # an older one hidden by prune, half deleted
        *)
            bad "$3" "unexpected entry $e in the output folder"
            return 1 ;;
        esac
    done
    ok
}

# resume_check DIR LABEL: --resume ends like the uninterrupted run, one
# checkpoint and no temp folder left.
resume_check() {
    if ! ls -d "$1"/ckpt-* >/dev/null 2>&1; then
        # killed before the first checkpoint was published: nothing to
        # resume; a fresh run in a fresh folder is the way (the folder's
        # contents were checked by check_out).
        nopub=$((nopub + 1))
        return
    fi
    "$TUI" --headless --plan "$P" -o "$1" --resume >/dev/null 2>"$tmp/res.err"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        bad "$2: resume" "exit $rc: $(head -n 2 "$tmp/res.err")"
    elif ! cmp -s "$tmp/ref/weights.safetensors" "$1/weights.safetensors"; then
        bad "$2: resume" "final weights differ from the uninterrupted run"
    elif [ "$(ls -d "$1"/ckpt-* | wc -l)" -ne 1 ]; then
        bad "$2: resume" "checkpoints left: $(ls "$1" | tr '\n' ' ')"
    elif ls -A "$1" | grep -q '^\.ckpt-.*\.tmp\.'; then
        bad "$2: resume" "temp folders left: $(ls -A "$1" | grep '^\.' | tr '\n' ' ')"
    else
        ok
        resumed=$((resumed + 1))
    fi
}

# the kill points: every call of the first and the last save (the first
# publication, the first prune, the last checkpoint), and the rest
# spread evenly so that both sides of each make >= KILL_POINTS kills
first=$(grep ' rename-old$' "$tmp/calls.log" | head -n 1 | cut -d' ' -f1)
last_start=$(grep ' mkdir-tmp$' "$tmp/calls.log" | tail -n 1 | cut -d' ' -f1)
fixed=$(( first + 2 + total - last_start + 1 ))
per_side=$(( (KILL_POINTS + 1) / 2 - fixed ))
[ "$per_side" -ge 10 ] || per_side=10
stepk=$(( total / per_side ))
[ "$stepk" -ge 1 ] || stepk=1
points=$( { seq 1 $((first + 2)); seq "$last_start" "$total"; seq 1 "$stepk" "$total"; } |
    sort -n | uniq | awk -v t="$total" '$1 >= 1 && $1 <= t')
npoints=0
resumed=0
nopub=0
k=0
for at in $points; do
    for side in 0 1; do
        o=$tmp/k
        rm -rf "$o"
        tui_run "$tmp/pid" "$o" KC_KILL_AT="$at" KC_AFTER="$side" \
            KC_CHUNK="$CHUNK" LD_PRELOAD="$tmp/shim.so"
        st=$?
        pid=$(cat "$tmp/pid")
        what="kill at call $at ($(sed -n "${at}p" "$tmp/calls.log" | cut -d' ' -f2), $( [ "$side" = 1 ] && echo after || echo before))"
        npoints=$((npoints + 1))
        k=$((k + 1))
        if [ "$st" -ne 137 ]; then
            bad "$what" "exit status $st, not SIGKILL"
            continue
        fi
        check_out "$o" "$pid" "$what" || continue
        if [ $((k % KILL_SAMPLE)) -eq 0 ] || [ "$at" -eq "$total" ]; then
            resume_check "$o" "$what"
        fi
    done
done
rm -rf "$tmp/k"
echo "kill_ckpt: $npoints kill points, $resumed resumed to the reference weights ($nopub sampled before any checkpoint)"
if [ "$npoints" -ge "$KILL_POINTS" ]; then ok; else bad points "only $npoints kill points"; fi
if [ "$resumed" -ge $((KILL_POINTS / KILL_SAMPLE / 2)) ]; then ok; else bad resumes "only $resumed resumes checked"; fi
echo "kill_ckpt: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
