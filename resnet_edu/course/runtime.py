"""What a lesson runs on, and whether its kernel must restart after an install.

A notebook's first cell installs the course library where it is missing (Colab). pip can change a
package that the kernel has already imported (Colab imports ipywidgets, numpy and matplotlib when it
starts); the kernel then keeps the old module until it restarts. `check_runtime` prints the versions in
use and says plainly when a restart is needed.
"""

from __future__ import annotations

import importlib.metadata as md
import platform
import sys

# module imported -> the distribution that installs it
WATCHED = {
    "torch": "torch",
    "torchvision": "torchvision",
    "numpy": "numpy",
    "matplotlib": "matplotlib",
    "ipywidgets": "ipywidgets",
    "pandas": "pandas",
    "seaborn": "seaborn",
    "tqdm": "tqdm",
    "PIL": "pillow",
}
SHOWN = ("torch", "torchvision", "numpy", "matplotlib", "ipywidgets")


def installed(distribution: str) -> str | None:
    """The installed version of `distribution`, or None."""
    try:
        return md.version(distribution)
    except md.PackageNotFoundError:
        return None


def stale_modules() -> list[tuple[str, str, str]]:
    """(module, version this process imported, version installed now) for every watched module that
    an install has changed since it was imported: the kernel must restart to use the new one."""
    stale = []
    for module, distribution in WATCHED.items():
        loaded = getattr(sys.modules.get(module), "__version__", None)
        now = installed(distribution)
        if loaded and now and public(str(loaded)) != public(now):
            stale.append((module, str(loaded), now))
    return stale


def public(version: str) -> str:
    """A version without its local label ("2.14.1+cu130" -> "2.14.1"): torch's `__version__` carries
    the label, its installed metadata may not."""
    return version.split("+")[0]


def check_runtime() -> list[tuple[str, str, str]]:
    """Print one line of versions (Python, resnet_edu, torch and the device, numpy, matplotlib,
    ipywidgets) and, when an install changed an imported module, what to do. Returns `stale_modules()`."""
    import torch

    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    versions = [f"{name} {installed(WATCHED[name]) or 'missing'}" for name in SHOWN]
    mine = installed("resnet_edu") or "(this clone's, not installed)"
    print(" · ".join([f"Python {platform.python_version()}", f"resnet_edu {mine}", *versions, device]))
    stale = stale_modules()
    if stale:
        changed = ", ".join(f"{m} {old} -> {new}" for m, old, new in stale)
        print(
            f"RESTART NEEDED: the install changed modules this kernel had already imported ({changed}). "
            "Restart the kernel (Colab: Runtime > Restart session), then run the notebook from the top; "
            "the install is kept."
        )
    else:
        print("no restart needed: every module this kernel has imported is the version now installed")
    return stale
