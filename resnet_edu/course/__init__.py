"""The course: settings and a lesson's start, the experiments, statistics over seeds, figures.

settings       quick / gpu / paper; `start(lesson)` sets up a lesson (`Start`: data, figures, results)
lessons        the notebooks, executed headless
runtime        the versions a lesson runs on, and whether an install needs a kernel restart
paper          the papers' numbers, each with its source
experiments    the networks each lesson trains and probes, as {label: builder}
stats          effects across seeds: means, spreads, verdicts "a beats b in k of n seeds"
compare        two architectures' training runs side by side (lesson 06)
plots          single-axes figures in one style
through_depth  figures of gradients and signals through depth
panels         figures of training runs
landscapes     figures of loss landscapes and curvature (lesson 05)
convergence    figures of gradient flow against convergence, and of Jacobian spectra (lesson 07)
widgets        ipywidgets explorers, with a static figure where widgets cannot render
plateaus       where a training loss stops falling, by a stated criterion (lessons 01, 02)
reproduce      the papers' runs as a resumable queue
site           the executed lessons as a static website
editions       the Korean edition (notebooks/ko/) kept in step with the English lessons
"""

from . import (
    compare,
    convergence,
    experiments,
    landscapes,
    panels,
    paper,
    plateaus,
    plots,
    runtime,
    stats,
    through_depth,
    widgets,
)
from .lessons import LESSONS, run_lessons
from .runtime import check_runtime
from .settings import ROOT, SETTINGS, Setting, Start, lesson_data, project_dir, setting, start, stored_dir

__all__ = [
    "LESSONS",
    "ROOT",
    "SETTINGS",
    "Setting",
    "Start",
    "check_runtime",
    "compare",
    "convergence",
    "experiments",
    "landscapes",
    "lesson_data",
    "paper",
    "panels",
    "plateaus",
    "plots",
    "project_dir",
    "runtime",
    "run_lessons",
    "setting",
    "start",
    "stats",
    "stored_dir",
    "through_depth",
    "widgets",
]
