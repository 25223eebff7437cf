#!/bin/sh
# not_checkpoint.sh: a file that is not a checkpoint is called what it is
# (notckpt/manifest.txt from gen_not_checkpoint.py: text, YAML, JSON, an
# HTML page, .npy, .npz, PNG, gzip, 7z, tar, GGUF, ONNX, HDF5, raw pickles,
# a zip with bytes in front, an empty file), and torch.save(model) is
# refused with what to save instead: exit status 2, nothing on stdout,
# one line naming the file (check_one_line_error). A missing file is
# reported as missing in every mode, the editor's included, before the
# editor asks for a terminal.
. "$(dirname "$0")/lib/common.sh"
cli_begin not_checkpoint
dir=$FIX/notckpt
cli_require "$dir/manifest.txt"

check_refusal_manifest "$dir" "$dir/manifest.txt"
cli_at_least 24 manifest

# None of them reads as a safetensors header length.
for f in "$dir"/*; do
    case $f in */manifest.txt) continue ;; esac
    if "$TUI" --list "$f" 2>&1 </dev/null | grep -q "header length"; then
        cli_fail "$(basename "$f")" "still reported as a header length"
    else
        cli_pass
    fi
done

# A missing file: the same line with or without a mode, no terminal asked.
missing=$cli_tmp/no-such-model.safetensors
for mode in "" --list --summary; do
    # shellcheck disable=SC2086
    "$TUI" $mode "$missing" >"$cli_tmp/out" 2>"$cli_tmp/err" </dev/null
    rc=$?
    line=$(head -n 1 "$cli_tmp/err")
    if [ "$rc" -ne 2 ]; then
        cli_fail "missing ${mode:-editor}" "exit status $rc, want 2"
    elif [ "$(wc -l <"$cli_tmp/err")" -ne 1 ] ||
         [ "$line" != "tui: $missing: No such file or directory" ]; then
        cli_fail "missing ${mode:-editor}" "got: $line"
    else
        cli_pass
    fi
done

cli_end
