import os

import pytest
import torch

# Tests run on the CPU with tiny tensors; keep them deterministic and quiet.
torch.manual_seed(0)
# Read once at import: some tests clear the variable to check behaviour without data.
REAL_DATA = os.environ.get("RESNET_EDU_DATA")
REAL_CACHE = os.environ.get("RESNET_EDU_CACHE")


@pytest.fixture(autouse=True)
def one_thread():
    """Unit tests use tiny tensors: one thread is as fast, and never spin-waits on a busy CPU.

    Notebooks run in their own kernel process and keep torch's default threads.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def real_data_path(monkeypatch):
    """The offline CIFAR-10 copy when CI points RESNET_EDU_DATA at it; skip elsewhere."""
    path = REAL_DATA
    if not path or not os.path.exists(path):
        pytest.skip("RESNET_EDU_DATA not set to an existing CIFAR-10 copy")
    if REAL_CACHE:  # decode the real copy once per run, not once per test
        monkeypatch.setenv("RESNET_EDU_CACHE", REAL_CACHE)
    return path


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """A cache of this test's own and no data source: data tests start cold and offline."""
    monkeypatch.setenv("RESNET_EDU_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("RESNET_EDU_DATA", raising=False)


@pytest.fixture(scope="session")
def executed_lessons(tmp_path_factory):
    """One folder for this run's executed lessons: test_lessons leaves its copies here and the site
    test builds from them, so no lesson runs twice."""
    return tmp_path_factory.mktemp("executed")
