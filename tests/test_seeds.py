import pytest

from resnet_edu import seeds


def test_paired_margin_counts_wins_and_the_spread_of_the_differences():
    rows = [dict(model="a", seed=s, v=v) for s, v in enumerate([3.0, 5.0, 1.0])]
    rows += [dict(model="b", seed=s, v=v) for s, v in enumerate([1.0, 2.0, 2.0])]
    rows += [dict(model="a", seed=9, v=100.0)]  # only one model has seed 9: left out
    m = seeds.paired_margin(rows, "v", "a", "b")
    assert (m["n"], m["wins"], m["seeds"]) == (3, 2, [0, 1, 2])
    assert m["mean"] == pytest.approx(4 / 3) and m["min"] == -1.0 and m["max"] == 3.0
    assert m["sd"] == pytest.approx(((2 - 4 / 3) ** 2 + (3 - 4 / 3) ** 2 + (-1 - 4 / 3) ** 2) ** 0.5 / 2**0.5)


def test_paired_margin_needs_a_shared_seed_and_mean_sd_needs_values():
    with pytest.raises(ValueError, match="no seed"):
        seeds.paired_margin([dict(model="a", seed=0, v=1.0)], "v", "a", "b")
    assert seeds.mean_sd([2.0, 4.0]) == (3.0, pytest.approx(2**0.5))
    assert seeds.mean_sd([5.0]) == (5.0, 0.0)
    with pytest.raises(ValueError):
        seeds.mean_sd([])
