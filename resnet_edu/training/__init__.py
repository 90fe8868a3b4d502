"""Training: settings with units, the one training loop, records, checkpoints, runs over seeds.

config       TrainConfig (frozen, every setting with its unit) and the learning-rate schedule
records      History, where a result comes from (run_meta), stored results
checkpoints  everything a run needs to continue bit-exactly, written atomically
evaluation   loss_sums, the one evaluation loop, and evaluate
step         one SGD step (train_step), the optimiser, autocast for the GPU's precision
fit          fit: train_epoch, evaluate_epoch, epoch_record; TrainingDiverged; callbacks
seeded       over_seeds (each model, each seed: the loop every experiment uses), train_models,
             train_networks (the trained nets too)
"""

from .checkpoints import load_checkpoint, load_weights, save_checkpoint
from .config import TrainConfig, lr_at
from .evaluation import evaluate, loss_sums
from .fit import Step, TrainingDiverged, fit
from .records import History, Record, history_rows, load_histories, load_results, run_meta, save_results
from .seeded import Trained, diverged, over_seeds, train_models, train_networks
from .step import train_step

__all__ = [
    "History",
    "Record",
    "Step",
    "TrainConfig",
    "Trained",
    "TrainingDiverged",
    "diverged",
    "evaluate",
    "fit",
    "history_rows",
    "load_checkpoint",
    "load_histories",
    "load_results",
    "load_weights",
    "loss_sums",
    "lr_at",
    "over_seeds",
    "run_meta",
    "save_checkpoint",
    "save_results",
    "train_models",
    "train_networks",
    "train_step",
]
