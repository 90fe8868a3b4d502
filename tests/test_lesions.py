import copy

import pytest
import torch

from helpers import assert_same, no_hooks, state, tiny
from resnet_edu.data import synthetic_cifar
from resnet_edu.measure import lesions
from resnet_edu.nets.models import residual_blocks
from resnet_edu.training.config import TrainConfig


def rows(model, seed, base, accs, skipped=()):
    out = [dict(model=model, seed=seed, block=-1, skipped=False, accuracy=base)]
    out += [
        dict(model=model, seed=seed, block=i, skipped=i in skipped, accuracy=a) for i, a in enumerate(accs)
    ]
    return out


def test_lesion_summary_by_hand():
    data = rows("res", 0, 0.5, [0.1, 0.45, 0.5, 0.2]) + rows("plain", 0, 0.4, [0.1, 0.3, 0.99], skipped={2})
    res, plain = lesions.lesion_summary(data)
    assert res["deletable"] == 4 and res["mean_acc"] == pytest.approx(0.3125)
    assert res["kept"] == pytest.approx(0.3125 / 0.5)
    assert (res["worst_block"], res["worst_acc"], res["best_block"]) == (0, 0.1, 2)
    assert res["halved"] == 2  # below 0.1 + (0.5 - 0.1) / 2 = 0.3: blocks 0 and 3
    assert plain["deletable"] == 2 and plain["best_block"] == 1  # the skipped block is not counted
    assert plain["halved"] == 1  # below 0.25: block 0


def test_lesion_summary_leaves_out_a_kind_of_block():
    data = rows("res", 0, 0.5, [0.1, 0.45, 0.5, 0.2])
    for r, kind in zip(data, ["baseline", "first block", "other", "downsampling", "other"]):
        r["kind"] = kind
    (res,) = lesions.lesion_summary(data, leave_out=("downsampling",))
    assert res["deletable"] == 3 and res["mean_acc"] == pytest.approx((0.1 + 0.45 + 0.2) / 3)
    assert res["best_block"] == 1  # block 2 (0.5, downsampling) is not counted
    (every,) = lesions.lesion_summary(data)
    assert every["deletable"] == 4 and every["best_block"] == 2


def test_lesion_summary_needs_a_deletable_block():
    with pytest.raises(ValueError, match="no block"):
        lesions.lesion_summary(rows("plain", 0, 0.4, [0.3], skipped={0}))


def test_lesion_runs_train_each_seed_and_study_every_block():
    train, test = synthetic_cifar(2, size=8), synthetic_cifar(2, size=8, split="test")
    cfg = TrainConfig(epochs=1, batch_size=10, lr=0.01, augment=False)
    torch.manual_seed(123)
    out, hists = lesions.lesion_runs(["resnet20", "plain20"], train, test, cfg, seeds=(1,), width=2)
    assert [(h.meta["model"], h.meta["seed"]) for h in hists] == [("resnet20", 1), ("plain20", 1)]
    assert len(out) == 2 * 10 and {r["seed"] for r in out} == {1}  # baseline + nine blocks each
    again, _ = lesions.lesion_runs(["resnet20"], train, test, cfg, seeds=(1,), width=2)
    first = [r["accuracy"] for r in out if r["model"] == "resnet20"]
    assert [r["accuracy"] for r in again] == first  # a seed fixes the run


def test_lesion_rows_and_no_side_effects():
    data = synthetic_cifar(3, size=16)
    model = tiny("resnet8")
    before = state(model)
    rows = lesions.lesion_study(model, data, label="resnet8")
    assert [r["block"] for r in rows] == [-1, 0, 1, 2]
    assert all(r["removed"] for r in rows[1:]) and no_hooks(model) and model.training
    assert_same(before, state(model))
    plain = lesions.lesion_study(tiny("plain8"), data)
    # plain-8: block 0 keeps its shape and becomes the identity; blocks 1, 2 change shape
    assert [r["skipped"] for r in plain[1:]] == [False, True, True]
    assert plain[2]["accuracy"] == plain[0]["accuracy"]  # a skipped block is evaluated unchanged


def test_deleting_a_residual_block_equals_zeroing_its_branch():
    """after_addition(skip(x)): the same loss as a copy whose branch ends in BN(gamma = 0, beta = 0)."""
    data = synthetic_cifar(3, size=16)
    model = tiny("resnet8")
    rows = lesions.lesion_study(model, data)
    twin = copy.deepcopy(model)
    with torch.no_grad():
        residual_blocks(twin)[1].branch.bn2.weight.zero_()
        residual_blocks(twin)[1].branch.bn2.bias.zero_()
    zeroed = lesions.lesion_study(twin, data)[0]  # its baseline: nothing deleted
    assert rows[2]["block"] == 1 and rows[2]["loss"] == pytest.approx(zeroed["loss"], rel=1e-6)
    assert rows[2]["accuracy"] == zeroed["accuracy"] and rows[2]["kind"] == "downsampling"  # opens stage 2
    assert [r["kind"] for r in rows] == ["baseline", "first block", "downsampling", "downsampling"]
