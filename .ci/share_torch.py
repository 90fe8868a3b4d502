"""Hard-link the CUDA build of torch (torch, torchvision, triton, nvidia-*, cuda-*: about 5.5 GB)
from the venv running this script into another venv's site-packages, so that `make test`'s Colab-like
venv costs megabytes of disk, not gigabytes. pip then finds torch installed and installs only what
is missing. Run by `make colab-venv`; where hard links cannot be made (another file system), it
links nothing and pip installs its own copy.

usage: python .ci/share_torch.py DEST_SITE_PACKAGES
"""

import os
import sys
from importlib import metadata
from pathlib import Path

SHARED = ("torch", "torchvision", "triton")
SHARED_PREFIXES = ("nvidia-", "nvidia_", "cuda-", "cuda_")


def shared(name: str) -> bool:
    name = name.lower()
    return name in SHARED or name.startswith(SHARED_PREFIXES)


def files_to_link(dest: Path) -> list[tuple[Path, Path]]:
    """(source, destination) for every file the shared distributions' RECORDs list inside
    site-packages (scripts in bin/ are left out: their first line names this venv's python)."""
    pairs = []
    for dist in metadata.distributions():
        if not shared(dist.metadata["Name"] or ""):
            continue
        for f in dist.files or ():
            if ".." in Path(f).parts:
                continue
            src = Path(dist.locate_file(f))
            if src.is_file():
                pairs.append((src, dest / f))
    return pairs


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    dest = Path(argv[0])
    if not dest.is_dir():
        print(f"error: {dest} is not a directory", file=sys.stderr)
        return 2
    pairs = files_to_link(dest)
    if not pairs:
        print("share_torch: no torch in this venv; pip installs its own copy")
        return 0
    probe = dest / ".share_torch_probe"
    try:
        os.link(pairs[0][0], probe)
    except OSError as e:
        print(f"share_torch: cannot hard-link into {dest} ({e.strerror}); pip installs its own copy")
        return 0
    probe.unlink()
    for src, dst in pairs:
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.exists():
            dst.unlink()
        os.link(src, dst)
    print(f"share_torch: {len(pairs)} files of torch and its CUDA libraries hard-linked, not copied")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
