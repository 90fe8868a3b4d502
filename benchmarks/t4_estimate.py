"""Estimated time of each lesson in the `gpu` setting on a Colab T4: an estimate, not a measurement.

    PYTHONPATH=. python benchmarks/t4_estimate.py [--json]

No T4 is at hand, and the GPU machine the course was measured on has no Jupyter kernel, so the
`gpu` setting's lesson times are estimated from the training each lesson does there (the `S.pick`
values of its notebook, listed in WORK below) and two rates measured on an H200 and stored in
results/:

* compute: the H200's ResNet18 training rate (results/bench_train_gpu.json, MACs per second of
  forward + backward) scaled by the ratio of the two GPUs' half-precision tensor peaks;
* overhead: the H200's time per SGD step for SimpleCNN, the smallest net (results/paper/compare/),
  a floor that Python and kernel launches set whatever the GPU.

Each run takes the larger of the two; a test pass counts a third of a training pass per image.
Data loading, per-step gradient recording (lesson 04), landscapes and Hessians are left out, so the
estimate is a lower bound. Keep WORK in step with the notebooks when their `gpu` sizes change.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from resnet_edu import build_model, count_macs

ROOT = Path(__file__).resolve().parents[1]
T4_FP16_TFLOPS = 65.0  # NVIDIA T4 datasheet: peak FP16 tensor throughput (dense)
H200_BF16_TFLOPS = 989.0  # NVIDIA H200 datasheet: peak BF16 tensor throughput (dense; 1,979 with sparsity)
TRAIN, TEST = 50_000, 10_000  # CIFAR-10 images per split

# lesson -> (what, model, width, epochs, batch size, runs = nets x seeds) of its `gpu` setting
WORK = {
    "01": [  # each net at the shared learning rate and again at a tenth of it
        *[(f"degradation{lr}", m, 16, 6, 128, 1) for lr in ("", ", lr / 10") for m in ("plain20", "plain56")]
    ],
    "02": [
        ("option A vs B", "resnet20", 16, 3, 128, 6),
        *[
            (f"degradation{lr}", m, 16, 6, 128, 1)
            for lr in ("", ", lr / 10")
            for m in ("plain20", "plain56", "resnet20", "resnet56")
        ],
    ],
    "03": [("shortcut scaling", "resnet20", 16, 5, 128, 9), ("placements", "resnet20", 16, 5, 128, 15)],
    "04": [
        ("SkipInit vs BN", "resnet32", 16, 5, 128, 9),
        ("lesion", "resnet20", 16, 10, 128, 3),
        ("lesion", "plain20", 16, 10, 128, 3),
    ],
    "05": [("landscape nets", "resnet20", 16, 10, 128, 3), ("landscape nets", "plain20", 16, 10, 128, 3)],
    "06": [("comparison", "resnet18", 64, 10, 256, 3), ("comparison", "simplecnn", 32, 10, 256, 3)],
}


def measured_rates() -> dict:
    """MACs per second (forward-equivalent) and seconds per step from the stored H200 runs."""
    bench = json.loads((ROOT / "results/bench_train_gpu.json").read_text())
    r18 = next(r for r in bench["results"] if r["model"] == "resnet18")
    h200_macs_per_s = 3 * r18["ours_images_per_s"] * count_macs(build_model("resnet18", width=64))
    step_s = []
    for path in sorted((ROOT / "results/paper/compare").glob("simplecnn_s*.json")):
        run = json.loads(path.read_text())
        steps = run["config"]["epochs"] * math.ceil(TRAIN / run["config"]["batch_size"])
        step_s.append(run["records"][-1]["time"] / steps)
    return dict(
        device=bench["device_name"],
        h200_macs_per_s=h200_macs_per_s,
        t4_macs_per_s=h200_macs_per_s * T4_FP16_TFLOPS / H200_BF16_TFLOPS,
        step_s=sum(step_s) / len(step_s),
    )


def estimate(rates: dict) -> list[dict]:
    """One row per lesson: estimated seconds on a T4 and the runs behind them."""
    rows = []
    for lesson, work in WORK.items():
        total, parts = 0.0, []
        for what, model, width, epochs, batch, runs in work:
            macs = count_macs(build_model(model, width=width))
            compute = epochs * (3 * TRAIN + TEST) * macs / rates["t4_macs_per_s"]
            overhead = epochs * math.ceil(TRAIN / batch) * rates["step_s"]
            total += runs * max(compute, overhead)
            parts.append(f"{runs} x {model} ({what}, {epochs} ep)")
        rows.append(dict(lesson=lesson, seconds=round(total), runs="; ".join(parts)))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the estimate as JSON")
    rates = measured_rates()
    rows = estimate(rates)
    if ap.parse_args().json:
        print(json.dumps(dict(rates=rates, lessons=rows), indent=1))
        return
    print(
        f"rates from the stored {rates['device']} runs: {rates['h200_macs_per_s'] / 1e12:.1f} TMAC/s "
        f"(ResNet18), scaled to a T4: {rates['t4_macs_per_s'] / 1e12:.2f} TMAC/s; "
        f"{1e3 * rates['step_s']:.1f} ms per step floor"
    )
    r18 = rates["t4_macs_per_s"] / (3 * count_macs(build_model("resnet18", width=64)))
    print(f"that is about {r18:,.0f} ResNet18 training images/s on a T4")
    for r in rows:
        print(
            f"lesson {r['lesson']}: about {r['seconds'] / 60:.1f} min on a T4 (estimate, lower bound): "
            f"{r['runs']}"
        )
    print(f"all six: about {sum(r['seconds'] for r in rows) / 60:.0f} min")


if __name__ == "__main__":
    main()
