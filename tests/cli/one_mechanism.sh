#!/bin/sh
# one_mechanism.sh: one implementation of each low-level mechanism in the
# C sources (tui/, shim/), from the source (issue 12, "one mechanism
# each"):
#   - the write loop: only tui/core/atomic.c defines a write_all
#     (atomic_write_all); the shim writes no file itself (the TorchScript
#     archive comes back in memory: ts_module_archive);
#   - JSON string escaping: only tui/core/jsonw.c writes "\u%04x";
#   - the folder part of a path: only tui/core/path.c defines one
#     (path_dir); no static dir_of elsewhere;
#   - renaming a temp file over an output: only tui/core/atomic.c calls
#     rename/renameat on files (the trainer renames checkpoint folders
#     and hides old ones, in tui/train/train_ckpt.c).
# Prints "one_mechanism: N passed, N failed"; exits 1 on any failure.
. "$(dirname "$0")/lib/common.sh"
cli_begin one_mechanism
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1

# only FILE... hold PATTERN (grep -E) among tui/ and shim/ sources
only() {
    what=$1
    pat=$2
    shift 2
    got=$(grep -rlE --include='*.c' --include='*.h' --include='*.cpp' \
        --include='*.hpp' -e "$pat" tui shim | sort | tr '\n' ' ')
    want=
    [ $# -gt 0 ] && want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
    if [ "$got" = "$want" ]; then cli_pass; else
        cli_fail "$what" "in [$got], want only [$want]"
    fi
}

only "write loop" '^(static )?int [a-z_]*write_all\(' tui/core/atomic.c tui/core/atomic.h
only "shim file writes" '::(open|write)[ ]*\('
only "JSON escaper" '\\\\u%04x' tui/core/jsonw.c
only "dir_of" '(^|[^_a-z])(dir_of|path_dir)[ ]*\(' tui/core/path.c tui/core/path.h \
    tui/core/atomic.c tui/core/plan_path.c tui/core/session_plan.c
only "static dir_of" 'static char \*dir_of' 
only "rename" '(^|[^_a-z])rename(at)?[ ]*\(' tui/core/atomic.c tui/train/train_ckpt.c
cli_end
