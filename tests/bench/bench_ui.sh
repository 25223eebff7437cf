#!/bin/sh
# bench_ui.sh: the editor's numbers from issue 4 on the DeepSeek-V3-shaped
# set (91,991 tensors in 163 shards), measured by the program itself
# (TUI_TIMING=1: "first_frame_ms=", then one "frame: key=K draw_ms=X
# total_ms=Y" line per frame, total from the key read to the redrawn
# screen) while tmux drives it, and peak RSS (VmHWM) read from /proc
# before quitting.
#
#   first frame          process start to the first drawn screen
#   toggle root          Space on the root row (freezes all 91,991)
#   pattern, Enter       f model.layers.{0..31}.** Enter (about 45,000
#                        tensors): Enter to the redrawn screen
#   pattern, live count  the slowest keystroke in that prompt (each one
#                        matches the pattern against every name)
#
# Usage: sh tests/bench/bench_ui.sh   (env TUI, FIX, RUNS: default 3)
# Prints a table of medians; exits 1 when a run fails.
FIX=${FIX:-build/fixtures}
TUI=${TUI:-build/tui}
RUNS=${RUNS:-3}
case $TUI in /*) ;; *) TUI=$(pwd)/$TUI ;; esac
case $FIX in /*) ;; *) FIX=$(pwd)/$FIX ;; esac
DS=$FIX/synthetic/deepseek-v3
PAT='model.layers.{0..31}.**'
. "$(cd "$(dirname "$0")/../ui" && pwd)/lib.sh"
if [ ! -x "$TUI" ] || [ ! -d "$DS" ] || ! command -v tmux >/dev/null; then
    echo "bench_ui: needs $TUI, $DS and tmux"
    exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench_ui.XXXXXX") || exit 1
trap 'ui_cleanup; rm -rf "$tmp"' EXIT
# what the pattern matches, as the command line counts it
matched=$("$TUI" --summary --freeze "$PAT" "$DS" 2>&1 >/dev/null |
    sed -n 's/.*matched \([0-9,]*\) tensors.*/\1/p')
[ -n "$matched" ] || { echo "bench_ui: cannot count the pattern's matches"; exit 1; }
# with thousands separators, as the editor shows it
matched=$(echo "$matched" | tr -d , | awk '{s = $1; o = "";
    while (length(s) > 3) { o = "," substr(s, length(s) - 2) o;
                            s = substr(s, 1, length(s) - 3) }
    print s o}')

fail() {
    echo "bench_ui: run $run: $1"
    ui_screen | sed 's/^/    | /' | head -n 30
    exit 1
}

run=1
while [ "$run" -le "$RUNS" ]; do
    rm -f "$tmp/pid" "$tmp/rc"
    cat >"$tmp/run.sh" <<EOF
export TUI_TIMING=1 XDG_CONFIG_HOME='$tmp/cfg'
sh -c 'echo \$\$ > "$tmp/pid"; exec "\$0" "\$@"' '$TUI' '$DS' 2>'$tmp/t.$run'
echo \$? > '$tmp/rc'
EOF
    ui_start 100 30 "sh $tmp/run.sh"
    ui_wait "model/" 30 || fail "no first frame"
    ui_wait_file "$tmp/pid" 5 || fail "no pid"
    ui_keys g Space
    ui_wait "frozen 684,531,386,000 (100.0%)" 10 || fail "toggle root"
    ui_keys u
    ui_wait "frozen 0 (0.0%)" 10 || fail "undo"
    ui_keys f
    ui_type "$PAT"
    ui_wait "matches $matched tensors" 10 || fail "live count"
    ui_keys Enter
    ui_wait "froze '$PAT'" 10 || fail "pattern"
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$(cat "$tmp/pid")/status")
    echo "$hwm" >"$tmp/hwm.$run"
    ui_keys q
    ui_wait "quit without saving" 10 || fail "quit"
    ui_keys q
    ui_wait_file "$tmp/rc" 10 || fail "exit"
    ui_stop
    run=$((run + 1))
done

# median VALUES...: the middle value (lower middle for an even count).
median() {
    printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}
first=""; toggle=""; enter=""; live=""; rss=""
run=1
while [ "$run" -le "$RUNS" ]; do
    f=$tmp/t.$run
    first="$first $(sed -n 's/^first_frame_ms=//p' "$f")"
    toggle="$toggle $(grep '^frame: key=Space ' "$f" | head -n 1 | sed 's/.*total_ms=//')"
    enter="$enter $(grep '^frame: key=f ' "$f" | head -n 1 | sed 's/.*total_ms=//')"
    live="$live $(grep '^frame: key=prompt ' "$f" | sed 's/.*total_ms=//' | sort -n | tail -n 1)"
    rss="$rss $(awk '{printf "%.1f", $1 / 1024}' "$tmp/hwm.$run")"
    run=$((run + 1))
done
# shellcheck disable=SC2086
{
    echo "editor on deepseek-v3 (91,991 tensors, 163 shards), median of $RUNS runs"
    printf '%-42s %10s %10s\n' "measure" "value" "target"
    printf '%-42s %7s ms %7s ms\n' "first frame" "$(median $first)" "< 1000"
    printf '%-42s %7s ms %7s ms\n' "toggle root: key to redraw" "$(median $toggle)" "< 50"
    printf '%-42s %7s ms %7s ms\n' "pattern ($matched tensors): Enter to redraw" "$(median $enter)" "< 50"
    printf '%-42s %7s ms %7s ms\n' "pattern prompt: slowest live count" "$(median $live)" "< 50"
    printf '%-42s %7s MB %7s MB\n' "peak RSS" "$(median $rss)" "< 300"
}
