"""Seed-by-seed verdicts, the seed table and stored runs, on hand-made histories."""

import pytest

from resnet_edu import compare, records
from resnet_edu.records import History


def _run(model, seed, test_acc, train_acc, train_loss, times=(1.0, 2.0, 3.0)):
    recs = [dict(epoch=e + 1, test_acc=t, train_acc=a, train_loss=v, test_loss=None, time=s)
            for e, (t, a, v, s) in enumerate(zip(test_acc, train_acc, train_loss, times))]  # fmt: skip
    meta = {"model": model, "seed": seed, "device_name": "CPU", "data": "CIFAR-10 from /a/b/c.tar.gz",
            "date": "2026-01-01"}  # fmt: skip
    return History(recs, {"epochs": len(recs)}, meta)


RUNS = [
    _run("a", 0, (0.5, 0.8, 0.91), (0.5, 0.9, 0.99), (2.0, 1.0, 0.1)),
    _run("a", 1, (0.4, 0.7, 0.86), (0.5, 0.9, 0.98), (2.0, 1.2, 0.2)),
    _run("b", 0, (0.6, 0.7, 0.80), (0.6, 0.7, 0.82), (1.5, 1.1, 0.5)),
    _run("b", 1, (0.3, 0.75, 0.88), (0.5, 0.8, 0.90), (2.5, 1.1, 0.4)),
]


def test_verdict_counts_seeds_and_margins_in_the_favour_of_the_first_model():
    v = compare.verdict(RUNS, "test_acc", "a", "b")
    assert (v["wins"], v["seeds"]) == (1, 2)  # seed 0: +0.11, seed 1: -0.02
    assert v["margin"] == pytest.approx(0.045) and v["smallest"] == pytest.approx(-0.02)
    low = compare.verdict(RUNS, "train_loss", "a", "b", higher=False)
    assert (low["wins"], low["smallest"]) == (2, pytest.approx(0.2))
    gap = compare.verdict(RUNS, "gap", "a", "b")  # a: 0.08, 0.12; b: 0.02, 0.02
    assert gap["wins"] == 2 and gap["margin"] == pytest.approx(0.08)
    first = compare.verdict(RUNS, "test_acc", "a", "b", epoch=1)
    assert first["wins"] == 1 and first["margin"] == pytest.approx(0.0)
    assert "a has the lower training loss at the end in 2 of 2 seeds" in compare.verdict_line(low)
    with pytest.raises(ValueError, match="no seed"):
        compare.verdict(RUNS, "test_acc", "a", "c")


def test_ahead_from_is_the_first_epoch_of_the_final_lead():
    assert compare.ahead_from(RUNS, "train_loss", "a", "b", higher=False) == [
        2,
        3,
    ]  # seed 1: behind in epoch 2
    assert compare.ahead_from(RUNS, "test_acc", "a", "b") == [2, None]  # seed 1: behind at the end


def test_seed_table_gives_mean_and_sd_and_says_not_reached():
    a, b = compare.seed_table(RUNS, targets=(0.85, 0.9))
    assert (a["model"], a["seeds"], a["epochs"]) == ("a", 2, 3)
    assert a["test acc"] == "0.885 ± 0.035"
    assert a["gap (train - test)"] == "0.100 ± 0.028"
    assert a["time to 85%"] == "3.0-3.0 s (epoch 3-3)"
    assert a["time to 90%"] == "3.0-3.0 s (epoch 3-3), 1 of 2 seeds"
    assert b["time to 90%"] == "not reached"


def test_load_histories_reads_every_seed_and_skips_other_files(tmp_path):
    for h in RUNS:
        h.save(tmp_path / f"{h.meta['model']}_s{h.meta['seed']}.json")
    (tmp_path / "notes.json").write_text("[1, 2]")
    runs = records.load_histories(tmp_path)
    assert [(h.meta["model"], h.meta["seed"]) for h in runs] == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    assert records.load_histories(tmp_path / "absent") == []
    assert compare.origin(runs) == "CPU, CIFAR-10 from c.tar.gz, 2026-01-01, seeds [0, 1]"
