"""Wall heights along several directions: the mean rise per model and seed, the draws shared by twins."""

import numpy as np
import torch

from resnet_edu.data import synthetic_cifar
from resnet_edu.measure import walls
from resnet_edu.measure.landscape import Surface
from resnet_edu.nets.models import cifar_resnet


def line(centre: float, left: float, right: float) -> Surface:
    return Surface(np.array([-1.0, 0.0, 1.0]), np.array([left, centre, right]), np.zeros(3), None, {})


def test_wall_heights_average_the_rise_over_directions():
    lines = {
        ("a", 0, 0): line(1.0, 3.0, 5.0),
        ("a", 0, 1): line(1.0, 1.0, 3.0),
        ("b", 0, 0): line(2.0, 2.0, 2.0),
    }
    rows = {(r["model"], r["seed"]): r for r in walls.wall_heights(lines)}
    assert rows["a", 0] == dict(
        model="a", seed=0, directions=2, centre=1.0, edge=3.0, rise=2.0
    )  # (3 + 1) / 2
    assert rows["b", 0]["rise"] == 0.0 and rows["b", 0]["directions"] == 1


def test_random_lines_draw_the_same_directions_for_the_twins_of_a_seed():
    torch.manual_seed(0)
    net = cifar_resnet(8, width=2)
    lines = walls.random_lines(
        {("a", 1): net, ("b", 1): net}, synthetic_cifar(1, size=8), directions=2, steps=3
    )
    assert sorted(lines) == [("a", 1, 0), ("a", 1, 1), ("b", 1, 0), ("b", 1, 1)]
    assert np.allclose(lines["a", 1, 1].loss, lines["b", 1, 1].loss)  # the same net, the same draw
    assert not np.allclose(lines["a", 1, 0].loss, lines["a", 1, 1].loss)  # two draws, two lines


def test_plane_summary_counts_the_grid_below_the_threshold():
    grid = np.linspace(-1, 1, 3)
    bowl = Surface(
        grid, 1 + np.add.outer(grid**2, grid**2), np.zeros((3, 3)), grid, {}
    )  # 1 centre, 3 corners
    [row] = walls.plane_summary({("a", 0): bowl}, below=2.5)
    assert row == dict(model="a", seed=0, centre=1.0, max=3.0, share_below=5 / 9)  # all but the 4 corners
