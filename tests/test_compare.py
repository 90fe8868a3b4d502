"""Two architectures' runs side by side: the seed table and the epoch from which one stays ahead."""

from helpers import RUNS
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
