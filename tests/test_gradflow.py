"""Gradient flow during training: the recorder against autograd, divergence and summaries."""

import copy
import dataclasses
import math

import pytest
import torch

from resnet_edu import gradflow
from resnet_edu.config import TrainConfig
from resnet_edu.data import synthetic_cifar
from resnet_edu.loader import DeviceLoader
from resnet_edu.models import cifar_resnet
from resnet_edu.records import History
from resnet_edu.train import fit


def test_stage_of_names_the_stages_of_both_lesson_06_models():
    assert gradflow.stage_of("stem.0.weight") == "stem"
    assert gradflow.stage_of("stages.0.1.conv1.weight") == "stage1"
    assert gradflow.stage_of("stages.3.0.shortcut.0.weight") == "stage4"
    assert gradflow.stage_of("fc.bias") == "head"
    assert [gradflow.stage_of(f"features.{j}.weight") for j in (0, 3, 6)] == ["stage1", "stage2", "stage3"]
    assert gradflow.stage_of("classifier.1.weight") == "head"


def test_recorder_records_the_autograd_gradient_of_the_first_batch():
    data = synthetic_cifar(4)
    cfg = TrainConfig(epochs=1, batch_size=20, lr=0.05, weight_decay=5e-4, schedule="constant", augment=False)
    torch.manual_seed(0)
    model = cifar_resnet(8, width=4)
    reference = copy.deepcopy(model)
    hist, trace = gradflow.fit_recorded(model, data, data, cfg, every=1, name="r8", progress=False)
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
    assert "diverged" not in hist.meta and len({r["step"] for r in trace}) == 2  # 40 images, batch 20
    weights = {r["group"]: r["weight_norm"] for r in trace if r["step"] == 1}
    want_w = float(torch.stack([p.detach().norm() for p in model.parameters()]).norm())  # after both steps
    assert weights["total"] == pytest.approx(want_w, rel=1e-5)


def test_the_recorder_is_a_plain_fit_callback_and_leaves_training_unchanged():
    data = synthetic_cifar(4)
    cfg = TrainConfig(epochs=2, batch_size=20, lr=0.05, schedule="constant", augment=False)
    torch.manual_seed(0)
    a = cifar_resnet(8, width=4)
    b = copy.deepcopy(a)
    recorder = gradflow.GradientRecorder(a, every=3, label="a")
    h_a = fit(a, data, None, cfg, callbacks=[recorder], progress=False)
    h_b = fit(b, data, None, cfg, progress=False)
    assert [r["train_loss"] for r in h_a.records] == [r["train_loss"] for r in h_b.records]
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert sorted({r["step"] for r in recorder.rows}) == [0, 3]  # 4 steps, every 3rd
    with pytest.raises(ValueError, match="every"):
        gradflow.GradientRecorder(a, every=0)


def test_fit_recorded_stops_and_reports_divergence_instead_of_raising():
    data = synthetic_cifar(4)
    cfg = TrainConfig(epochs=3, batch_size=20, lr=1e6, schedule="constant", augment=False)
    torch.manual_seed(0)
    model = cifar_resnet(8, width=4, norm=False)
    hist, trace = gradflow.fit_recorded(model, data, None, cfg, every=1, progress=False)
    assert hist.meta["diverged"] is True
    assert math.isnan(trace[-1]["loss"]) or math.isinf(trace[-1]["loss"])  # recording stops there
    assert trace[-1]["step"] == hist.meta["diverged_step"]
    torch.manual_seed(0)  # recording every 5 steps (2 per epoch here): caught at the end of the epoch
    model = cifar_resnet(8, width=4, norm=False)
    hist, _ = gradflow.fit_recorded(model, data, None, cfg, every=5, progress=False)
    assert hist.meta["diverged"] is True and len(hist.records) <= 2


def test_grad_flow_summary_compares_stages_per_parameter_over_seeds():
    # stage "a": 4 parameters, norm 2 + seed (rms 1, 1.5); stage "b": 100 parameters, norm 6 (rms 0.6)
    trace = [
        dict(model="m", seed=s, step=t, group=g, numel=n, grad_norm=v, grad_rms=v / n**0.5)
        for s in (0, 1)
        for t in (0, 1)
        for g, n, v in (("a", 4, 2.0 + s), ("b", 100, 6.0), ("total", 104, ((2.0 + s) ** 2 + 36) ** 0.5))
    ]
    a, b = gradflow.grad_flow_summary(trace)
    assert (a["stage"], a["numel"], a["seeds"]) == ("a", 4, 2)
    assert a["grad_rms"] == pytest.approx((1.0 + 1.5) / 2) and a["grad_rms_sd"] == pytest.approx(0.5**0.5 / 2)
    assert b["grad_rms"] == pytest.approx(0.6) and b["grad_rms_sd"] == pytest.approx(0.0)
    assert a["share"] + b["share"] == pytest.approx(1.0)  # the stages' parts of ||g||^2 add up
    assert a["share"] == pytest.approx((4 / 40 + 9 / 45) / 2)
    ratios = gradflow.first_to_head(trace)  # stage "a" first, "b" the head: rms 1 / 0.6 and 1.5 / 0.6
    assert [(r["seed"], r["first"], r["head"]) for r in ratios] == [(0, "a", "b"), (1, "a", "b")]
    assert [r["ratio"] for r in ratios] == pytest.approx([1 / 0.6, 1.5 / 0.6])


def test_recorder_rows_carry_the_group_sizes_and_the_per_parameter_gradient():
    data = synthetic_cifar(4)
    cfg = TrainConfig(epochs=1, batch_size=20, lr=0.05, schedule="constant", augment=False)
    torch.manual_seed(0)
    model = cifar_resnet(8, width=4)
    stem = sum(p.numel() for n, p in model.named_parameters() if n.startswith("stem"))
    _, trace = gradflow.fit_recorded(model, data, None, cfg, every=1, progress=False)
    first = {r["group"]: r for r in trace if r["step"] == 0}
    assert first["stem"]["numel"] == stem
    assert first["total"]["numel"] == sum(p.numel() for p in model.parameters())
    assert first["stem"]["grad_rms"] == pytest.approx(first["stem"]["grad_norm"] / stem**0.5)


def test_fit_recorded_seeds_trains_each_model_with_its_own_config_and_tags_every_row_with_its_seed():
    data = synthetic_cifar(4)
    cfg = TrainConfig(epochs=1, batch_size=20, lr=0.05, schedule="constant", augment=False)
    models = {"r8": (lambda: cifar_resnet(8, width=4), cfg),
              "r8 slow": (lambda: cifar_resnet(8, width=4), dataclasses.replace(cfg, lr=0.01))}  # fmt: skip
    hists, rows = gradflow.fit_recorded_seeds(models, data, data, [0, 1], every=1, progress=False,
                                              meta={"setting": "test"})  # fmt: skip
    assert [(h.meta["model"], h.meta["seed"], h.config["lr"]) for h in hists] == [
        ("r8", 0, 0.05), ("r8", 1, 0.05), ("r8 slow", 0, 0.01), ("r8 slow", 1, 0.01)]  # fmt: skip
    assert all(h.meta["setting"] == "test" and h.meta["params"] > 0 for h in hists)
    assert {(r["model"], r["seed"]) for r in rows} == {(h.meta["model"], h.meta["seed"]) for h in hists}
    torch.manual_seed(1)  # seed 1 of "r8" is the run one would get by hand
    h, _ = gradflow.fit_recorded(cifar_resnet(8, width=4), data, data, dataclasses.replace(cfg, seed=1),
                                 every=1, progress=False)  # fmt: skip
    assert h.column("train_loss") == hists[1].column("train_loss")


def test_divergence_summary_reports_the_step_the_peak_and_no_accuracy_after_nan():
    blown = [dict(model="a", step=s, loss=v, group=g) for s, v in ((0, 60.0), (1, 5e16), (2, math.nan))
             for g in ("stage1", "total")]  # fmt: skip
    rec = dict(epoch=1, train_loss=math.nan, train_acc=0.1, test_loss=None, test_acc=None)
    fine = [dict(model="b", step=s, loss=2.3 - 0.1 * s, group="total") for s in range(3)]
    good = dict(epoch=2, train_loss=2.1, train_acc=0.3, test_loss=2.0, test_acc=0.25)
    runs = {"a": (History([rec], {}, {"diverged": True, "diverged_step": 2}), blown),
            "b": (History([good | {"epoch": 1}, good], {}, {"diverged": False}), fine)}  # fmt: skip
    runs["a"] = (History([], {}, {"diverged": True, "diverged_step": 2}), blown)  # diverged in epoch 1
    a, b = gradflow.divergence_summary(runs)
    assert (a["diverged"], a["diverged_step"], a["first_loss"], a["peak_loss"]) == (True, 2, 60.0, 5e16)
    assert a["final_train_loss"] is None and a["final_test_acc"] is None and a["epochs"] == 0
    assert (b["diverged"], b["diverged_step"], b["peak_loss"]) == (False, None, 2.3)
    assert b["final_test_acc"] == 0.25 and b["final_train_loss"] == 2.1 and b["epochs"] == 2


def test_activation_gradients_are_relative_to_the_output_and_one_net_per_seed():
    x, y = torch.randn(8, 3, 8, 8), torch.arange(8) % 10
    models = {"r8": lambda: cifar_resnet(8, width=4), "p8": lambda: cifar_resnet(8, width=4, shortcut=False)}
    rows = gradflow.activation_gradients(models, x, y, [0, 1])
    assert {(r["model"], r["seed"]) for r in rows} == {("r8", 0), ("r8", 1), ("p8", 0), ("p8", 1)}
    top = [r for r in rows if r["block"] == 3]  # three blocks: inputs 0..2 and the last output
    assert all(r["to_output"] == pytest.approx(1.0) for r in top)
    torch.manual_seed(1)
    want = gradflow.activation_grad_norms(cifar_resnet(8, width=4, shortcut=False), x, y)[0]["grad_rms"]
    got = next(r for r in rows if (r["model"], r["seed"], r["block"]) == ("p8", 1, 0))
    assert got["grad_rms"] == pytest.approx(want)


def test_gradient_flow_panel_shares_one_y_axis_between_models():
    import matplotlib

    matplotlib.use("Agg")
    from resnet_edu import panels

    rows = [dict(model=m, seed=0, step=t, group=g, grad_rms=0.1 * (t + 1), loss=2.0)
            for m in ("a", "b") for t in (0, 1) for g in ("stem", "head", "total")]  # fmt: skip
    fig = panels.gradient_flow(rows)
    a, b, _ = fig.axes
    a.set_ylim(1e-3, 1)
    assert b.get_ylim() == a.get_ylim()
