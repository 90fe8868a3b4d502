#!/usr/bin/env bash
# The GPU work of the course in one script: benchmarks, the full seed experiment, the full lessons.
# Run from the repository root on a CUDA machine:
#   RESNET_EDU_DATA=/path/to/cifar10(.tar.gz) bash benchmarks/gpu.sh [OUT_DIR]
# On a machine without internet, bring the offline copy along in a git-ignored folder, e.g.
#   mkdir -p .data && cp ../shared/data/cifar10-jpeg.tar.gz .data/   (`.data/` is in .gitignore)
#   PYTHONPATH=. RESNET_EDU_DATA=.data/cifar10-jpeg.tar.gz bash benchmarks/gpu.sh "$OUT"
# Writes JSON results (with device, versions and settings inside) to OUT_DIR (default results/)
# and figures to figures/. Each step is time-boxed so one slow step cannot eat the rest.
set -uo pipefail
out="${1:-results}"
mkdir -p "$out" figures
export PYTHONUNBUFFERED=1
py="${PYTHON:-python3}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu_device.txt"

# 1. Training throughput: our loop vs the tutorial DataLoader loop, same model, one device.
timeout 240 $py -m resnet_edu bench train --device cuda --json | tee "$out/bench_train_gpu.json"

# 2. The seed experiment at full scale: ResNet18 vs SimpleCNN, 30 epochs, bf16, channels_last.
timeout 480 $py -m resnet_edu compare resnet18 simplecnn --epochs 30 --batch-size 512 --lr 0.2 \
  --channels-last --device cuda --out "$out/compare_full" --figures figures --json \
  | tee "$out/compare_full_summary.json"

# 3. Landscape speed on the GPU (same grid as the CPU benchmark).
timeout 240 $py -m resnet_edu bench landscape --device cuda --json | tee "$out/bench_landscape_gpu.json"

# 4. Any remaining time: the full lessons (they store their records in results/).
timeout 1200 $py -m resnet_edu lessons --full --out "$out/executed_full"
