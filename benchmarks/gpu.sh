#!/usr/bin/env bash
# The course's GPU work as named stages, each sized to finish in under 9 minutes on one H100:
#
#   bash benchmarks/gpu.sh OUT STAGE [STAGE ...]        (or STAGE = all)
#
# Stages:
#   deps             python, torch, torchvision, the GPU, and the CIFAR-10 copy the others read
#   bench-train      training images/s: our loop vs the tutorial DataLoader loop (ResNet18, SimpleCNN)
#   compare          the seed experiment: ResNet18 vs SimpleCNN, 3 seeds each, 30 epochs, batch 512
#                    (the `compare/` jobs of the reproduce queue; about 3 minutes on an H200)
#   bench-landscape  seconds per landscape point (ResNet-20, 11x11) vs loss-landscapes where it runs
#   reproduce        the paper queue (`python -m resnet_edu reproduce`) for at most 500 s; rerun to go on
#   lesson-01 .. lesson-06   one lesson in the `gpu` setting, executed headless, with its time
#
# Everything a stage writes goes under OUT (results, executed lessons, figures, logs). The data is
# RESNET_EDU_DATA when set, else the offline copy beside the clone (../shared/data) or in .data/;
# the path is made absolute, since lessons run in notebooks/. On a machine without internet:
#   mkdir -p .data && cp ../shared/data/cifar10-jpeg.tar.gz .data/      (.data/ is git-ignored)
# The lesson stages need a Jupyter kernel; where the machine has none, `make gpu-wheels` (run where
# pip reaches an index) fills .wheels/ and the stages install from it.
# Each stage prints one summary line; the script exits non-zero when any stage failed.
set -uo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
out="$(mkdir -p "$1" && cd "$1" && pwd)"
shift
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 PYTHONPATH="${PYTHONPATH:-.}"
py="${PYTHON:-python3}"
for cand in "${RESNET_EDU_DATA:-}" ../shared/data/cifar10-jpeg.tar.gz .data/cifar10-jpeg.tar.gz; do
  if [ -n "$cand" ] && [ -e "$cand" ]; then
    RESNET_EDU_DATA="$(cd "$(dirname "$cand")" && pwd)/$(basename "$cand")"
    break
  fi
done
export RESNET_EDU_DATA="${RESNET_EDU_DATA:-}" RESNET_EDU_CACHE="${RESNET_EDU_CACHE:-$out/cache}"
export RESNET_EDU_FIGURES="$out/figures"
mkdir -p "$out/logs" "$out/figures"

kernel() {  # a headless Jupyter kernel for the lessons: present, or installed from .wheels/
  $py -c "import nbclient, ipykernel" 2>/dev/null && return 0
  if [ ! -d .wheels ]; then
    echo "no Jupyter kernel here and no .wheels/ to install one from (make gpu-wheels)" >&2
    return 3
  fi
  local site="${TMPDIR:-/tmp}/resnet-edu-site" how
  for how in "" "--user --break-system-packages" "--target $site"; do  # a venv, a system Python, else a folder
    # shellcheck disable=SC2086
    $py -m pip install --quiet --no-index --find-links .wheels $how nbclient nbformat ipykernel && break
  done
  [ -d "$site" ] && export PYTHONPATH="$site:$PYTHONPATH"
  $py -c "import nbclient, ipykernel"
}

stage() {  # stage NAME: run it, log it, print one line
  local name=$1 start rc
  start=$(date +%s)
  case "$name" in
    deps)
      $py - <<'PY'
import os, torch, torchvision
assert torch.cuda.is_available(), "no CUDA GPU"
from resnet_edu.data import load_cifar10
n = len(load_cifar10(split="train")) + len(load_cifar10(split="test"))
print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, {torch.cuda.get_device_name()}, "
      f"CIFAR-10 {n} images from {os.environ['RESNET_EDU_DATA']}")
PY
      ;;
    bench-train)
      timeout 540 $py -m resnet_edu bench train --device cuda --data "$RESNET_EDU_DATA" --json > "$out/bench_train_gpu.json" ;;
    compare)
      timeout 540 $py -m resnet_edu reproduce --only compare/ --budget-s 500 --out "$out/paper" --json \
        > "$out/compare_status.json" ;;
    bench-landscape)
      timeout 540 $py -m resnet_edu bench landscape --device cuda --json > "$out/bench_landscape_gpu.json" ;;
    reproduce)
      timeout 540 $py -m resnet_edu reproduce --budget-s 500 --out "$out/paper" --json > "$out/reproduce_status.json" ;;
    lesson-0[1-6])
      kernel && timeout 540 $py -m resnet_edu lessons "${name#lesson-}" --setting gpu --out "$out/executed" ;;
    *)
      echo "unknown stage $name (see: bash benchmarks/gpu.sh)" >&2
      (exit 2) ;;
  esac > "$out/logs/$name.out" 2> "$out/logs/$name.err"
  rc=$?
  echo "stage $name: $([ $rc -eq 0 ] && echo ok || echo "FAILED (exit $rc; see $out/logs/$name.err)") in $(( $(date +%s) - start )) s"
  return $rc
}

stages=("$@")
[ "${stages[0]}" = all ] && stages=(deps bench-train compare bench-landscape reproduce lesson-01 lesson-02 lesson-03 lesson-04 lesson-05 lesson-06)
failed=0
for s in "${stages[@]}"; do
  stage "$s" || failed=1
done
exit $failed
