"""Gradient flow during training: the recorder against autograd, divergence and summaries."""

import copy
import dataclasses
import math

import pytest
import torch

from resnet_edu.data import synthetic_cifar
from resnet_edu.data.loader import DeviceLoader
from resnet_edu.measure import gradflow
from resnet_edu.nets.models import cifar_resnet
from resnet_edu.training.config import TrainConfig
from resnet_edu.training.fit import fit
from resnet_edu.training.records import History


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
    reference = cifar_resnet(8, width=4)  # seed 0: the network train_recorded builds
    nets = []
    build = lambda: nets.append(cifar_resnet(8, width=4)) or nets[-1]  # noqa: E731
    [hist], trace = gradflow.train_recorded({"r8": build}, data, data, cfg, seeds=[0], every=1)
    model = nets[0]
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


def test_a_diverged_run_is_reported_not_raised_and_its_trace_stops_there():
    data = synthetic_cifar(4)
    cfg = TrainConfig(epochs=3, batch_size=20, lr=1e6, schedule="constant", augment=False)
    unnormalised = {"r8": lambda: cifar_resnet(8, width=4, norm=False)}
    [hist], trace = gradflow.train_recorded(unnormalised, data, None, cfg, seeds=[0], every=1)
    assert hist.meta["diverged"] is True
    assert math.isnan(trace[-1]["loss"]) or math.isinf(trace[-1]["loss"])  # recording stops there
    assert trace[-1]["step"] == hist.meta["diverged_step"]
    # recording every 5 steps (2 per epoch here): caught at the end of the epoch
    [hist], _ = gradflow.train_recorded(unnormalised, data, None, cfg, seeds=[0], every=5)
    assert hist.meta["diverged"] is True and len(hist.records) <= 2


def test_stage_summary_compares_stages_per_parameter_per_seed():
    # stage "a": 4 parameters, norm 2 + seed (rms 1, 1.5); stage "b": 100 parameters, norm 6 (rms 0.6)
    trace = [
        dict(model="m", seed=s, step=t, group=g, numel=n, grad_norm=v, grad_rms=v / n**0.5)
        for s in (0, 1)
        for t in (0, 1)
        for g, n, v in (("a", 4, 2.0 + s), ("b", 100, 6.0), ("total", 104, ((2.0 + s) ** 2 + 36) ** 0.5))
    ]
    a0, b0, a1, b1 = gradflow.stage_summary(trace)
    assert [(r["seed"], r["stage"], r["numel"]) for r in (a0, b0, a1, b1)] == [
        (0, "a", 4),
        (0, "b", 100),
        (1, "a", 4),
        (1, "b", 100),
    ]
    assert (a0["grad_rms"], a1["grad_rms"]) == (pytest.approx(1.0), pytest.approx(1.5))
    assert b0["grad_rms"] == pytest.approx(0.6) == b1["grad_rms"]
    assert a0["share"] + b0["share"] == pytest.approx(1.0)  # the stages' parts of ||g||^2 add up
    assert (a0["share"], a1["share"]) == (pytest.approx(4 / 40), pytest.approx(9 / 45))
    ratios = gradflow.first_to_head(trace)  # stage "a" first, "b" the head: rms 1 / 0.6 and 1.5 / 0.6
    assert [(r["seed"], r["first"], r["head"]) for r in ratios] == [(0, "a", "b"), (1, "a", "b")]
    assert [r["ratio"] for r in ratios] == pytest.approx([1 / 0.6, 1.5 / 0.6])


def test_recorder_rows_carry_the_group_sizes_and_the_per_parameter_gradient():
    data = synthetic_cifar(4)
    cfg = TrainConfig(epochs=1, batch_size=20, lr=0.05, schedule="constant", augment=False)
    model = cifar_resnet(8, width=4)
    stem = sum(p.numel() for n, p in model.named_parameters() if n.startswith("stem"))
    _, trace = gradflow.train_recorded(
        {"m": lambda: cifar_resnet(8, width=4)}, data, None, cfg, seeds=[0], every=1
    )
    first = {r["group"]: r for r in trace if r["step"] == 0}
    assert first["stem"]["numel"] == stem
    assert first["total"]["numel"] == sum(p.numel() for p in model.parameters())
    assert first["stem"]["grad_rms"] == pytest.approx(first["stem"]["grad_norm"] / stem**0.5)


def test_train_recorded_trains_each_model_with_its_own_config_and_tags_every_row_with_its_seed():
    data = synthetic_cifar(4)
    cfg = TrainConfig(epochs=1, batch_size=20, lr=0.05, schedule="constant", augment=False)
    models = {"r8": lambda: cifar_resnet(8, width=4), "r8 slow": lambda: cifar_resnet(8, width=4)}
    cfgs = {"r8": cfg, "r8 slow": dataclasses.replace(cfg, lr=0.01)}
    hists, rows = gradflow.train_recorded(
        models, data, data, cfgs, seeds=[0, 1], every=1, meta={"setting": "test"}
    )
    assert [(h.meta["model"], h.meta["seed"], h.config["lr"]) for h in hists] == [
        ("r8", 0, 0.05),
        ("r8", 1, 0.05),
        ("r8 slow", 0, 0.01),
        ("r8 slow", 1, 0.01),
    ]
    assert all(h.meta["setting"] == "test" and h.meta["params"] > 0 for h in hists)
    assert list(dict.fromkeys((r["model"], r["seed"]) for r in rows)) == [
        (h.meta["model"], h.meta["seed"]) for h in hists
    ]
    torch.manual_seed(1)  # seed 1 of "r8" is the run one would get by hand
    h = fit(cifar_resnet(8, width=4), data, data, dataclasses.replace(cfg, seed=1), progress=False)
    assert h.column("train_loss") == hists[1].column("train_loss")


def test_divergence_summary_reports_the_step_the_peak_and_no_accuracy_after_nan():
    blown = [
        dict(model="a", seed=0, step=s, loss=v, group=g)
        for s, v in ((0, 60.0), (1, 5e16), (2, math.nan))
        for g in ("stage1", "total")
    ]
    fine = [dict(model="b", seed=0, step=s, loss=2.3 - 0.1 * s, group="total") for s in range(3)]
    good = dict(epoch=2, train_loss=2.1, train_acc=0.3, test_loss=2.0, test_acc=0.25)
    histories = [
        History([], {}, {"model": "a", "seed": 0, "diverged": True, "diverged_step": 2}),  # in epoch 1
        History([good | {"epoch": 1}, good], {}, {"model": "b", "seed": 0}),
    ]
    a, b = gradflow.divergence_summary(histories, blown + fine)
    assert (a["diverged"], a["diverged_step"], a["first_loss"], a["peak_loss"]) == (True, 2, 60.0, 5e16)
    assert a["final_train_loss"] is None and a["final_test_acc"] is None and a["epochs"] == 0
    assert (b["diverged"], b["diverged_step"], b["peak_loss"]) == (False, None, 2.3)
    assert b["final_test_acc"] == 0.25 and b["final_train_loss"] == 2.1 and b["epochs"] == 2
