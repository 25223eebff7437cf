"""check_ckpt.py DIR STEP: exit 0 when DIR/state.safetensors is a complete
trainer checkpoint of step STEP (the header parses, the file is exactly as
long as the header says, format tui-checkpoint-1, step STEP); else exit
with the reason. Shared by tests/cli/kill_ckpt.sh and train_full_disk.sh.
"""
import json, os, struct, sys
d, want = sys.argv[1], int(sys.argv[2])
try:
    names = sorted(os.listdir(d))
    if names != ["state.safetensors"]:
        sys.exit("folder holds %s" % names)
    p = os.path.join(d, "state.safetensors")
    size = os.path.getsize(p)
    with open(p, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        if n > size:
            sys.exit("header length %d > file %d" % (n, size))
        h = json.loads(f.read(n))
    meta = h.pop("__metadata__", {})
    end = max([v["data_offsets"][1] for v in h.values()] + [0])
    if size != 8 + n + end:
        sys.exit("file is %d bytes, header says %d" % (size, 8 + n + end))
    if meta.get("format") != "tui-checkpoint-1":
        sys.exit("format %r" % meta.get("format"))
    if int(meta.get("step", -1)) != want:
        sys.exit("step %r in ckpt-%010d" % (meta.get("step"), want))
except (OSError, ValueError, KeyError, TypeError, struct.error) as e:
    sys.exit("unreadable: %s" % e)
