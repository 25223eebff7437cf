#!/bin/sh
# hostile_st.sh: every hostile safetensors file and shard index from
# gen_hostile_st.py is refused by `tui --list`: exit status 2, nothing on
# stdout, exactly one line on stderr, naming the file and holding the
# expected words (hostile/st_manifest.txt: "path<TAB>substring").
. "$(dirname "$0")/lib/common.sh"
cli_begin hostile_st
dir=$FIX/hostile
manifest=$dir/st_manifest.txt
cli_require "$manifest"

check_refusal_manifest "$dir" "$manifest"
cli_at_least 30 manifest
cli_end
