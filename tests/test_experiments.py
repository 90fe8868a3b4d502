import math

import pytest
import torch

from resnet_edu import experiments as ex
from resnet_edu.config import TrainConfig
from resnet_edu.data import synthetic_cifar
from resnet_edu.models import MLP
from resnet_edu.records import by_model, final_rows


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


def test_train_models_tidy_rows_and_grouping():
    data = synthetic_cifar(4, seed=0)
    cfg = TrainConfig(epochs=2, batch_size=20, lr=0.01, augment=False, device="cpu", schedule="constant")
    mlp = lambda depth, **kw: MLP(depth=depth, width=16, head_norm=True, **kw)  # noqa: E731
    models = {"shallow": lambda: mlp(1), "deep": lambda: mlp(3, shortcut=True)}
    rows = ex.history_rows(ex.train_models(models, data, None, cfg))
    assert [(r["model"], r["epoch"]) for r in rows] == [
        ("shallow", 1),
        ("shallow", 2),
        ("deep", 1),
        ("deep", 2),
    ]
    assert all(math.isfinite(r["train_loss"]) for r in rows)
    assert list(by_model(rows)) == ["shallow", "deep"]
    assert [r["epoch"] for r in final_rows(rows)] == [2, 2]
    again = ex.history_rows(ex.train_models({"shallow": models["shallow"]}, data, None, cfg))  # repeatable
    assert again[-1]["train_loss"] == rows[1]["train_loss"]


def test_train_models_seeds_govern_initialisation_and_the_summary_spread():
    data = synthetic_cifar(4, seed=0)
    cfg = TrainConfig(epochs=1, batch_size=20, lr=0.01, augment=False, device="cpu", schedule="constant")
    make = {"mlp": lambda: MLP(depth=2, width=8)}
    hs = ex.train_models(make, data, None, cfg, seeds=(0, 1, 0))
    assert [h.meta["seed"] for h in hs] == [0, 1, 0] and hs[0].meta["params"] > 0
    losses = [h.records[-1]["train_loss"] for h in hs]
    assert losses[0] == losses[2] and losses[0] != losses[1]  # same seed: same weights and batches
    [row] = ex.seed_summary(ex.history_rows(hs[:2]), "train_loss")
    assert row["seeds"] == 2 and row["min"] == min(losses[:2]) and row["max"] == max(losses[:2])
    assert row["mean"] == pytest.approx(sum(losses[:2]) / 2)
    assert row["sd"] == pytest.approx(abs(losses[0] - losses[1]) / 2**0.5)


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
