#!/bin/sh
# train_model_file.sh: a train.model that is not a TorchScript module is
# named as what it is, before libtorch tries it (docs/training.md
# "Errors"; issue 12): a torch.save state_dict, a safetensors file and a
# plain pickle stream each give exit 2, one line
#   tui: PLAN: train.model 'X' is a state_dict (weights only), not a
#   TorchScript module: export one with torch.jit.script(model).save(...)
#   and give the weights as train.init
# (or "is a safetensors file (weights only)", "is a plain pickle
# stream"), and no output folder. A TorchScript module still trains.
# Env: TUI, FIX. Prints "train_model_file: N passed, N failed".
. "$(dirname "$0")/lib/common.sh"
cli_begin train_model_file
cli_abs_paths
T=$FIX/train
M=$FIX/models
cli_require "$T/plan_mlp.yaml" "$M/bert_tiny_sd.pt" "$M/bert_tiny.safetensors"
cli_require_trainer
tmp=$cli_tmp
cp "$T"/mlp.ts.pt "$T"/mlp.init.safetensors "$T"/mlp.safetensors \
    "$T"/plan_mlp.yaml "$tmp/"
cp "$M/bert_tiny_sd.pt" "$tmp/sd.pt"
cp "$M/bert_tiny.safetensors" "$tmp/w.safetensors"
printf '\200\002}q\000.' >"$tmp/plain.pkl" # pickle.dumps({}, 2)
cd "$tmp" || exit 1

same() {
    if [ "$2" = "$3" ]; then cli_pass; else cli_fail "$1" "got [$2] want [$3]"; fi
}

# refused NAME FILE WHAT: train.model FILE is refused as WHAT.
refused() {
    sed "s|model: mlp.ts.pt|model: $2|" plan_mlp.yaml >"$1.yaml"
    rm -rf "out_$1"
    "$TUI" --headless --plan "$1.yaml" -o "out_$1" >out 2>err
    same "$1: exit" "$?" 2
    same "$1: message" "$(cat err)" \
        "tui: $1.yaml: train.model '$2' $3, not a TorchScript module: export one with torch.jit.script(model).save(...) and give the weights as train.init"
    if [ -e "out_$1" ]; then cli_fail "$1: output" "created"; else cli_pass; fi
}

refused state_dict sd.pt "is a state_dict (weights only)"
refused safetensors w.safetensors "is a safetensors file (weights only)"
refused pickle plain.pkl "is a plain pickle stream"

# the TorchScript module of the same plan trains
"$TUI" --headless --plan plan_mlp.yaml -o out_ts --max-steps 3 >out 2>err
same "torchscript: exit" "$?" 0

cli_end
