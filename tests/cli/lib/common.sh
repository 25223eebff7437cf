# common.sh: the shared part of the command-line tests (tests/cli/*.sh).
#
# A POSIX sh library: source it, never run it. It lives in a subfolder so
# that tests/run.sh, which runs every tests/cli/*.sh as a test, skips it.
#
#   . "$(dirname "$0")/lib/common.sh"
#   cli_begin NAME            FIX and TUI defaults, counters, a temp folder
#   cli_abs_paths             make $TUI and $FIX absolute
#   cli_require FILE...       stop (one failure) unless $TUI runs and
#                             every FILE exists
#   cli_require_trainer       stop (skipped) unless this build has the
#                             trainer (libtui-train.so)
#   cli_skip KIND WHY         say that a part of the test is skipped
#   cli_skip_all KIND WHY     say that the whole test is skipped; exit 0
#   cli_kill_shim             build lib/kill_shim.c, the LD_PRELOAD shim
#                             of the crash tests, into $cli_shim
#   ... checks: cli_pass, cli_fail WHAT WHY, check_one_line_error,
#       check_refusal_manifest, cli_at_least ...
#   cli_end                   the summary line; exits 1 on any failure
#
# Globals: FIX and TUI (kept when set; else build/fixtures and build/tui),
# passed and failed (the counters), cli_name, cli_tmp (a temp folder,
# removed on exit through an EXIT trap), cli_shim (after cli_kill_shim).
# Its own variables start with cl_.

# cli_begin NAME: sets the defaults and counters and makes $cli_tmp.
# On failure to make the folder prints the summary line and exits 1.
cli_begin() {
    cli_name=$1
    FIX=${FIX:-build/fixtures}
    TUI=${TUI:-build/tui}
    passed=0
    failed=0
    cli_tmp=$(mktemp -d "${TMPDIR:-/tmp}/$cli_name.XXXXXX") || {
        echo "$cli_name: cannot make a temp folder"
        echo "$cli_name: 0 passed, 1 failed"
        exit 1
    }
    trap 'rm -rf "$cli_tmp"' EXIT
}

# cli_pass: counts one passed check.
cli_pass() {
    passed=$((passed + 1))
}

# cli_fail WHAT WHY: counts one failed check and prints "FAIL WHAT: WHY".
cli_fail() {
    failed=$((failed + 1))
    echo "FAIL $1: $2"
}

# cli_require FILE...: returns when $TUI is executable and every FILE is a
# regular file; else prints what is missing and the summary line (0
# passed, 1 failed) and exits 1.
cli_require() {
    cl_missing=
    [ -x "$TUI" ] || cl_missing=" $TUI"
    for cl_f in "$@"; do
        [ -f "$cl_f" ] || cl_missing="$cl_missing $cl_f"
    done
    if [ -n "$cl_missing" ]; then
        echo "$cli_name: missing$cl_missing"
        echo "$cli_name: 0 passed, 1 failed"
        exit 1
    fi
}

# cli_abs_paths: makes $TUI and $FIX absolute (a relative one is taken
# from the current folder), for tests that change folder or hand them to
# child processes. Cannot fail.
cli_abs_paths() {
    case $TUI in /*) ;; *) TUI=$(pwd)/$TUI ;; esac
    case $FIX in /*) ;; *) FIX=$(pwd)/$FIX ;; esac
}

# cli_skip KIND WHY: prints "NAME: skipped (KIND): WHY", the line
# tests/run.sh counts. KIND is no-trainer (the build has no libtorch) or
# needs-root (the test needs a privilege this user lacks); run.sh takes a
# skip of any other kind, or one the build does not excuse (no-trainer in
# a build made with libtorch, needs-root as root), as a failure.
cli_skip() {
    echo "$cli_name: skipped ($1): $2"
}

# cli_skip_all KIND WHY: cli_skip, then the summary line (0 passed, 0
# failed) and exit 0.
cli_skip_all() {
    cli_skip "$1" "$2"
    echo "$cli_name: 0 passed, 0 failed"
    exit 0
}

# cli_require_trainer: returns when this build has the trainer
# (libtui-train.so beside $TUI, or $TUI_TRAIN_LIB set); else skips the
# whole test (cli_skip_all no-trainer).
cli_require_trainer() {
    if [ ! -f "$(dirname "$TUI")/libtui-train.so" ] && [ -z "$TUI_TRAIN_LIB" ]; then
        cli_skip_all no-trainer "no trainer in this build (TORCH=off)"
    fi
}

# cli_kill_shim: builds lib/kill_shim.c (the LD_PRELOAD shim that counts
# the calls of a save and SIGKILLs the process at one of them; its header
# lists the KS_* variables that configure it) with $CC (default cc) into
# $cli_tmp/kill_shim.so, sets cli_shim to that path, and lets a sanitizer
# build run with it preloaded (adds verify_asan_link_order=0 to
# ASAN_OPTIONS and exports it). On a compile error prints its first lines
# and the summary line (0 passed, 1 failed) and exits 1.
cli_kill_shim() {
    cl_src=$(cd "$(dirname "$0")" && pwd)/lib/kill_shim.c
    cli_shim=$cli_tmp/kill_shim.so
    if ! ${CC:-cc} -shared -fPIC -O1 -o "$cli_shim" "$cl_src" -ldl \
            2>"$cli_tmp/kill_shim.err"; then
        echo "$cli_name: cannot build the shim: $(head -n 3 "$cli_tmp/kill_shim.err")"
        echo "$cli_name: 0 passed, 1 failed"
        exit 1
    fi
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
    export ASAN_OPTIONS
}

# cli_sample_points TOTAL N SEED: prints N distinct call numbers drawn
# from 1..TOTAL (all of them when N >= TOTAL), sorted, one per line. The
# draw is a partial Fisher-Yates shuffle driven by the Park-Miller
# generator (x = 16807 x mod 2^31-1: every product exact in a double)
# written out here, not awk's rand(), which differs between mawk and gawk;
# so a seed names the same points on every machine, and a failure found
# with KILL_SEED=S is found again with it.
cli_sample_points() {
    awk -v t="$1" -v n="$2" -v s="$3" 'BEGIN {
        if (n > t) n = t
        m = 2147483647
        x = s % m
        if (x <= 0) x = 1
        for (i = 0; i < 16; i++) x = (16807 * x) % m
        for (i = 1; i <= t; i++) a[i] = i
        for (i = 1; i <= n; i++) {
            x = (16807 * x) % m
            j = i + int(x / m * (t - i + 1))
            v = a[i]; a[i] = a[j]; a[j] = v
            print a[i]
        }
    }' | sort -n
}

# check_one_line_error FILE SUBSTRING [LABEL]: one check that `$TUI --list
# FILE` refuses the file the documented way: exit status 2, nothing on
# stdout, exactly one line on stderr, naming FILE and holding SUBSTRING.
# LABEL (default FILE) names the case in a FAIL line.
check_one_line_error() {
    cl_label=${3:-$1}
    "$TUI" --list "$1" >"$cli_tmp/out" 2>"$cli_tmp/err" </dev/null
    cl_rc=$?
    cl_lines=$(wc -l <"$cli_tmp/err")
    cl_line=$(head -n 1 "$cli_tmp/err")
    if [ "$cl_rc" -ne 2 ]; then
        cli_fail "$cl_label" "exit status $cl_rc, want 2 ($cl_line)"
    elif [ -s "$cli_tmp/out" ]; then
        cli_fail "$cl_label" "wrote to stdout: $(head -c 200 "$cli_tmp/out")"
    elif [ "$cl_lines" -ne 1 ]; then
        cli_fail "$cl_label" "$cl_lines lines on stderr, want 1"
    elif ! printf '%s\n' "$cl_line" | grep -qF -- "$1"; then
        cli_fail "$cl_label" "message does not name $1: $cl_line"
    elif ! printf '%s\n' "$cl_line" | grep -qF -- "$2"; then
        cli_fail "$cl_label" "message lacks '$2': $cl_line"
    else
        cli_pass
    fi
}

# check_refusal_manifest DIR MANIFEST: check_one_line_error on every line
# "path<TAB>substring" of MANIFEST (paths relative to DIR; empty lines
# skipped), one check per line, labelled with the relative path.
check_refusal_manifest() {
    cl_dir=$1
    cl_tab=$(printf '\t')
    while IFS="$cl_tab" read -r cl_rel cl_want; do
        [ -n "$cl_rel" ] || continue
        check_one_line_error "$cl_dir/$cl_rel" "$cl_want" "$cl_rel"
    done <"$2"
}

# cli_at_least N WHAT: one failure (named WHAT) when fewer than N checks
# have run so far, so that a truncated manifest cannot pass; no check
# otherwise.
cli_at_least() {
    if [ $((passed + failed)) -lt "$1" ]; then
        cli_fail "$2" "only $((passed + failed)) cases listed"
    fi
}

# cli_end: prints "NAME: N passed, N failed" and exits 0, or 1 on any
# failure.
cli_end() {
    echo "$cli_name: $passed passed, $failed failed"
    [ "$failed" -eq 0 ] && exit 0
    exit 1
}
