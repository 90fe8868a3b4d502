"""One rank of the DDP test (tests/test_train.py), run with `torchrun --standalone --nproc_per_node=2`.

Rank 0 saves one DDP step and a 1-epoch DDP `fit` to OUT/rank0.pt for comparison with one process.
"""

import dataclasses
import os
import sys

import torch
import torch.distributed as dist

from resnet_edu.data import synthetic_cifar
from resnet_edu.nets.models import SimpleCNN
from resnet_edu.training.config import TrainConfig
from resnet_edu.training.fit import fit
from resnet_edu.training.step import make_optimizer, train_step

TINY = TrainConfig(epochs=2, batch_size=16, lr=0.05, device="cpu", seed=3)


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(16, 3, 32, 32, generator=g), torch.randint(0, 10, (16,), generator=g)


def main(out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    cfg = dataclasses.replace(TINY, epochs=1, augment=False)
    torch.manual_seed(0)
    model = SimpleCNN(width=4)  # no BatchNorm: the DDP step is exactly the big-batch step
    net = torch.nn.parallel.DistributedDataParallel(model)
    x, y = batch()
    half = slice(rank * 8, rank * 8 + 8)
    opt = make_optimizer(model, cfg, torch.device("cpu"))
    stats = train_step(net, opt, x[half], y[half], lr=cfg.lr, label_smoothing=0.1)
    dist.all_reduce(stats)
    torch.manual_seed(0)
    fitted = SimpleCNN(width=4)
    test = synthetic_cifar(3, split="test")
    h = fit(fitted, synthetic_cifar(6), test, cfg, checkpoint=f"{out}/ddp.pt", progress=False)
    if rank == 0:
        result = {
            "step": model.state_dict(),
            "stats": stats,
            "fit": fitted.state_dict(),
            "records": h.records,
        }
        torch.save(result, f"{out}/rank0.pt")
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main(sys.argv[1])
