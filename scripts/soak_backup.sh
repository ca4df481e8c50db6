#!/usr/bin/env bash
# Soak test of plexus train --backup-dir (not part of the suite; see README.md):
# trains a small Iris model straight once, then again and again, each time killed
# (SIGKILL at a random step, SIGKILL inside a random backup write, or SIGTERM /
# SIGINT at a random step) and restarted with the same backup directory until it
# completes; every completed run's model and CSV log must equal the straight
# run's (h5diff: every dataset and attribute; cmp: the log byte for byte).
#
#   scripts/soak_backup.sh [PLEXUS] [SECONDS]     (defaults: build/tools/plexus, 300)
#
# Prints one line per completed run and a summary; exits 1 at the first mismatch,
# leaving its files in the work directory it names.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
plexus=$(realpath "${1:-$root/build/tools/plexus}")
seconds=${2:-300}
work=$(mktemp -d /tmp/plexus_soak.XXXXXX)
cd "$work" || exit 1
cat > m.json <<'JSON'
{"class_name": "Sequential", "config": {"name": "m", "layers": [{"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "dtype": "float32", "name": "in"}}, {"class_name": "Dense", "config": {"name": "h", "units": 16, "activation": "relu"}}, {"class_name": "Dropout", "config": {"name": "d", "rate": 0.2}}, {"class_name": "Dense", "config": {"name": "out", "units": 3, "activation": "softmax"}}]}}
JSON
# 120 training rows at batch 16: 8 steps per epoch, 64 in all; a backup every 3 steps
epochs=8 total=64 every=3
args=(train m.json --train-csv "$root/tests/data/iris.csv" --header --epochs $epochs --batch-size 16
      --validation-split 0.2 --optimizer adam --early-stopping 20 --threads 1 -v 0 --csv-log log.csv)
"$plexus" "${args[@]}" -o straight.h5 >/dev/null || { echo "soak: the straight run failed"; exit 1; }
cp log.csv straight.csv
exec 2>/dev/null # bash's "Killed" notices; each run's own stderr goes to err.txt
end=$((SECONDS + seconds)) runs=0 interruptions=0
while ((SECONDS < end)); do
    last=0 n=0
    while :; do
        # the next interruption point, after the last one so that it is reached
        k=$((last + 1 + RANDOM % 12))
        case $((RANDOM % 4)) in
            0) hook="PLEXUS_TEST_KILL_AT_STEP=$k" ;;
            1) k=$(((k + every - 1) / every * every)); hook="PLEXUS_TEST_KILL_IN_BACKUP=$k" ;;
            2) hook="PLEXUS_TEST_RAISE_AT_STEP=$((1 + RANDOM % 10)):TERM" ;;
            *) hook="PLEXUS_TEST_RAISE_AT_STEP=$((1 + RANDOM % 10)):INT" ;;
        esac
        last=$k
        env "$hook" "$plexus" "${args[@]}" --backup-dir bk --backup-every $every -o r.h5 >/dev/null 2>err.txt
        rc=$?
        if ((rc == 0)); then break; fi
        if ((rc != 137 && rc != 130 && rc != 143)); then
            echo "soak: run $((runs + 1)) with $hook exited with $rc: $(cat err.txt) (files in $work)"
            exit 1
        fi
        n=$((n + 1))
        if ((n > 200)); then echo "soak: run $((runs + 1)) does not finish (files in $work)"; exit 1; fi
    done
    if ! h5diff straight.h5 r.h5 >/dev/null || ! cmp -s log.csv straight.csv || [[ -e bk ]]; then
        echo "soak: run $((runs + 1)) after $n interruptions differs from the straight run (files in $work)"
        exit 1
    fi
    runs=$((runs + 1)) interruptions=$((interruptions + n))
    echo "run $runs: $n interruptions, same model and log"
done
echo "soak: $runs runs, $interruptions kill-or-signal-and-resume cycles, every result identical to the straight run"
rm -rf "$work"
