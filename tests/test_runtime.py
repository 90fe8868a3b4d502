import sys
import types

from resnet_edu.course import runtime


def test_a_module_changed_under_the_kernel_asks_for_a_restart(monkeypatch, capsys):
    """tqdm imported at one version, installed at another: the report names it and says to restart."""
    import tqdm

    assert runtime.stale_modules() == []  # nothing installed under this process
    assert runtime.check_runtime() == []
    out = capsys.readouterr().out
    assert "no restart needed" in out and "RESTART" not in out and "torch " in out and "resnet_edu " in out
    monkeypatch.setitem(sys.modules, "tqdm", types.SimpleNamespace(__version__="0.0.1"))
    assert runtime.stale_modules() == [("tqdm", "0.0.1", tqdm.__version__)]
    assert runtime.check_runtime() == [("tqdm", "0.0.1", tqdm.__version__)]
    out = capsys.readouterr().out
    assert "RESTART NEEDED" in out and f"tqdm 0.0.1 -> {tqdm.__version__}" in out and "Restart session" in out


def test_a_module_not_imported_or_not_installed_is_not_stale(monkeypatch):
    monkeypatch.delitem(sys.modules, "seaborn", raising=False)
    monkeypatch.setitem(runtime.WATCHED, "no_such_module", "no-such-distribution")
    monkeypatch.setitem(sys.modules, "no_such_module", types.SimpleNamespace(__version__="1.0"))
    assert runtime.installed("no-such-distribution") is None
    assert all(m not in ("seaborn", "no_such_module") for m, _, _ in runtime.stale_modules())


# Colab's runtime (its published manifest, August 2026) and the oldest versions we promise to accept
COLAB = {
    "torch": "2.11.0",
    "torchvision": "0.26.0",
    "numpy": "2.1.0",
    "matplotlib": "3.10.0",
    "seaborn": "0.13.2",
}
COLAB |= {"pandas": "2.2.2", "tqdm": "4.67.1", "ipywidgets": "7.7.1", "ipykernel": "6.17.1"}


def test_the_declared_requirements_accept_colab_and_the_oldest_supported_versions():
    import tomllib
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    from resnet_edu.course.settings import ROOT

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [
        Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["notebooks"]
    ]
    for have in (COLAB, {"torch": "2.4.0", "ipywidgets": "8.1.0"}):
        refused = [
            f"{r} vs {have[r.name]}" for r in declared if r.name in have and have[r.name] not in r.specifier
        ]
        assert not refused, refused
    python = SpecifierSet(project["requires-python"])
    assert all(v in python for v in ("3.10", "3.11", "3.12", "3.13"))
    assert (ROOT / "requirements.txt").read_text().count("ipywidgets>=7.7") == 1  # the learners' file agrees
