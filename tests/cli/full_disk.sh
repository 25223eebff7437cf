#!/bin/sh
# full_disk.sh: a plan save that cannot be written keeps the old plan and
# says why (atomic.h; hostile-inputs.md row 20).
#   - a full disk: a 64 KiB tmpfs holding the old plan; saving the
#     DeepSeek-V3-shaped set's 5 MB plan fails with ENOSPC;
#   - a read-only folder: the tmpfs remounted read-only, and a read-only
#     bind mount of a writable folder (chmod 555 does not stop root).
# Each: exit status 2, one "tui: " error line on stderr naming the plan
# and the reason (the operation's own report line may precede it),
# the old plan byte for byte, no temp file left (hidden or not).
# Needs root and mount namespaces: the script re-runs itself under
# `unshare -m` so its mounts are private and vanish with it. Without
# them it prints "full_disk: skipped (needs-root): <reason>" and counts
# nothing.
#
# Env: TUI, FIX. Prints "full_disk: N passed, N failed".
FIX=${FIX:-build/fixtures}
TUI=${TUI:-build/tui}
# skip KIND WHY: the whole test is skipped (tests/cli/lib/common.sh,
# cli_skip: run.sh excuses needs-root and, in a build without libtorch,
# no-trainer; any other kind is a failure).
skip() {
    echo "full_disk: skipped ($1): $2"
    echo "full_disk: 0 passed, 0 failed"
    exit 0
}
if [ -z "$FULL_DISK_NS" ]; then
    if [ ! -x "$TUI" ] || [ ! -d "$FIX/synthetic/deepseek-v3" ]; then
        echo "full_disk: missing $TUI or $FIX/synthetic/deepseek-v3"
        echo "full_disk: 0 passed, 1 failed"
        exit 1
    fi
    [ "$(id -u)" = 0 ] || skip needs-root "not root: cannot mount a small tmpfs"
    command -v unshare >/dev/null 2>&1 || skip tool "no unshare command (util-linux)"
    unshare -m --propagation private true 2>/dev/null ||
        skip needs-root "cannot make a private mount namespace (unshare -m failed)"
    TUI=$(cd "$(dirname "$TUI")" && pwd)/$(basename "$TUI")
    FIX=$(cd "$FIX" && pwd)
    FULL_DISK_NS=1 TUI=$TUI FIX=$FIX exec unshare -m --propagation private sh "$0" "$@"
fi

passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() {
    failed=$((failed + 1))
    echo "FAIL $1: $2"
}
DS=$FIX/synthetic/deepseek-v3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/full_disk.XXXXXX") || exit 1
cleanup() {
    umount "$tmp/small" "$tmp/ro" "$tmp/rw-view" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/small" "$tmp/rw" "$tmp/rw-view"
if ! mount -t tmpfs -o size=64k tmpfs "$tmp/small" 2>"$tmp/mount.err"; then
    # the namespace was made but mounting is refused (a container)
    skip needs-root "mount -t tmpfs failed: $(cat "$tmp/mount.err")"
fi

# The old plan: a small one (layer 0 frozen), made in a writable folder.
if ! "$TUI" --freeze 'model.layers.0.**' -o "$tmp/rw/plan.yaml" "$DS" >/dev/null 2>"$tmp/err"; then
    bad setup "$(cat "$tmp/err")"
    echo "full_disk: $passed passed, $failed failed"
    exit 1
fi
cp "$tmp/rw/plan.yaml" "$tmp/old.yaml"

# expect_fail LABEL DIR TEXT: saving the 5 MB plan into DIR/plan.yaml
# fails with TEXT in one line; the old plan and nothing else is left.
expect_fail() {
    "$TUI" --freeze '**' -o "$2/plan.yaml" "$DS" >/dev/null 2>"$tmp/err"
    rc=$?
    n=$(grep -c '^tui: ' "$tmp/err")
    if [ "$rc" = 2 ] && [ "$n" = 1 ] && grep -qF -- "$3" "$tmp/err" &&
       grep -qF "plan.yaml" "$tmp/err"; then
        ok
    else
        bad "$1" "exit $rc, $n error lines, want '$3': $(head -c 300 "$tmp/err")"
    fi
    if cmp -s "$2/plan.yaml" "$tmp/old.yaml"; then
        ok
    else
        bad "$1" "the old plan was not kept"
    fi
    left=$(ls -A "$2" | grep -v '^plan\.yaml$')
    if [ -z "$left" ]; then
        ok
    else
        bad "$1" "left in the folder: $left"
    fi
}

# 1. full disk
cp "$tmp/old.yaml" "$tmp/small/plan.yaml"
expect_fail enospc "$tmp/small" "No space left on device"
# the same save fits once there is room: the failure was the disk's
if mount -o remount,size=16m "$tmp/small" 2>/dev/null; then
    if "$TUI" --freeze '**' -o "$tmp/small/plan.yaml" "$DS" >/dev/null 2>"$tmp/err" &&
       [ "$(ls -A "$tmp/small")" = plan.yaml ] &&
       [ "$(wc -c <"$tmp/small/plan.yaml")" -gt 65536 ]; then
        ok
    else
        bad enospc_then_room "$(cat "$tmp/err")"
    fi
    cp "$tmp/old.yaml" "$tmp/small/plan.yaml"
fi

# 2. a read-only tmpfs
if mount -o remount,ro "$tmp/small" 2>"$tmp/mount.err"; then
    expect_fail erofs_tmpfs "$tmp/small" "folder is read-only"
else
    bad erofs_tmpfs "remount ro: $(cat "$tmp/mount.err")"
fi

# 3. a read-only bind mount of a writable folder
if mount --bind "$tmp/rw" "$tmp/rw-view" 2>"$tmp/mount.err" &&
   mount -o remount,bind,ro "$tmp/rw-view" 2>>"$tmp/mount.err"; then
    expect_fail erofs_bind "$tmp/rw-view" "folder is read-only"
else
    bad erofs_bind "bind mount: $(cat "$tmp/mount.err")"
fi

echo "full_disk: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
