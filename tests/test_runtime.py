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
