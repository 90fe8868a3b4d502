import copy
import json
import math

import pytest
import torch

from resnet_edu import experiments as ex
from resnet_edu.data import DeviceLoader, synthetic_cifar
from resnet_edu.models import cifar_resnet
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


def test_stage_of_names_the_stages_of_both_lesson_06_models():
    assert ex.stage_of("stem.0.weight") == "stem"
    assert ex.stage_of("stages.0.1.conv1.weight") == "stage1"
    assert ex.stage_of("stages.3.0.shortcut.0.weight") == "stage4"
    assert ex.stage_of("fc.bias") == "head"
    assert [ex.stage_of(f"features.{j}.weight") for j in (0, 3, 6)] == ["stage1", "stage2", "stage3"]
    assert ex.stage_of("classifier.1.weight") == "head"


def test_traced_fit_records_the_autograd_gradient_of_the_first_batch():
    data = synthetic_cifar(4)
    cfg = TrainConfig(epochs=1, batch_size=20, lr=0.05, weight_decay=5e-4, schedule="constant", augment=False)
    torch.manual_seed(0)
    model = cifar_resnet(8, width=4)
    reference = copy.deepcopy(model)
    hist, trace = ex.traced_fit(model, data, data, cfg, every=1, name="r8")
    x, y = next(iter(DeviceLoader(data, batch_size=20, train=True, seed=0, augment=False)))
    loss = torch.nn.functional.cross_entropy(reference(x), y)
    stage2 = [p for n, p in reference.named_parameters() if n.startswith("stages.1")]
    grads = torch.autograd.grad(loss, stage2)
    want = float(torch.stack([g.norm() for g in grads]).norm())
    first = {r["group"]: r for r in trace if r["step"] == 0}
    assert set(first) == {"stem", "stage1", "stage2", "stage3", "head", "total"}
    assert first["stage2"]["grad_norm"] == pytest.approx(want, rel=1e-4)
    assert first["total"]["loss"] == pytest.approx(float(loss.detach()), rel=1e-5)
    assert len(hist.records) == 1 and hist.records[0]["test_acc"] is not None
    assert hist.meta["diverged"] is False and len({r["step"] for r in trace}) == 2  # 40 images, batch 20


def test_traced_fit_stops_and_reports_divergence_instead_of_raising():
    data = synthetic_cifar(4)
    cfg = TrainConfig(epochs=3, batch_size=20, lr=1e6, schedule="constant", augment=False)
    torch.manual_seed(0)
    hist, trace = ex.traced_fit(cifar_resnet(8, width=4, norm=False), data, None, cfg, every=1)
    assert hist.meta["diverged"] is True
    assert math.isnan(trace[-1]["loss"]) or math.isinf(trace[-1]["loss"])
    assert trace[-1]["step"] == hist.meta["diverged_step"]
    torch.manual_seed(0)  # recording every 5 steps (2 per epoch here): caught at the end of the epoch
    hist, _ = ex.traced_fit(cifar_resnet(8, width=4, norm=False), data, None, cfg, every=5)
    assert hist.meta["diverged"] is True and len(hist.records) <= 2


def test_grad_flow_summary_on_a_hand_made_trace():
    trace = [dict(model="m", step=s, loss=2.0 - s, group=g, grad_norm=v)
             for s in (0, 1) for g, v in (("stage1", 1.0 + s), ("stage2", 4.0), ("total", 5.0))]  # fmt: skip
    [row] = ex.grad_flow_summary(trace)
    assert (row["first_stage"], row["last_stage"]) == ("stage1", "stage2")
    assert row["grad_first"] == 1.5 and row["first_over_last"] == pytest.approx(1.5 / 4)
    assert (row["loss_start"], row["loss_end"]) == (2.0, 1.0)


def test_load_compare_results_reads_history_files_and_skips_others(tmp_path):
    assert ex.load_compare_results(tmp_path / "missing") == {}
    rec = dict(epoch=1, train_loss=1.0, train_acc=0.5, test_loss=1.1, test_acc=0.6, lr=0.1, time=2.0,
               images_per_s=100.0)  # fmt: skip
    History([rec], {"epochs": 1}, {"model": "resnet18"}).save(tmp_path / "resnet18.json")
    (tmp_path / "notes.json").write_text('{"something": "else"}')
    loaded = ex.load_compare_results(tmp_path)
    assert list(loaded) == ["resnet18"] and loaded["resnet18"].best("test_acc") == 0.6


def test_rescale_before_bn_keeps_the_function_and_changes_the_weights():
    torch.manual_seed(0)
    model = cifar_resnet(8, width=4)
    model.train()
    model(torch.randn(32, 3, 8, 8))  # non-trivial running statistics
    twin = ex.rescale_before_bn(model, 10.0, block=1)
    x = torch.randn(8, 3, 8, 8)
    for train in (False, True):
        model.train(train), twin.train(train)
        assert torch.allclose(model(x), twin(x), atol=1e-4)
    w, w2 = model.stages[1][0].conv1.weight, twin.stages[1][0].conv1.weight
    assert torch.allclose(w2, 10 * w)


def test_raw_direction_has_the_weights_norm_and_no_filter_normalisation():
    torch.manual_seed(0)
    model = cifar_resnet(8, width=4)
    d = ex.raw_direction(model, seed=3)
    params = dict(model.named_parameters())
    norm_w = torch.stack([p.detach().norm() for p in params.values() if p.dim() >= 2]).norm()
    assert float(torch.stack([t.norm() for t in d.values()]).norm()) == pytest.approx(float(norm_w), rel=1e-5)
    assert all(not d[n].any() for n, p in params.items() if p.dim() < 2)
    assert torch.equal(d["fc.weight"], ex.raw_direction(model, seed=3)["fc.weight"])


def test_divergence_summary_reports_the_step_the_peak_and_no_accuracy_after_nan():
    blown = [dict(model="a", step=s, loss=v, group=g) for s, v in ((0, 60.0), (1, 5e16), (2, math.nan))
             for g in ("stage1", "total")]  # fmt: skip
    rec = dict(epoch=1, train_loss=math.nan, train_acc=0.1, test_loss=None, test_acc=None)
    fine = [dict(model="b", step=s, loss=2.3 - 0.1 * s, group="total") for s in range(3)]
    good = dict(epoch=2, train_loss=2.1, train_acc=0.3, test_loss=2.0, test_acc=0.25)
    runs = {"a": (History([rec], {}, {"diverged": True, "diverged_step": 2}), blown),
            "b": (History([good | {"epoch": 1}, good], {}, {"diverged": False}), fine)}  # fmt: skip
    a, b = ex.divergence_summary(runs)
    assert (a["diverged"], a["diverged_step"], a["first_loss"], a["peak_loss"]) == (True, 2, 60.0, 5e16)
    assert a["final_train_loss"] is None and a["final_test_acc"] is None and a["epochs"] == 1
    assert (b["diverged"], b["diverged_step"], b["peak_loss"]) == (False, None, 2.3)
    assert b["final_test_acc"] == 0.25 and b["final_train_loss"] == 2.1 and b["epochs"] == 2
