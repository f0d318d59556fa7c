#!/usr/bin/env bash
# The measurements of `benchmark --workers/--ray` and `tune` (docs/distributed.md), on an
# otherwise idle machine; every output goes under OUT (default benchmarks/results/distributed):
#   sequential/   the dev suite, S4D + TiDE, NHiTS, NLinear, one seed, in one process (1 thread)
#   workers2/     the same command with --workers 2; its table is compared with sequential/
#   killed/       --workers 2, the driver SIGKILLed once half the cells are stored, then the
#                 same command again (it says how many cells it reuses); compared likewise
#   cluster/      a two-node Ray cluster of `ray start` processes on this machine (one CPU
#                 each), the same command with --ray; compared likewise
#   tune_<case>/  `s4d-forecast tune --case CASE --trials TRIALS` for each of --tune-cases
#   summary.md    wall times, the speed-up, the table comparisons, the reused cells, the
#                 tuned-vs-default lines, and every command run
# At the end the cell files (cells/) and the plots of the three runs compared with
# sequential/ are deleted: their results.csv and summary.md keep what was measured.
#
# Usage: benchmarks/distributed_check.sh [--out DIR] [--data-root DIR] [--cases A,B]
#          [--epochs N] [--trials K] [--tune-cases A,B] [--models M,...] [--python PY]
# Defaults: the ten dev cases, 15 epochs, patience 3, at most 8000 training windows per
# epoch (as benchmarks/RESULTS.md's suite runs), 20 trials on heart_rate and temps (the cases
# where the default loses). Check the script itself on a tiny budget with e.g.
#   benchmarks/distributed_check.sh --out /tmp/dc --cases airpassengers,co2_26 --epochs 1 \
#     --trials 2 --tune-cases airpassengers
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/benchmarks/results/distributed"
DATA_ROOT="$ROOT/../shared/data"
CASES=""
EPOCHS=15
TRIALS=20
TUNE_CASES="heart_rate,temps"
MODELS="s4d,tide,nhits,nlinear"
PY="${PYTHON:-python3}"

die() { echo "distributed_check.sh: error: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  [[ $# -ge 2 && "$1" == --* ]] || die "options take a value: $*"
  case "$1" in
    --out) OUT="$2" ;;
    --data-root) DATA_ROOT="$2" ;;
    --cases) CASES="$2" ;;
    --epochs) EPOCHS="$2" ;;
    --trials) TRIALS="$2" ;;
    --tune-cases) TUNE_CASES="$2" ;;
    --models) MODELS="$2" ;;
    --python) PY="$2" ;;
    *) die "unknown option $1 (see the header of this script)" ;;
  esac
  shift 2
done
[[ -d "$DATA_ROOT" ]] || die "--data-root $DATA_ROOT is not a folder"
[[ ! -e "$OUT" ]] || [[ -z "$(ls -A "$OUT")" ]] || die "--out $OUT is not empty"
"$PY" -c "import ray, optuna, s4d_forecast" 2>/dev/null \
  || die "$PY cannot import ray, optuna and s4d_forecast: pip install 's4d_forecast[distributed]'"
mkdir -p "$OUT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS=1 RAY_USAGE_STATS_ENABLED=0
SUMMARY="$OUT/summary.md"
BENCH=(-m s4d_forecast.cli benchmark --suite dev --data-root "$DATA_ROOT" --models "$MODELS"
       --epochs "$EPOCHS" --patience 3 --max-train-windows 8000 --seed 42)
[[ -z "$CASES" ]] || BENCH+=(--cases "$CASES")
GROUPS_STARTED=()
cleanup() {  # the process groups this script started (Ray nodes, a killed driver's Ray)
  for g in "${GROUPS_STARTED[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
}
trap cleanup EXIT

{
  echo "# benchmark --workers/--ray and tune: measurements"
  echo
  echo "Machine: $(getconf _NPROCESSORS_ONLN) cores, $(uname -srm); load before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
} > "$SUMMARY"

timed() {  # timed NAME LOG CMD...: run CMD, log its output, record its wall time in summary
  local name="$1" log="$2"; shift 2
  echo "\$ ${*/#$PY/python}" | tee -a "$SUMMARY" > /dev/null
  local start end status=0
  start=$(date +%s.%N)
  "$@" > "$log" 2>&1 || status=$?
  end=$(date +%s.%N)
  local wall
  wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
  echo "- $name: exit $status, wall $wall s" >> "$SUMMARY"
  echo "$wall" > "$OUT/.$name.wall"
  return 0
}

same_table() {  # same_table DIR: results.csv of DIR against sequential/ (timing columns aside)
  "$PY" - "$OUT/sequential/results.csv" "$1/results.csv" >> "$SUMMARY" <<'EOF'
import sys
import pandas as pd
want, got = (pd.read_csv(p).drop(columns=["fit_s", "predict_s"]) for p in sys.argv[1:])
try:
    pd.testing.assert_frame_equal(got, want, rtol=1e-5)
    print(f"- table of {sys.argv[2]}: the same {len(got)} rows as sequential (rtol 1e-5)")
except AssertionError as exc:
    print(f"- table of {sys.argv[2]}: DIFFERS from sequential: {str(exc).splitlines()[:6]}")
EOF
}

echo "## 1. Sequential against --workers 2" >> "$SUMMARY"
timed sequential "$OUT/sequential.log" "$PY" "${BENCH[@]}" --threads 1 --output "$OUT/sequential"
timed workers2 "$OUT/workers2.log" "$PY" "${BENCH[@]}" --workers 2 --output "$OUT/workers2"
same_table "$OUT/workers2"
RATIO=$(awk -v w="$(cat "$OUT/.workers2.wall")" -v s="$(cat "$OUT/.sequential.wall")" 'BEGIN { printf "%.3f", w / s }')
echo "- wall time --workers 2 / sequential: $RATIO (target <= 0.6)" >> "$SUMMARY"

echo -e "\n## 2. Killed midway, then the same command again" >> "$SUMMARY"
TOTAL=$(ls "$OUT/sequential/cells" | grep -c '__seed')
echo "\$ python ${BENCH[*]} --workers 2 --output $OUT/killed   # SIGKILL once $((TOTAL / 2)) of $TOTAL cells are stored" >> "$SUMMARY"
setsid "$PY" "${BENCH[@]}" --workers 2 --output "$OUT/killed" > "$OUT/killed_first.log" 2>&1 &
DRIVER=$!
GROUPS_STARTED+=("$DRIVER")
while kill -0 "$DRIVER" 2>/dev/null; do
  STORED=$(ls "$OUT/killed/cells" 2>/dev/null | grep -c '__seed' || true)
  if [[ "$STORED" -ge $((TOTAL / 2)) ]]; then kill -KILL "$DRIVER"; break; fi
  sleep 0.5
done
wait "$DRIVER" 2>/dev/null || true
sleep 2
kill -KILL -- "-$DRIVER" 2>/dev/null || true  # its local Ray instance (it would end by itself)
echo "- killed with $(ls "$OUT/killed/cells" | grep -c '__seed') of $TOTAL cells stored" >> "$SUMMARY"
timed rerun "$OUT/killed_rerun.log" "$PY" "${BENCH[@]}" --workers 2 --output "$OUT/killed"
echo "- the rerun said: $(grep -m1 '^resuming' "$OUT/killed_rerun.log" || echo 'no resuming line')" >> "$SUMMARY"
same_table "$OUT/killed"

echo -e "\n## 3. A two-node cluster on this machine (two \`ray start\`, one CPU each)" >> "$SUMMARY"
PORT=$("$PY" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
AGENT=$("$PY" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
RAY="$(dirname "$("$PY" -c 'import sys; print(sys.executable)')")/ray"
export RAY_AUTH_MODE=token  # `ray start` clusters ask for the token from Ray 2.59 on
NODE=(--num-cpus 1 --block --disable-usage-stats)
echo "\$ ray start --head --port $PORT ${NODE[*]}" >> "$SUMMARY"
setsid "$RAY" start --head --port "$PORT" --include-dashboard false "${NODE[@]}" > "$OUT/cluster_head.log" 2>&1 &
GROUPS_STARTED+=("$!")
nodes() { "$PY" -c "import ray; ray.init(address='127.0.0.1:$PORT', logging_level='ERROR'); print(sum(n['Alive'] for n in ray.nodes()))" 2>/dev/null || echo 0; }
for _ in $(seq 90); do [[ "$(nodes | tail -1)" == 1 ]] && break; sleep 2; done
echo "\$ ray start --address 127.0.0.1:$PORT ${NODE[*]}" >> "$SUMMARY"
setsid "$RAY" start --address "127.0.0.1:$PORT" --dashboard-agent-listen-port "$AGENT" "${NODE[@]}" > "$OUT/cluster_node.log" 2>&1 &
GROUPS_STARTED+=("$!")
for _ in $(seq 90); do [[ "$(nodes | tail -1)" == 2 ]] && break; sleep 2; done
echo "- nodes alive: $(nodes | tail -1)" >> "$SUMMARY"
timed cluster "$OUT/cluster.log" "$PY" "${BENCH[@]}" --ray "127.0.0.1:$PORT" --output "$OUT/cluster"
same_table "$OUT/cluster"
"$PY" - "$OUT/cluster/cells" >> "$SUMMARY" <<'EOF'
import json, pathlib, sys
nodes = [json.loads(p.read_text()).get("node") for p in pathlib.Path(sys.argv[1]).glob("*__seed*.json")]
print(f"- cells per node: {sorted([nodes.count(n) for n in set(nodes)])}")
EOF
cleanup
GROUPS_STARTED=()
CURRENT=/tmp/ray/ray_current_cluster  # the address `ray start` left, as `ray stop` removes it
if [[ -f "$CURRENT" ]] && grep -q ":$PORT\$" "$CURRENT"; then rm -f "$CURRENT"; fi
unset RAY_AUTH_MODE

echo -e "\n## 4. tune on $TUNE_CASES ($TRIALS trials each)" >> "$SUMMARY"
IFS=',' read -r -a TUNED <<< "$TUNE_CASES"
for CASE in "${TUNED[@]}"; do
  timed "tune_$CASE" "$OUT/tune_$CASE.log" "$PY" -m s4d_forecast.cli tune --case "$CASE" \
    --data-root "$DATA_ROOT" --trials "$TRIALS" --epochs "$EPOCHS" --patience 3 \
    --max-train-windows 8000 --seed 42 --workers 2 --output "$OUT/tune_$CASE"
  echo "- $CASE: $(grep -m1 '^Tuned / default' "$OUT/tune_$CASE/tune.md" 2>/dev/null || echo 'no result (see the log)')" >> "$SUMMARY"
done
rm -f "$OUT"/.*.wall
# what the comparisons above have read and is not worth keeping: each run's cell files (its
# results.csv holds the rows) and the plots of the runs whose table equals sequential/'s
for RUN in sequential workers2 killed cluster; do rm -rf "${OUT:?}/$RUN/cells"; done
for RUN in workers2 killed cluster; do rm -f "$OUT/$RUN"/*.png; done
echo "wrote $SUMMARY"
