"""The course: settings and a lesson's start, the experiments, statistics over seeds, figures.

settings       quick / gpu / paper; `start(lesson)` sets up a lesson (`Start`: data, figures, results)
lessons        the notebooks, executed headless
paper          the papers' numbers, each with its source
experiments    the networks each lesson trains and probes, as {label: builder}
stats          effects across seeds: means, spreads, verdicts "a beats b in k of n seeds"
compare        two architectures' training runs side by side (lesson 06)
plots          single-axes figures in one style
through_depth  figures of gradients and signals through depth
panels         figures of training runs
landscapes     figures of loss landscapes and curvature (lesson 05)
widgets        ipywidgets explorers, with a static figure where widgets cannot render
reproduce      the papers' runs as a resumable queue
"""

from . import compare, experiments, landscapes, panels, paper, plots, stats, through_depth, widgets
from .lessons import LESSONS, run_lessons
from .settings import ROOT, SETTINGS, Setting, Start, lesson_data, project_dir, setting, start

__all__ = [
    "LESSONS",
    "ROOT",
    "SETTINGS",
    "Setting",
    "Start",
    "compare",
    "experiments",
    "landscapes",
    "lesson_data",
    "paper",
    "panels",
    "plots",
    "project_dir",
    "run_lessons",
    "setting",
    "start",
    "stats",
    "through_depth",
    "widgets",
]
