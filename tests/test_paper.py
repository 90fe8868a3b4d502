"""The papers' numbers: each with its source, the recipe as He et al. 2015 state it, derived constants."""

import dataclasses
import math

import pytest

from resnet_edu.course import paper
from resnet_edu.nets.models import build_model, count_params


def test_the_cifar_recipe_is_he_et_al_2015_section_4_2():
    r = paper.CIFAR_RECIPE
    assert (r.batch_size, r.lr, r.momentum, r.weight_decay, r.nesterov) == (128, 0.1, 0.9, 1e-4, False)
    assert r.schedule == "step" and r.milestones == (0.5, 0.75)  # lr / 10 at 32k and 48k of 64k iterations
    assert r.epochs == round(64_000 * 128 / 50_000) and r.augment  # 64k iterations of 128 on 50k images


def test_a_shortened_recipe_changes_only_the_epochs():
    short = paper.recipe(epochs=6)
    assert (
        short.epochs == 6
        and dataclasses.replace(short, epochs=paper.CIFAR_RECIPE.epochs) == paper.CIFAR_RECIPE
    )


def test_derived_constants_follow_their_formulas():
    assert paper.YANG_BN_RELU_GROWTH == pytest.approx(math.sqrt(math.pi / (math.pi - 1)))
    assert (paper.LI_GRID, paper.LI_SPAN, paper.LI_N_IMAGES) == (51, 1.0, 10_000)


def test_our_cifar_resnets_have_table_6s_parameter_counts():
    for depth, millions in paper.TABLE6_PARAMS_M.items():
        if depth <= 110:  # ResNet-1202 takes long to build; test_models counts it
            assert count_params(build_model(f"resnet{depth}")) / 1e6 == pytest.approx(millions, abs=0.035)


def test_every_table_names_its_source_and_placements_match_the_blocks():
    from resnet_edu.nets.blocks import PLACEMENTS

    assert list(paper.PLACEMENT_ERROR) == list(PLACEMENTS) and min(paper.PLACEMENT_ERROR.values()) == 6.37
    assert all(
        s.startswith("He et al.") for s in (paper.TABLE6_SOURCE, paper.PLACEMENT_SOURCE, paper.SCALING_SOURCE)
    )
    assert paper.AIRBENCH_SOURCE.startswith("Jordan 2024") and paper.AIRBENCH94_ACC == 94.01
