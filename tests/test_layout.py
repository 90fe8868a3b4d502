"""The package's shape: five sub-packages whose imports run one way, every public name importable
from `resnet_edu`, every module readable in one sitting and tested by a file of its own."""

import ast
import importlib
from pathlib import Path

import pytest

import resnet_edu

PACKAGE = Path(resnet_edu.__file__).parent
ORDER = ("nets", "data", "training", "measure", "course")  # each may import only those before it
TOP = len(ORDER)  # the command line (cli, commands, bench) and the package's own __init__


def layer(module: str) -> int:
    """The layer of a dotted module name inside the package ("training.fit" -> 2; "cli" -> TOP)."""
    head = module.split(".")[0]
    return ORDER.index(head) if head in ORDER else TOP


def imports(source: str, here: tuple[str, ...]) -> list[tuple[str, int]]:
    """(module imported, line) for every import of this package's own modules in `source`, the text
    of the module at `here` inside the package (e.g. ("training", "fit"))."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(here[: len(here) - node.level])  # the package `from .` or `from ..` names
            target = ".".join([*base, *([node.module] if node.module else [])])
            names = [a.name for a in node.names]
            found += [(f"{target}.{n}" if not node.module else target, node.lineno) for n in names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("resnet_edu."):
            found.append((node.module.removeprefix("resnet_edu."), node.lineno))
        elif isinstance(node, ast.Import):
            found += [
                (a.name.removeprefix("resnet_edu."), node.lineno)
                for a in node.names
                if a.name.startswith("resnet_edu.")
            ]
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


def test_the_layers_are_the_sub_packages():
    assert sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()) == sorted(ORDER)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_one_way(path):
    """A module imports only from its own sub-package and those before it in ORDER."""
    here = path.relative_to(PACKAGE).with_suffix("").parts
    upward = [(m, line) for m, line in imports(path.read_text(), here) if layer(m) > layer(".".join(here))]
    assert not upward, f"{path.relative_to(PACKAGE)} imports upward: {upward}"


def test_the_direction_check_catches_an_upward_import():
    """The check above can fail: a nets module importing the course, absolutely or relatively, is caught."""
    source = (
        "from ..course import stats\nfrom .blocks import ResidualBlock\nimport resnet_edu.measure.probes\n"
    )
    found = imports(source, ("nets", "models"))
    assert found == [("course", 1), ("nets.blocks", 2), ("measure.probes", 3)]
    assert [m for m, _ in found if layer(m) > layer("nets.models")] == ["course", "measure.probes"]


@pytest.mark.parametrize("name", sorted(resnet_edu.PUBLIC))
def test_every_public_name_imports_from_the_package(name):
    obj = getattr(resnet_edu, name)
    home = importlib.import_module(f"resnet_edu.{resnet_edu.PUBLIC[name]}")
    assert obj is getattr(home, name)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        resnet_edu.nonsense  # noqa: B018


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_module_reads_in_one_sitting(path):
    assert len(path.read_text().splitlines()) <= 300


@pytest.mark.parametrize(
    "path", [p for p in MODULES if p.name not in ("__init__.py", "__main__.py")], ids=lambda p: p.stem
)
def test_every_module_has_a_test_file(path):
    assert (Path(__file__).parent / f"test_{path.stem}.py").exists()


def test_no_private_name_is_used_across_modules():
    """`from .x import _name` or `module._name` of another module would tie two modules' insides."""
    offenders = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and any(a.name.startswith("_") for a in node.names):
                offenders.append((str(path.relative_to(PACKAGE)), node.lineno))
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                base = node.value
                if isinstance(base, ast.Name) and base.id not in ("self", "cls", "torch", "np", "nn"):
                    offenders.append((str(path.relative_to(PACKAGE)), node.lineno, f"{base.id}.{node.attr}"))
    assert not offenders, offenders


def test_the_formatter_owns_layout():
    """No formatter escape anywhere in the library or the tests: ruff format decides."""
    marked = [
        str(p) for p in [*MODULES, *Path(__file__).parent.glob("*.py")] if "fmt: " + "skip" in p.read_text()
    ]
    assert not marked, marked
