"""Two architectures' runs side by side: the seed table and the epoch from which one stays ahead."""

from helpers import RUNS, make_run
from resnet_edu.course import compare


def test_ahead_from_is_the_first_epoch_of_the_final_lead():
    assert compare.ahead_from(RUNS, "train_loss", "a", "b", higher=False) == [
        2,
        3,
    ]  # seed 1: behind in epoch 2
    assert compare.ahead_from(RUNS, "test_acc", "a", "b") == [2, None]  # seed 1: behind at the end


def test_seed_table_gives_mean_and_sd_and_says_not_reached():
    table = compare.seed_table(RUNS, targets=(0.85, 0.9))
    a, b = table.loc["a"], table.loc["b"]
    assert (a["seeds"], a["epochs"]) == (2, 3) and list(table.index) == ["a", "b"]
    assert a["test acc"] == "0.885 ± 0.035"
    assert a["gap (train - test)"] == "0.100 ± 0.028"
    assert a["time to 85%"] == "3.0-3.0 s (epoch 3-3)"
    assert a["time to 90%"] == "3.0-3.0 s (epoch 3-3), 1 of 2 seeds"
    assert b["time to 90%"] == "not reached"
    assert a["wall (s)"] == "3.0 ± 0.0" and a["s / epoch"] == "1.00 ± 0.00"
    assert a["train images/s"] == "100 ± 0"


def test_per_run_gives_the_time_and_epoch_at_which_each_run_first_reached_a_target():
    rows = {(r["model"], r["seed"]): r for r in compare.per_run(RUNS, targets=(0.85,))}
    assert (rows["a", 0]["time_0.85"], rows["a", 0]["epoch_0.85"]) == (3.0, 3)
    assert (rows["b", 0]["time_0.85"], rows["b", 0]["epoch_0.85"]) == (None, None)  # 0.80 at the end


def test_cost_line_sets_arithmetic_beside_throughput():
    fast = make_run("b", 0, (0.5,), (0.5,), (1.0,))
    fast.records[0]["images_per_s"] = 300.0
    line = compare.cost_line([RUNS[0], RUNS[1], fast], {"a": 50.0, "b": 1.0}, "a", "b")
    assert (
        line
        == "a does 50x the multiply-accumulates per image of b and trains on 3.0x fewer images per second"
    )


def test_slow_starts_names_the_runs_whose_first_epoch_took_far_longer_than_the_others():
    slow = make_run("a", 0, (0.1, 0.2, 0.3), (0.1, 0.2, 0.3), (1.0, 1.0, 1.0), times=(9.0, 10.0, 11.0))
    assert (
        compare.slow_starts([slow, RUNS[1]])
        == "first epoch over 2x the run's median epoch: a seed 0 (9.0 s, median 1.00 s)"
    )
    assert compare.slow_starts(RUNS).endswith(": none")
