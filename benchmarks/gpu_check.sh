#!/usr/bin/env bash
# GPU check of s4d_forecast, meant to finish in under 10 minutes on one CUDA device:
#   (a) the layer-speed table on CUDA (benchmarks/layer_speed.py --device cuda: times,
#       ratios and peak memory against the reference S4D layer);
#   (b) 200 optimiser steps of the full BIDMC HR recipe (s4d_forecast/configs/bidmc/hr.yaml)
#       in bf16-mixed: steps/s, training loss at start and end, peak memory;
#   (c) one S4DModel (darts) fit on the GPU, on statsmodels' bundled sunspot series.
#
# It runs on a bare machine that has torch but not darts, wfdb, Lightning ...: what is missing
# is installed, without network, from the wheels in a git-ignored folder of the tree
# (default .wheels/, filled beforehand on a machine with internet by `make wheels` or
# `benchmarks/gpu_check.sh --fill-wheels`) into a virtual environment .wheels/venv that
# sees the machine's own torch (--system-site-packages).
#
# Usage: benchmarks/gpu_check.sh [--data PATH] [--out DIR] [--dry-run] [--wheels DIR]
#                                [--python PY] [--stages abc] [--force-install]
#                                [--install-only] [--fill-wheels] [--print-install]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
DATA=""
OUT=""
DRY=0
WHEELS="$ROOT/.wheels"
STAGES="abc"
FORCE_INSTALL=0
INSTALL_ONLY=0
FILL=0
PRINT_INSTALL=0
# modules every stage needs besides torch
MODULES="numpy scipy pandas sklearn yaml pytorch_lightning jsonargparse darts wfdb statsmodels"

usage() {
  sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  cat <<EOF

Options:
  --data PATH       bidmc_csv.zip for stage (b) (required unless --dry-run, which then
                    trains on random windows)
  --out DIR         folder for the logs and outputs (default: gpu_check_out/<date> in the tree)
  --dry-run         tiny sizes on the CPU, for testing the script itself
  --wheels DIR      wheel folder (default: .wheels in the tree)
  --python PY       interpreter with torch (default: \$PYTHON or python3)
  --stages LETTERS  which of a, b, c to run (default: abc)
  --force-install   install from the wheels even if every module imports
  --install-only    stop after the install step
  --fill-wheels     pip download this project's dependencies (without torch) into the
                    wheel folder, then stop (needs network)
  --print-install   print the install command instead of running it, then stop
EOF
}

die() { echo "gpu_check.sh: error: $*" >&2; exit 2; }

need_value() { [[ $# -ge 2 && -n "$2" && "$2" != --* ]] || die "$1 needs a value"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --data) need_value "$@"; DATA="$2"; shift 2 ;;
    --out) need_value "$@"; OUT="$2"; shift 2 ;;
    --wheels) need_value "$@"; WHEELS="$2"; shift 2 ;;
    --python) need_value "$@"; PY="$2"; shift 2 ;;
    --stages) need_value "$@"; STAGES="$2"; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    --force-install) FORCE_INSTALL=1; shift ;;
    --install-only) INSTALL_ONLY=1; shift ;;
    --fill-wheels) FILL=1; shift ;;
    --print-install) PRINT_INSTALL=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1'; accepted: --data PATH, --out DIR, --dry-run, --wheels DIR, --python PY, --stages LETTERS, --force-install, --install-only, --fill-wheels, --print-install, --help" ;;
  esac
done

[[ "$STAGES" =~ ^[abc]+$ ]] || die "--stages '$STAGES' must be letters among a, b, c (e.g. abc, b)"
command -v "$PY" >/dev/null 2>&1 || die "--python '$PY' is not an executable on PATH"
if [[ -n "$DATA" && ! -e "$DATA" ]]; then
  die "--data '$DATA' does not exist; pass the BIDMC release (bidmc_csv.zip)"
fi
if [[ $DRY -eq 0 && $FILL -eq 0 && $INSTALL_ONLY -eq 0 && $PRINT_INSTALL -eq 0 \
      && "$STAGES" == *b* && -z "$DATA" ]]; then
  die "--data PATH (bidmc_csv.zip) is required for stage b unless --dry-run"
fi

# the project's dependencies, torch left out (the machine's own torch is used)
requirements() {
  "$PY" - "$ROOT/pyproject.toml" <<'EOF'
import re, sys
try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib
deps = tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]
for d in deps:
    if re.split(r"[\s<>=!\[;~]", d, maxsplit=1)[0].lower() != "torch":
        print(d)
EOF
}

if [[ $FILL -eq 1 ]]; then
  mkdir -p "$WHEELS"
  mapfile -t REQS < <(requirements)
  # torch and the CUDA libraries are left out: the GPU machine brings its own
  echo "+ $PY -m pip download --dest $WHEELS ${REQS[*]} (torch excluded)"
  "$PY" -m pip download --dest "$WHEELS" "${REQS[@]}"
  rm -f "$WHEELS"/torch-*.whl "$WHEELS"/nvidia_*.whl "$WHEELS"/triton-*.whl
  echo "filled $WHEELS ($(ls "$WHEELS" | wc -l) files)"
  exit 0
fi

# which modules are missing: located, not imported (importing darts alone takes seconds)
find_missing() {
  "$1" -c 'import importlib.util as u, sys
print(" ".join(m for m in sys.argv[1:] if u.find_spec(m) is None))' "${@:2}"
}
[[ -z "$(find_missing "$PY" torch)" ]] || die "--python '$PY' cannot import torch; install torch for the machine's CUDA first"
# shellcheck disable=SC2086
missing="$(find_missing "$PY" $MODULES)"

if [[ -n "$missing" || $FORCE_INSTALL -eq 1 || $PRINT_INSTALL -eq 1 ]]; then
  VENV="$WHEELS/venv"
  mapfile -t REQS < <(requirements)
  # --isolated: no pip configuration or PIP_* variables (e.g. PIP_FIND_LINKS) join in;
  # --no-index: nothing from the network
  INSTALL=("$VENV/bin/python" -m pip --isolated install --no-index --find-links "$WHEELS"
           "${REQS[@]}")
  if [[ $PRINT_INSTALL -eq 1 ]]; then
    echo "missing modules: ${missing:-none}"
    echo "$PY -m venv --system-site-packages --without-pip $VENV"
    printf '%q ' "${INSTALL[@]}"; echo
    exit 0
  fi
  echo "missing modules: ${missing:-none (forced)}; installing from $WHEELS"
  if ! compgen -G "$WHEELS/*.whl" >/dev/null; then
    echo "gpu_check.sh: error: no wheel (*.whl) in --wheels '$WHEELS'; fill it on a machine with internet: make wheels (or benchmarks/gpu_check.sh --fill-wheels)" >&2
    exit 3
  fi
  # without pip of its own when the interpreter's pip is visible (creating one takes long)
  [[ -x "$VENV/bin/python" ]] || "$PY" -m venv --system-site-packages --without-pip "$VENV"
  "$VENV/bin/python" -m pip --version >/dev/null 2>&1 || "$VENV/bin/python" -m ensurepip --default-pip >/dev/null
  if ! "${INSTALL[@]}"; then
    echo "gpu_check.sh: error: installing from '$WHEELS' without network failed (see pip's message above); refill it with make wheels on a machine of the same Python version and platform" >&2
    exit 3
  fi
  PY="$VENV/bin/python"
fi
[[ $INSTALL_ONLY -eq 1 ]] && { echo "install step done; python: $PY"; exit 0; }

OUT="${OUT:-$ROOT/gpu_check_out/$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
if [[ $DRY -eq 1 ]]; then
  DEV=cpu
  LAYER_ARGS=(--device cpu --shapes "2,8,8,64" --repeats 1 --warmup 1)
  TRAIN_ARGS=(--device cpu --dry-run --steps 3)
  FIT_ARGS=(--device cpu --dry-run)
else
  DEV=cuda
  "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
    || die "no CUDA device visible to torch (use --dry-run to test the script on CPU)"
  LAYER_ARGS=(--device cuda)
  TRAIN_ARGS=(--device cuda --steps 200)
  FIT_ARGS=(--device cuda)
fi
[[ -n "$DATA" ]] && TRAIN_ARGS+=(--data "$DATA")

{
  echo "gpu_check: $(date -u +%FT%TZ) device=$DEV dry_run=$DRY python=$PY"
  echo "git: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU')"
} | tee "$OUT/env.txt"

run_stage() {
  local name="$1"; shift
  local t0=$SECONDS
  echo "== stage $name: $*" | tee -a "$OUT/summary.txt"
  "$@" 2>&1 | tee "$OUT/stage_$name.log"
  echo "stage $name: ok in $((SECONDS - t0)) s" | tee -a "$OUT/summary.txt"
}

[[ "$STAGES" == *a* ]] && run_stage a "$PY" "$ROOT/benchmarks/layer_speed.py" "${LAYER_ARGS[@]}"
[[ "$STAGES" == *b* ]] && run_stage b "$PY" "$ROOT/benchmarks/gpu_check_stages.py" train \
  "${TRAIN_ARGS[@]}" --out "$OUT/train"
[[ "$STAGES" == *c* ]] && run_stage c "$PY" "$ROOT/benchmarks/gpu_check_stages.py" fit \
  "${FIT_ARGS[@]}" --out "$OUT/fit"
echo "gpu_check: all requested stages passed; outputs in $OUT"
