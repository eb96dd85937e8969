#!/usr/bin/env bash
# The GPU check, as one command on a lent machine as it comes (its own python3 with PyTorch, no network,
# nothing installed): the package runs from src/ on PYTHONPATH.
#
#   bash scripts/device-check.sh [--data-dir DIR] [--budget SECONDS] [--out DIR] [--precision fp32|tf32|bf16]
#   bash scripts/device-check.sh --cpu-smoke      # the same logic on this machine's CPU, tiny, < 2 minutes
#
# Within --budget seconds (default 480, everything included) it
#   0. checks the modules a run imports (torch, numpy, scikit-learn needed; tqdm optional) and that the CLI
#      answers (python3 -m imcpnn.cli.main --help);
#   1. times the CIFAR-10 VGG7 training step (3x32x32:C64-C64-P-C128-C128-P-C256-C256-P-512-10, DSTD M = 4)
#      on random inputs at batch 32 and 256 in fp32, tf32 and bf16: images/s, ms/step, peak GPU memory;
#      and DSTD's end-potential error (M = 10) against the exact solution under each precision;
#   2. trains the Fashion-MNIST VGG7 (1x28x28:C64-C64-P-C128-C128-P-C256-C256-P-512-10, |E±| = 1.3, in
#      --precision, default fp32) for as many epochs as fit in what is left (imcpnn.training.train's
#      time_budget: checkpoints every epoch, final evaluation included), from the four IDX .gz files in
#      --data-dir (default data/fashion-mnist, else /usr/share/datasets/fashion-mnist where it exists);
#   3. writes device-check.json (GPU, torch, images/s, seconds per epoch, peak memory, test accuracy),
#      device-check.log, and the run's metrics.json and history.csv, into $OUT if set, else --out
#      (default runs/device-check). The run's checkpoints stay in runs/device-check/fmnist-vgg7 (--cpu-smoke:
#      smoke-fmnist); a second check on the same machine resumes that run.
#
# Environment: PYTHON, the interpreter (default python3, the machine's own; with --cpu-smoke the checkout's
# .venv/bin/python when there is one). Exit status: 0 when every part ran, 1 when one failed (the others
# still ran; see the JSON), 2 for bad arguments, 3 when a module that training needs is missing.
set -u -o pipefail

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }

cd "$(dirname "$0")/.." || exit 2
MODE=gpu
DATA_DIR=""
BUDGET=480
PRECISION=fp32
OUT_DIR=${OUT:-runs/device-check}
while [ $# -gt 0 ]; do
    case "$1" in
        --cpu-smoke) MODE=cpu-smoke ;;
        --data-dir) DATA_DIR=${2:?--data-dir needs a folder}; shift ;;
        --budget) BUDGET=${2:?--budget needs seconds}; shift ;;
        --out) OUT_DIR=${2:?--out needs a folder}; shift ;;
        --precision) PRECISION=${2:?--precision needs fp32, tf32 or bf16}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "device-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
case "$BUDGET" in '' | *[!0-9]*) echo "device-check: --budget takes whole seconds; got $BUDGET" >&2; exit 2 ;; esac
case "$PRECISION" in fp32 | tf32 | bf16) ;; *) echo "device-check: --precision takes fp32, tf32 or bf16" >&2; exit 2 ;; esac
if [ -n "${PYTHON:-}" ]; then
    PY=$PYTHON
elif [ "$MODE" = cpu-smoke ] && [ -x .venv/bin/python ]; then
    PY=.venv/bin/python  # this checkout's environment (make install); a GPU machine has only its python3
else
    PY=python3
fi

if [ "$MODE" = gpu ]; then
    DEVICE=cuda THREADS=8
    BENCH=(--arch 3x32x32:C64-C64-P-C128-C128-P-C256-C256-P-512-10 --batches 32 256 --seconds 3)
    TRAIN=(--arch 1x28x28:C64-C64-P-C128-C128-P-C256-C256-P-512-10 --epochs 100)
    MARGIN=45  # seconds kept back: the report, the processes' exits, a misestimated final evaluation
    RUN_DIR=runs/device-check/fmnist-vgg7
else
    DEVICE=cpu THREADS=1
    BENCH=(--arch 3x32x32:C4-P-C8-P-16-10 --batches 4 8 --seconds 0.5)
    TRAIN=(--arch 1x28x28:C4-P-C8-P-16-10 --epochs 2 --max-train-samples 256 --max-eval-samples 128)
    MARGIN=10
    RUN_DIR=runs/device-check/smoke-fmnist
fi
if [ -z "$DATA_DIR" ]; then
    DATA_DIR=data/fashion-mnist
    if ! ls "$DATA_DIR"/train-images-idx3-ubyte* >/dev/null 2>&1 && [ -d /usr/share/datasets/fashion-mnist ]; then
        DATA_DIR=/usr/share/datasets/fashion-mnist  # imcpnn's default folder (Debian's dataset-fashion-mnist)
    fi
fi

STARTED=$(date +%s)
elapsed() { echo $(($(date +%s) - STARTED)); }
export PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
mkdir -p "$OUT_DIR" || exit 2
PARTS=$(mktemp -d) || exit 2
trap 'rm -rf "$PARTS"' EXIT

check() {
    echo "device-check ($MODE): $PY, budget ${BUDGET} s, results in $OUT_DIR"

    # 0. modules, the CLI, the device
    if ! "$PY" scripts/device_step.py env --json "$PARTS/env.json"; then
        echo "device-check: $PY lacks a module that training needs (above); carry its wheel (docs/gpu.md)" >&2
        return 3
    fi
    if ! "$PY" -m imcpnn.cli.main --help >/dev/null; then
        echo "device-check: '$PY -m imcpnn.cli.main --help' failed with PYTHONPATH=$PYTHONPATH" >&2
        return 3
    fi
    if [ "$DEVICE" = cuda ] && ! "$PY" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'; then
        echo "device-check: no CUDA device here; without one run: bash scripts/device-check.sh --cpu-smoke" >&2
        return 1
    fi

    # 1. the training step and DSTD's error, per precision (tf32 only on CUDA)
    local failed=0
    echo "== step benchmark on $DEVICE ($(elapsed) s)"
    timeout $((BUDGET / 3)) "$PY" scripts/device_step.py bench --device "$DEVICE" --threads "$THREADS" \
        --precisions fp32 tf32 bf16 "${BENCH[@]}" --json "$PARTS/bench.json" || failed=1

    # 2. Fashion-MNIST VGG7 within what is left
    local left=$((BUDGET - $(elapsed) - MARGIN))
    if [ $left -lt 20 ]; then
        echo "device-check: only ${left} s left for training: skipped" >&2
        echo '{"error": "no time left for training"}' >"$PARTS/train.json"
        failed=1
    else
        echo "== Fashion-MNIST VGG7 on $DEVICE ($PRECISION) from $DATA_DIR, budget ${left} s ($(elapsed) s)"
        timeout $((left + MARGIN / 2)) "$PY" scripts/device_step.py train --device "$DEVICE" --threads "$THREADS" \
            --dataset fashion-mnist --e-rev 1.3 --data-dir "$DATA_DIR" --precision "$PRECISION" --budget "$left" \
            "${TRAIN[@]}" --out "$RUN_DIR" --json "$PARTS/train.json" || failed=1
        if [ ! -s "$PARTS/train.json" ]; then
            echo '{"error": "the training part ended without a result (timeout?)"}' >"$PARTS/train.json"
        fi
        for name in metrics.json history.csv; do
            if [ -f "$RUN_DIR/$name" ]; then
                cp "$RUN_DIR/$name" "$OUT_DIR/$(basename "$RUN_DIR")-$name"
            fi
        done
    fi

    # 3. the report
    echo "== report ($(elapsed) s)"
    "$PY" scripts/device_step.py report --mode "$MODE" --wall-seconds "$(elapsed)" \
        --parts "$PARTS/env.json" "$PARTS/bench.json" "$PARTS/train.json" --json "$OUT_DIR/device-check.json" \
        || failed=1
    echo "device-check: done in $(elapsed) s; $OUT_DIR/device-check.json"
    return $failed
}

check 2>&1 | tee "$OUT_DIR/device-check.log"
exit "${PIPESTATUS[0]}"
