"""The Colab-like job: lessons 01 and 06 and every explorer, in a venv with Colab's package set
(`make colab-venv`: ipywidgets 7.7.1, ipython 7.34, ipykernel 6.17, numpy 2.1, no jupyterlab), run from an
empty folder outside the clone. The lessons' own install cell installs the package, with pip building
it from a snapshot of this tree served at the address the cell names, exactly as in Colab; nothing may
come from the clone. CIFAR-10 is given in torchvision's on-disk format."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import make_torchvision_folder
from resnet_edu.course import links, settings

COLAB_PYTHON = os.environ.get("RESNET_EDU_COLAB_PYTHON")
ROOT = settings.ROOT
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not COLAB_PYTHON, reason="RESNET_EDU_COLAB_PYTHON unset: make test builds and names it"
    ),
]


def snapshot(tmp: Path) -> Path:
    """This tree (tracked and untracked files, as a fresh commit) as a git repository: what pip clones."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True
    ).stdout.decode()
    src = tmp / "served"
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    who = ["-c", "user.name=colab job", "-c", "user.email=colab@job"]
    for step in (["init", "-q"], ["add", "-A"], [*who, "commit", "-q", "-m", "snapshot"]):
        subprocess.run(["git", *step], cwd=src, check=True)
    return src


def torchvision_copy(tmp: Path) -> Path:
    """CIFAR-10 in torchvision's format: the real images when RESNET_EDU_DATA has them, else small."""
    import pickle

    import numpy as np

    if not os.environ.get("RESNET_EDU_DATA"):
        return make_torchvision_folder(tmp / "cifar10", n=40)
    from resnet_edu.data import load_cifar10

    folder = tmp / "cifar10" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for split, names in (("train", [f"data_batch_{i}" for i in range(1, 6)]), ("test", ["test_batch"])):
        data = load_cifar10(split=split)
        for name, index in zip(names, np.array_split(np.arange(len(data)), len(names))):
            batch = {
                "data": data.images[index].reshape(len(index), -1).numpy(),
                "labels": data.labels[index].tolist(),
            }
            (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": list(data.classes)}))
    return tmp / "cifar10"


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("colab")
    venv = Path(COLAB_PYTHON).parent.parent
    subprocess.run(
        [COLAB_PYTHON, "-m", "pip", "uninstall", "-q", "-y", "resnet_edu"], check=True
    )  # the cell installs it
    served, content = snapshot(tmp), tmp / "content" / "notebooks"
    content.mkdir(parents=True)
    address = links.repository(ROOT)
    (tmp / "gitconfig").write_text(f'[url "file://{served}"]\n\tinsteadOf = {address}\n')
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RESNET_EDU_", "JUPYTER", "PYTHON", "VIRTUAL_ENV"))
    }
    env |= {
        "PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}",
        "GIT_CONFIG_GLOBAL": str(tmp / "gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "JUPYTER_DATA_DIR": str(tmp / "jupyter"),
        "IPYTHONDIR": str(tmp / "ipython"),
        "RESNET_EDU_DATA": str(torchvision_copy(tmp)),
        "RESNET_EDU_CACHE": str(tmp / "cache"),
        "RESNET_EDU_SETTING": "quick",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    return {"tmp": tmp, "content": content, "env": env, "venv": venv}


def job(colab, *args, headless=True) -> dict:
    env = colab["env"] | ({"RESNET_EDU_HEADLESS": "1"} if headless else {})
    script = Path(__file__).with_name("colab_job.py")
    done = subprocess.run(
        [COLAB_PYTHON, str(script), *map(str, args)],
        cwd=colab["content"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(1800)
def test_lessons_01_and_06_install_and_run_where_there_is_no_clone(colab):
    before = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    first = job(colab, "lesson", ROOT / "notebooks" / "01_vanishing_gradients.ipynb", colab["content"])
    assert first["error"] is None and first["ran"] == list(range(1, len(first["ran"]) + 1))
    text = first["text"]
    assert "resnet_edu 0.1.0 · torch" in text and "no restart needed" in text  # the install cell's summary
    assert "ipywidgets 7.7.1" in text and "numpy 2.1." in text and "RESTART NEEDED" not in text  # kept
    assert "resnet_edu 0.1.0" in text and "CIFAR-10 from" in text and "SYNTHETIC" not in text
    assert (colab["content"] / "figures" / "01_degradation.png").exists()  # beside the learner, as in Colab
    shutil.rmtree(colab["tmp"] / "served")  # from here on, nothing the clone served exists

    sixth = job(colab, "lesson", ROOT / "notebooks" / "06_resnet18_vs_simplecnn.ipynb", colab["content"])
    assert sixth["error"] is None, sixth["error"]
    assert "stored paper-setting run beside this one: stored paper run (NVIDIA H200" in sixth["text"]
    assert "No stored paper-setting run" not in sixth["text"]
    assert (colab["content"] / "figures" / "06_full_run_curves.png").exists() and sixth["pictures"] >= 4
    where = subprocess.run(
        [COLAB_PYTHON, "-c", "import resnet_edu; print(resnet_edu.__file__)"],
        cwd=colab["content"],
        env=colab["env"],
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(str(colab["venv"])) and "site-packages" in where  # the built package, not a clone
    after = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    assert after == before  # the clone is untouched


@pytest.mark.timeout(900)
def test_every_explorer_redraws_when_a_slider_moves_under_ipywidgets_7(colab):
    subprocess.run(
        [COLAB_PYTHON, "-m", "pip", "show", "-q", "resnet_edu"], check=True
    )  # installed by the lesson test
    report = job(colab, "widgets", colab["content"], headless=False)
    assert report["setup"]["text"].split() == ["7.7.1", "True"], report["setup"]  # a live kernel, widgets on
    for name in ("gradient_explorer", "skip_scale_explorer", "landscape_viewer"):
        built, moved = report[name]["built"], report[name]["moved"]
        assert not built["errors"] and not moved["errors"], (name, built, moved)
        assert built["text"].strip() == "VBox" and built["drawn"] == 1, (name, built)
        assert moved["drawn"] == 1 and report[name]["changed"], (name, moved)  # one new, different figure
