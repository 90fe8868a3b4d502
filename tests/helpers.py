"""Helpers shared by the tests: data files made locally in their real format, tiny networks and batches,
the command line run in-process, notebooks written on the fly."""

import io
import os
import tarfile
from pathlib import Path

import nbformat
import pytest
import torch
from PIL import Image
from torch import nn

from resnet_edu import cli
from resnet_edu.data import CLASSES
from resnet_edu.nets.models import cifar_resnet
from resnet_edu.training.records import History

needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")


def save_image(img, path, **kw):
    Image.fromarray(img.permute(1, 2, 0).numpy()).save(path, **kw)


def make_image_folder(root, classes=CLASSES, n=2, size=32):
    """`root/{train,test}/<class>/NNNN.png`, `n` random images per class, seeded."""
    g = torch.Generator().manual_seed(0)
    for split in ("train", "test"):
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for i in range(n):
                img = torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=g)
                save_image(img, root / split / c / f"{i:04d}.png")
    return root


def make_tar(path, root):
    """A .tar.gz of an image folder, wrapped in one top folder as real archives often are."""
    with tarfile.open(path, "w:gz") as tar:
        tar.add(root / "train", arcname="cifar/train")
        tar.add(root / "test", arcname="cifar/test")
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def tiny_cifar_folder(root, n=4):
    """A CIFAR-10-shaped ImageFolder (real JPEG files, the 10 class names), n images per class and split."""
    from PIL import Image

    from resnet_edu.data import CLASSES

    g = torch.Generator().manual_seed(0)
    for split in ("train", "test"):
        for c, name in enumerate(CLASSES):
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                pixels = (torch.rand(32, 32, 3, generator=g) * 60 + 20 * c).clamp(0, 255).to(torch.uint8)
                Image.fromarray(pixels.numpy()).save(root / split / name / f"{i}.jpg")
    return root


def write_notebook(path, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nbformat.write(nb, path)


def add_member(tar, name, type_=tarfile.REGTYPE, data=b"x", linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = type_, len(data) if type_ == tarfile.REGTYPE else 0, linkname
    tar.addfile(info, io.BytesIO(data) if type_ == tarfile.REGTYPE else None)


def leftovers(folder: Path) -> list[str]:
    """Temporary files and folders of an interrupted write or extraction, anywhere under `folder`."""
    return sorted(str(p) for p in folder.rglob("*") if ".extract-" in p.name or p.name.endswith(".tmp"))


def digest(data) -> tuple:
    return tuple(data.images.shape), data.images.sum().item(), data.labels.tolist(), data.classes


def tiny(name: str) -> nn.Module:
    """resnet8 / plain8 of width 2: three blocks."""
    torch.manual_seed(0)
    return cifar_resnet(8, width=2, shortcut=name.startswith("resnet"))


def batch(n: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 16, 16, generator=g), torch.randint(0, 10, (n,), generator=g)


def no_hooks(model: nn.Module) -> bool:
    return all(
        not (m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or m._backward_pre_hooks)
        for m in model.modules()
    )


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def make_run(model, seed, test_acc, train_acc, train_loss, times=(1.0, 2.0, 3.0)):
    recs = [
        dict(epoch=e + 1, test_acc=t, train_acc=a, train_loss=v, test_loss=None, time=s, images_per_s=100.0)
        for e, (t, a, v, s) in enumerate(zip(test_acc, train_acc, train_loss, times))
    ]
    meta = {
        "model": model,
        "seed": seed,
        "device_name": "CPU",
        "data": "CIFAR-10 from /a/b/c.tar.gz",
        "date": "2026-01-01",
    }
    return History(recs, {"epochs": len(recs)}, meta)


RUNS = [
    make_run("a", 0, (0.5, 0.8, 0.91), (0.5, 0.9, 0.99), (2.0, 1.0, 0.1)),
    make_run("a", 1, (0.4, 0.7, 0.86), (0.5, 0.9, 0.98), (2.0, 1.2, 0.2)),
    make_run("b", 0, (0.6, 0.7, 0.80), (0.6, 0.7, 0.82), (1.5, 1.1, 0.5)),
    make_run("b", 1, (0.3, 0.75, 0.88), (0.5, 0.8, 0.90), (2.5, 1.1, 0.4)),
]


def make_torchvision_folder(root, n=2, seed=0):
    """`root/cifar-10-batches-py` in torchvision's real format: pickled dicts of (N, 3072) uint8 `data`
    and `labels`, five training batches, a test batch and `batches.meta`; n images per class per batch."""
    import pickle

    import numpy as np

    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = [c for c in range(10) for _ in range(n)]
        data = rng.integers(0, 256, (len(labels), 3072), dtype=np.uint8)
        with open(folder / name, "wb") as f:
            pickle.dump({"batch_label": name, "labels": labels, "data": data, "filenames": []}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": list(CLASSES), "num_cases_per_batch": 10 * n, "num_vis": 3072}, f)
    return root


def make_hub_folder(root, n_train=20, n_test=10, classes=CLASSES, seed=0):
    """A folder in the Hugging Face Hub copy's real format (`uoft-cs/cifar10`): parquet files
    `plain_text/{train,test}-00000-of-00001.parquet` with features `img` (Image) and `label`
    (ClassLabel with the class names). Returns the folder and the images as (N, 32, 32, 3) arrays."""
    import datasets
    import numpy as np

    features = datasets.Features({"img": datasets.Image(), "label": datasets.ClassLabel(names=list(classes))})
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        arrays[split] = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        images = [Image.fromarray(a) for a in arrays[split]]
        ds = datasets.Dataset.from_dict(
            {"img": images, "label": [i % 10 for i in range(n)]}, features=features
        )
        (root / "plain_text").mkdir(parents=True, exist_ok=True)
        ds.to_parquet(str(root / "plain_text" / f"{split}-00000-of-00001.parquet"))
    return root, arrays


def full_disk(monkeypatch):
    """Every temporary file opened from now on writes to /dev/full: each write fails with ENOSPC, as on
    a full disk (atomic writes go through `tempfile.NamedTemporaryFile`)."""
    import os
    import tempfile

    real = tempfile.NamedTemporaryFile

    def full(*args, **kwargs):
        f = real(*args, **kwargs)
        os.dup2(os.open("/dev/full", os.O_WRONLY), f.fileno())
        return f

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", full)


def half_squared_error(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1/2 ||out - target||^2: with a linear model, a loss whose gradient and Hessian are known exactly."""
    return 0.5 * ((out - target) ** 2).sum()


def quadratic(seed: int = 0):
    """(model, x, y, loss_fn) with L(w) = 1/2 ||X w - y||^2: gradient X^T (X w - y), Hessian X^T X,
    both known in closed form. float64, 7 points in 4 dimensions."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(7, 4, generator=gen, dtype=torch.float64)
    y = torch.randn(7, 1, generator=gen, dtype=torch.float64)
    model = nn.Linear(4, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(torch.randn(1, 4, generator=gen, dtype=torch.float64))
    return model, x, y, half_squared_error
