#!/bin/sh
# hostile_modes.sh: every refused hostile file of the checklist
# (hostile/st_manifest.txt and hostile/pt_manifest.txt, "path<TAB>expected
# substring", paths relative to hostile/) against every mode (issue 7
# item 5; hostile-inputs.md):
#   --list, --list --json, --summary, --tree, --stats, --rank snr and
#     --diff GOOD FILE (the file as the second checkpoint): exit status 2, nothing on
#     stdout, exactly one line on stderr naming the file and holding the
#     expected words, no sanitizer report;
#   the editor (`tui FILE` in tmux, tests/ui/lib.sh): exit status 2 before
#     curses starts, and the terminal shows exactly that one line;
#   --headless with a copy of train/plan_mlp.yaml whose train.init names
#     the file: exit 2, one line naming it, no output folder (skipped in a
#     build without the trainer).
# The pickle files that only a running pickle could act on must not have
# created hostile/pt_marker_created.
# Env: TUI, FIX; EDITOR_SAMPLE=N runs the editor on every N-th file only
# (default 1: every file; 0: none); HEADLESS_SAMPLE likewise (default 1).
# Prints "hostile_modes: N passed, N failed"; exits 1 on any failure.
. "$(dirname "$0")/lib/common.sh"
cli_begin hostile_modes
case $TUI in /*) ;; *) TUI=$(pwd)/$TUI ;; esac
case $FIX in /*) ;; *) FIX=$(pwd)/$FIX ;; esac
dir=$FIX/hostile
T=$FIX/train
EDITOR_SAMPLE=${EDITOR_SAMPLE:-1}
HEADLESS_SAMPLE=${HEADLESS_SAMPLE:-1}
cli_require "$dir/st_manifest.txt" "$dir/pt_manifest.txt"
marker=$dir/pt_marker_created
marker_before=0
[ -e "$marker" ] && marker_before=1
# A sanitizer report goes to stderr and makes the run exit 1 (ASan) or
# abort; keep the exit status of a report distinct from our 2.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=99"
UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:exitcode=99"
export ASAN_OPTIONS UBSAN_OPTIONS

# verdict LABEL FILE WANT RC OUTFILE ERRFILE: the one-line-refusal checks.
verdict() {
    lines=$(wc -l <"$6" | tr -d ' ')
    line=$(head -n 1 "$6")
    if grep -qE 'Sanitizer|runtime error:|LeakSanitizer' "$6"; then
        cli_fail "$1" "sanitizer report: $(grep -m1 -E 'Sanitizer|runtime error' "$6")"
    elif [ "$4" -ne 2 ]; then
        cli_fail "$1" "exit status $4, want 2 ($line)"
    elif [ -n "$5" ] && [ -s "$5" ]; then
        cli_fail "$1" "wrote to stdout: $(head -c 200 "$5")"
    elif [ "$lines" -ne 1 ]; then
        cli_fail "$1" "$lines lines on stderr, want 1: $(head -n 3 "$6" | tr '\n' '|')"
    elif ! printf '%s\n' "$line" | grep -qF -- "$2"; then
        cli_fail "$1" "message does not name $2: $line"
    elif ! printf '%s\n' "$line" | grep -qF -- "$3"; then
        cli_fail "$1" "message lacks '$3': $line"
    else
        cli_pass
    fi
}

# the list of cases: "rel<TAB>want", both manifests
tab=$(printf '\t')
cat "$dir/st_manifest.txt" "$dir/pt_manifest.txt" | grep -v '^[[:space:]]*$' >"$cli_tmp/cases"
ncases=$(wc -l <"$cli_tmp/cases" | tr -d ' ')

# 1. the seven batch modes
t0=$(date +%s)
while IFS="$tab" read -r rel want; do
    f=$dir/$rel
    for mode in list json summary tree stats rank diff; do
        case $mode in
        list) set -- --list ;;
        json) set -- --list --json ;;
        summary) set -- --summary ;;
        tree) set -- --tree ;;
        stats) set -- --stats ;;
        rank) set -- --rank snr ;;
        diff) set -- --diff "$T/mlp.init.safetensors" ;;
        esac
        "$TUI" "$@" "$f" >"$cli_tmp/out" 2>"$cli_tmp/err" </dev/null
        verdict "$rel ($*)" "$f" "$want" $? "$cli_tmp/out" "$cli_tmp/err"
    done
done <"$cli_tmp/cases"
echo "hostile_modes: $ncases files x 7 batch modes in $(( $(date +%s) - t0 )) s"

# 2. the editor in tmux: the message on the terminal, exit 2, no curses
if [ "$EDITOR_SAMPLE" -gt 0 ] && command -v tmux >/dev/null 2>&1; then
    . "$(dirname "$0")/../ui/lib.sh"
    trap 'ui_cleanup; rm -rf "$cli_tmp"' EXIT
    t0=$(date +%s)
    i=0
    ned=0
    while IFS="$tab" read -r rel want; do
        i=$((i + 1))
        [ $(( (i - 1) % EDITOR_SAMPLE )) -eq 0 ] || continue
        ned=$((ned + 1))
        f=$dir/$rel
        rm -f "$cli_tmp/rc" "$cli_tmp/rc.tmp"
        # stderr stays on the terminal; the status is written last.
        printf '%s\n' "'$TUI' '$f'" "echo \$? > '$cli_tmp/rc.tmp'" \
            "mv '$cli_tmp/rc.tmp' '$cli_tmp/rc'" "sleep 30" >"$cli_tmp/ed.sh"
        ui_start 400 20 "sh $cli_tmp/ed.sh"
        if ! ui_wait_file "$cli_tmp/rc" 10; then
            cli_fail "$rel (editor)" "the editor did not exit"
            ui_screen | sed 's/^/    | /' | head -n 10
            ui_stop
            continue
        fi
        ui_screen | grep -v '^[[:space:]]*$' >"$cli_tmp/err"
        ui_stop
        verdict "$rel (editor)" "$f" "$want" "$(cat "$cli_tmp/rc")" "" "$cli_tmp/err"
    done <"$cli_tmp/cases"
    echo "hostile_modes: editor on $ned files in $(( $(date +%s) - t0 )) s"
elif [ "$EDITOR_SAMPLE" -gt 0 ]; then
    cli_skip tmux "no tmux: the editor mode is not checked"
fi

# 3. --headless with train.init naming the file
if [ "$HEADLESS_SAMPLE" -gt 0 ] && [ -f "$T/plan_mlp.yaml" ] &&
   { [ -f "$(dirname "$TUI")/libtui-train.so" ] || [ -n "$TUI_TRAIN_LIB" ]; }; then
    t0=$(date +%s)
    i=0
    nh=0
    while IFS="$tab" read -r rel want; do
        i=$((i + 1))
        [ $(( (i - 1) % HEADLESS_SAMPLE )) -eq 0 ] || continue
        nh=$((nh + 1))
        f=$dir/$rel
        sed "s#^  path: mlp#  path: $T/mlp#; s#^  model: mlp#  model: $T/mlp#;
             s#^  init: .*#  init: '$f'#; s#train: mlp#train: $T/mlp#" \
            "$T/plan_mlp.yaml" >"$cli_tmp/plan.yaml"
        o=$cli_tmp/out_dir
        rm -rf "$o"
        "$TUI" --headless --plan "$cli_tmp/plan.yaml" -o "$o" \
            >"$cli_tmp/out" 2>"$cli_tmp/err" </dev/null
        rc=$?
        if [ -e "$o" ]; then
            cli_fail "$rel (--headless)" "output folder left: $(ls -A "$o" | tr '\n' ' ')"
        else
            verdict "$rel (--headless)" "$f" "$want" "$rc" "$cli_tmp/out" "$cli_tmp/err"
        fi
    done <"$cli_tmp/cases"
    echo "hostile_modes: --headless on $nh files in $(( $(date +%s) - t0 )) s"
elif [ "$HEADLESS_SAMPLE" -gt 0 ]; then
    cli_skip no-trainer "no trainer in this build: --headless is not checked"
fi

if [ "$marker_before" -eq 0 ] && [ -e "$marker" ]; then
    cli_fail marker "a pickle created $marker"
else
    cli_pass
fi
cli_at_least $((ncases * 4)) cases
cli_end
