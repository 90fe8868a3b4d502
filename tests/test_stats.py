"""Effects across seeds: margins, verdict sentences, summaries and tables, on hand-made rows and runs."""

import pytest

from helpers import RUNS
from resnet_edu.course import stats
from resnet_edu.training.records import history_rows


def test_paired_margin_counts_wins_and_the_spread_of_the_differences():
    rows = [dict(model="a", seed=s, v=v) for s, v in enumerate([3.0, 5.0, 1.0])]
    rows += [dict(model="b", seed=s, v=v) for s, v in enumerate([1.0, 2.0, 2.0])]
    rows += [dict(model="a", seed=9, v=100.0)]  # only one model has seed 9: left out
    m = stats.paired_margin(rows, "v", "a", "b")
    assert (m["n"], m["wins"], m["seeds"]) == (3, 2, [0, 1, 2])
    assert m["mean"] == pytest.approx(4 / 3) and m["min"] == -1.0 and m["max"] == 3.0
    assert m["sd"] == pytest.approx(((2 - 4 / 3) ** 2 + (3 - 4 / 3) ** 2 + (-1 - 4 / 3) ** 2) ** 0.5 / 2**0.5)


def test_paired_margin_takes_each_runs_last_row():
    rows = [
        dict(model=m, seed=0, epoch=e, v=v)
        for m, vs in (("a", (9.0, 1.0)), ("b", (0.0, 2.0)))
        for e, v in enumerate(vs)
    ]
    assert stats.paired_margin(rows, "v", "a", "b")["mean"] == -1.0  # 1 - 2 at the last epoch, not 9 - 0


def test_paired_margin_needs_a_shared_seed_and_mean_sd_needs_values():
    with pytest.raises(ValueError, match="no seed"):
        stats.paired_margin([dict(model="a", seed=0, v=1.0)], "v", "a", "b")
    assert stats.mean_sd([2.0, 4.0]) == (3.0, pytest.approx(2**0.5))
    assert stats.mean_sd([5.0]) == (5.0, 0.0)
    assert stats.spread([2.0, 4.0], ".1f") == "3.0 ± 1.4"
    with pytest.raises(ValueError):
        stats.mean_sd([])


def test_verdict_counts_seeds_and_margins_in_the_favour_of_the_first_model():
    v = stats.verdict(RUNS, "test_acc", "a", "b")
    assert (v.wins, v.n, v.holds) == (1, 2, False)  # seed 0: +0.11, seed 1: -0.02
    assert v.margin == pytest.approx(0.045) and v.smallest == pytest.approx(-0.02)
    low = stats.verdict(RUNS, "train_loss", "a", "b", higher=False)
    assert (low.wins, low.holds, low.smallest) == (2, True, pytest.approx(0.2))
    assert low.margin == pytest.approx(0.3)  # b - a: 0.4 and 0.2
    gap = stats.verdict(RUNS, "gap", "a", "b")  # a: 0.08, 0.12; b: 0.02, 0.02
    assert gap.wins == 2 and gap.margin == pytest.approx(0.08)
    assert (
        low.line()
        == "a has a lower training loss than b in 2 of 2 seeds (margin 0.300 ± 0.141, smallest 0.200)"
    )
    with pytest.raises(ValueError, match="no seed"):
        stats.verdict(RUNS, "test_acc", "a", "c")


def test_verdict_on_rows_with_own_words_and_the_spread_test():
    rows = [
        dict(model=m, seed=s, v=v)
        for m, vs in (("x", (1.0, 1.2, 0.9)), ("y", (1.0, 1.0, 1.0)))
        for s, v in enumerate(vs)
    ]
    v = stats.verdict(rows, "v", "x", "y", says="ends above", spec=".2f")
    assert str(v) == "x ends above y in 1 of 3 seeds (margin 0.03 ± 0.15, smallest -0.10)"
    assert v.within_spread and not v.holds
    assert stats.verdict(history_rows(RUNS), "test_acc", "a", "b") == stats.verdict(
        RUNS, "test_acc", "a", "b"
    )


def test_seed_summary_last_rows_groups_and_geometric_means():
    rows = [dict(model="m", seed=s, depth=d, r=10.0 ** (s + d)) for s in (0, 2) for d in (1, 2)]
    geo = stats.seed_summary(rows, "r", by=("model", "depth"), geometric=True)
    assert [(g["model"], g["depth"]) for g in geo] == [("m", 1), ("m", 2)]
    assert geo[0]["mean"] == pytest.approx(100.0) and geo[0]["sd"] == pytest.approx(2**0.5)  # logs 1 and 3
    assert (geo[0]["min"], geo[0]["max"], geo[0]["seeds"]) == (10.0, 1000.0, 2)
    (flat,) = stats.seed_summary(history_rows(RUNS[:2]), "train_loss")
    assert flat["mean"] == pytest.approx(0.15) and flat["seeds"] == 2  # the last epochs: 0.1 and 0.2


def test_table_prints_mean_and_sd_per_model():
    t = stats.table(history_rows(RUNS), ["test_acc", "train_loss"], names={"test_acc": "test accuracy"})
    assert list(t.columns) == ["test accuracy", "train_loss"] and list(t.index) == ["a", "b"]
    assert t.loc["a", "test accuracy"] == "0.885 ± 0.035"


def test_table_says_one_run_instead_of_a_zero_spread():
    rows = [
        dict(model="a", seed=0, loss=2.0),
        dict(model="a", seed=1, loss=None),
        dict(model="b", seed=0, loss=1.0),
    ]
    rows.append(dict(model="b", seed=1, loss=3.0))
    t = stats.table(rows, ["loss"], spec=".1f")  # a's second run has no value (it diverged, say)
    assert t.loc["a", "loss"] == "2.0 (1 run)" and t.loc["b", "loss"] == "2.0 ± 1.4"


def test_leaders_counts_the_seeds_each_model_leads():
    rows = [
        dict(model=m, seed=s, v=v)
        for s, vals in enumerate([(3, 1, 2), (1, 3, 2), (3, 2, 1)])
        for m, v in zip("xyz", vals)
    ]
    assert stats.leaders(rows, "v") == {"x": 2, "y": 1, "z": 0}
    assert stats.leaders(rows, "v", largest=False) == {"x": 1, "y": 1, "z": 1}


def test_a_conclusion_states_the_claim_only_when_every_seed_agrees(capsys):
    rows = [
        dict(model=m, seed=s, loss=v)
        for m, s, v in [("a", 0, 1.0), ("b", 0, 2.0), ("a", 1, 1.0), ("b", 1, 1.5)]
    ]
    held = stats.verdict(rows, "loss", "a", "b", higher=False)
    line = stats.conclude(held, shows="a trains further", limit="training loss only")
    assert line == f"conclusion: {held.line()}: a trains further. Limit: training loss only."
    assert capsys.readouterr().out == line + "\n"
    rows[1]["loss"] = 0.5  # seed 0 now goes b's way
    split = stats.verdict(rows, "loss", "a", "b", higher=False)
    line = stats.conclude(split, shows="a trains further", limit="training loss only.")
    assert (
        "1 of 2 seeds" in line
        and "not in every seed, so this run does not show that a trains further" in line
    )
    assert stats.conclude("slope 0.98 ± 0.02", shows="it is linear", limit="3 seeds", holds=True).endswith(
        ": it is linear. Limit: 3 seeds."
    )


def test_count_below_above_and_between():
    rows = [dict(model="m", seed=s, v=v) for s, v in enumerate([1.0, 2.0, 3.0])]
    assert stats.count(rows, "v", "m", below=2.5) == (2, 3)
    assert stats.count(rows, "v", "m", above=1.5) == (2, 3)
    assert stats.count(rows, "v", "m", above=1.5, below=2.5) == (1, 3)  # both: only 2.0 lies between
