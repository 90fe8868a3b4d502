"""Gradient flow during training: the recorder against autograd, divergence and summaries."""

import copy
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


def test_grad_flow_summary_on_a_hand_made_trace():
    trace = [dict(model="m", step=s, loss=2.0 - s, group=g, grad_norm=v)
             for s in (0, 1) for g, v in (("stage1", 1.0 + s), ("stage2", 4.0), ("total", 5.0))]  # fmt: skip
    [row] = gradflow.grad_flow_summary(trace)
    assert (row["first_stage"], row["last_stage"]) == ("stage1", "stage2")
    assert row["grad_first"] == 1.5 and row["first_over_last"] == pytest.approx(1.5 / 4)
    assert (row["loss_start"], row["loss_end"]) == (2.0, 1.0)


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
