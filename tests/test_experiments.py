import json
import math

import pytest
import torch

from resnet_edu import experiments as ex
from resnet_edu.data import synthetic_cifar
from resnet_edu.train import History, TrainConfig

# ---- lessons 01-03


def test_results_round_trip_with_full_run_label(tmp_path):
    path = tmp_path / "results" / "01_degradation.json"
    assert ex.load_results(path) is None  # no full run yet: lessons plot only their quick run
    rows = [{"model": "plain-20", "epoch": 1, "train_loss": 2.0}]
    ex.save_results(rows, path, config=TrainConfig(epochs=3, seed=7), seed=7, device="NVIDIA H100")
    saved = json.loads(path.read_text())
    assert saved["config"]["epochs"] == 3 and saved["seed"] == 7
    loaded = ex.load_results(path)
    assert loaded["records"] == rows
    assert loaded["label"] == f"full run (NVIDIA H100, {saved['date']})"


def test_fake_full_results_file_is_found(tmp_path):
    fake = {"records": [{"model": "resnet-56", "epoch": 1}], "config": {}, "seed": 0, "device": "GPU X",
            "date": "2026-01-02"}  # fmt: skip
    (tmp_path / "03_placements.json").write_text(json.dumps(fake))
    assert ex.load_results(tmp_path / "03_placements.json")["label"] == "full run (GPU X, 2026-01-02)"


def test_mlp_gradient_norms_vanish_for_sigmoid_and_stay_flat_with_he_and_bn():
    x, y = torch.randn(32, 3, 4, 4), torch.randint(0, 10, (32,))
    rows = ex.mlp_gradient_norms(x, y, depths=(20,), width=32)
    first = {r["model"]: r["ratio"] for r in rows if r["block"] == 0}
    top = [r["ratio"] for r in rows if r["block"] == 20]
    assert top == pytest.approx([1.0] * len(ex.MLP_VARIANTS))
    assert 0 < first["sigmoid, naive init"] < 1e-20  # float64: tiny but not underflowed to 0
    assert first["sigmoid, He init"] < 1e-3
    assert 0.1 < first["ReLU, He init"] < 10  # He et al. 2015b: variance-preserving for ReLU
    assert first["ReLU, He init, BN"] > 2  # plain BN nets' gradients grow with depth (Yang et al. 2019)


def test_shortcut_param_counts_match_the_paper_and_projection_sizes():
    (row,) = ex.shortcut_param_counts(depths=(20,))
    assert row["option_A"] == 269_722  # He et al. 2015, Table 6: 0.27M
    # option B: two 1x1 projections with BN, 16->32 and 32->64 channels
    assert row["extra_B"] == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)


def test_unrolled_sum_is_exact_for_preactivation_only():
    x = torch.randn(4, 8, 6, 6, dtype=torch.float64)
    pre = ex.unrolled_sum_errors(ex.block_stack(5, placement="full_preact"), x)
    orig = ex.unrolled_sum_errors(ex.block_stack(5, placement="original"), x)
    assert max(r["rel_error"] for r in pre) < 1e-12
    assert min(r["rel_error"] for r in orig[:-1]) > 1e-2  # l = L-1 is one ReLU away, also broken
    assert [r["l"] for r in pre] == list(range(5))


def test_gradient_decomposition_matches_autograd_for_preactivation():
    x = torch.randn(4, 8, 6, 6, dtype=torch.float64)
    rows = ex.gradient_decomposition(ex.block_stack(4, placement="full_preact"), x)
    assert max(r["abs_error"] for r in rows) < 1e-10
    assert len({round(r["direct_norm"], 9) for r in rows}) == 1  # the same dE/dx_L reaches every block
    orig = ex.gradient_decomposition(ex.block_stack(4, placement="original"), x)
    assert max(r["abs_error"] for r in orig) > 1e-3


def test_skip_scale_multiplies_gradient_by_lambda_to_the_depth():
    rows = ex.skip_scale_gradients(lambdas=(0.5, 1.5), depths=(1, 3, 6))
    for r in rows:
        assert r["grad_ratio"] == pytest.approx(r["lam"] ** r["depth"], rel=1e-12)
    small = ex.skip_scale_gradients(lambdas=(1.0,), depths=(8,), branch_gain=0.05)
    assert small[0]["grad_ratio"] != pytest.approx(1.0, rel=1e-9)  # the branches now add a little


def test_train_models_tidy_rows_and_grouping():
    data = synthetic_cifar(4, seed=0)
    cfg = TrainConfig(epochs=2, batch_size=20, lr=0.01, augment=False, device="cpu", schedule="constant")
    models = {"shallow": lambda: ex.mlp(1, width=16), "deep": lambda: ex.mlp(3, width=16, shortcut=True)}
    rows = ex.train_models(models, data, None, cfg)
    assert [(r["model"], r["epoch"]) for r in rows] == [
        ("shallow", 1),
        ("shallow", 2),
        ("deep", 1),
        ("deep", 2),
    ]
    assert all(math.isfinite(r["train_loss"]) for r in rows)
    assert list(ex.by_model(rows)) == ["shallow", "deep"]
    assert [r["epoch"] for r in ex.final_rows(rows)] == [2, 2]
    again = ex.train_models({"shallow": models["shallow"]}, data, None, cfg)  # seeded: repeatable
    assert again[-1]["train_loss"] == rows[1]["train_loss"]


def test_as_batch_is_seeded_normalised_and_mixes_classes():
    data = synthetic_cifar(5, seed=0)
    x, y = ex.as_batch(data, 20, seed=3)
    x2, y2 = ex.as_batch(data, 20, seed=3)
    assert x.shape == (20, 3, 32, 32) and x.dtype == torch.float32
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert len(set(y.tolist())) > 3


def test_downsample_averages_pixels():
    data = synthetic_cifar(1, seed=0)
    small = ex.downsample(data, 16)
    assert small.images.shape == (10, 3, 16, 16) and small.images.dtype == torch.uint8
    expected = data.images[0, 0, :2, :2].float().mean().round()
    assert small.images[0, 0, 0, 0] == expected


# ---- lessons 04-06


def test_growth_rates_recovers_a_known_line_and_a_doubling():
    rows = [dict(model="lin", block=b, var_x=3.0 + 2.0 * b) for b in range(10)]
    rows += [dict(model="exp", block=b, var_x=0.5 * 2.0**b) for b in range(10)]
    lin, exp = ex.growth_rates(rows)
    assert lin["linear_slope"] == pytest.approx(2.0) and lin["first"] == 3.0 and lin["last"] == 21.0
    assert exp["ratio_per_block"] == pytest.approx(2.0)


def test_variance_through_depth_bn_linear_skipinit_constant_plain_exponential():
    x = torch.randn(16, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    rows = ex.variance_through_depth(x, depth=12, width=8)
    var = lambda label: [r["var_x"] for r in rows if r["model"] == label]
    skip, bn = var("no normalisation + SkipInit"), var("BatchNorm")
    assert skip == pytest.approx([skip[0]] * 12)  # F starts at exactly 0: x_{l+1} = relu(x_l) = x_l
    rates = {r["model"]: r for r in ex.growth_rates(rows)}
    assert rates["no normalisation"]["ratio_per_block"] > 1.5  # ~2 per block
    # BN: each block adds a unit-variance branch, halved on average by the ReLU after the addition
    assert all(0.1 < b - a < 1.0 for a, b in zip(bn, bn[1:]))


def test_load_compare_results_reads_history_files_and_skips_others(tmp_path):
    assert ex.load_compare_results(tmp_path / "missing") == {}
    rec = dict(epoch=1, train_loss=1.0, train_acc=0.5, test_loss=1.1, test_acc=0.6, lr=0.1, time=2.0,
               images_per_s=100.0)  # fmt: skip
    History([rec], {"epochs": 1}, {"model": "resnet18"}).save(tmp_path / "resnet18.json")
    (tmp_path / "notes.json").write_text('{"something": "else"}')
    loaded = ex.load_compare_results(tmp_path)
    assert list(loaded) == ["resnet18"] and loaded["resnet18"].best("test_acc") == 0.6
