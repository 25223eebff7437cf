#!/bin/sh
# kill_sample.sh: the kill-point tests draw their points the documented
# way (Makefile, tests/cli/lib/common.sh cli_sample_points): N distinct
# calls in 1..TOTAL, sorted, the same for the same seed, others for
# another seed, every call when N >= TOTAL; and `make test-full` runs
# both passes with KILL_POINTS=all (every call) and every hostile file.
# Prints "kill_sample: N passed, N failed".
. "$(dirname "$0")/lib/common.sh"
cli_begin kill_sample
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

a=$(cli_sample_points 2293 44 1 | tr '\n' ' ')
b=$(cli_sample_points 2293 44 1 | tr '\n' ' ')
c=$(cli_sample_points 2293 44 2 | tr '\n' ' ')
n=$(printf '%s\n' $a | sort -un | awk '$1 >= 1 && $1 <= 2293' | wc -l)
sorted=$(printf '%s\n' $a | sort -n | tr '\n' ' ')
if [ "$n" -eq 44 ] && [ "$a" = "$sorted" ]; then cli_pass; else
    cli_fail distinct "want 44 distinct sorted calls in 1..2293: $a"
fi
if [ "$a" = "$b" ]; then cli_pass; else cli_fail seed "seed 1 drew $a then $b"; fi
if [ "$a" != "$c" ]; then cli_pass; else cli_fail seeds "seeds 1 and 2 drew the same points"; fi
# spread: a fixed-seed draw is not a prefix of the range
hi=$(printf '%s\n' $a | tail -n 1)
lo=$(printf '%s\n' $a | head -n 1)
if [ "$hi" -gt 1147 ] && [ "$lo" -lt 1147 ]; then cli_pass; else
    cli_fail spread "points lie in $lo..$hi of 1..2293"
fi
all=$(cli_sample_points 7 100 5 | tr '\n' ' ')
if [ "$all" = "1 2 3 4 5 6 7 " ]; then cli_pass; else cli_fail all "N >= TOTAL drew: $all"; fi

cd "$ROOT" || exit 1
full=$(make -n test-full 2>/dev/null | grep 'tests/run.sh')
if [ "$(printf '%s\n' "$full" | grep -c 'KILL_POINTS=all HEADLESS_SAMPLE=1')" -eq 2 ] &&
   printf '%s\n' "$full" | grep -q 'BUILD=build-san'; then
    cli_pass
else
    cli_fail test-full "make test-full does not run both passes exhaustively: $full"
fi
cli_end
