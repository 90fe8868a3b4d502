"""Files that must never be seen half-written: atomic writes, exclusive locks, safe extraction of
archives, and OS errors turned into one line that says what to do.

Every file the library writes (histories, checkpoints, surfaces, the data cache) is written aside and
renamed into place, so a reader sees the old file or the new one, never half of one. An archive is
extracted aside and renamed into place under a lock, once; members that would land outside the
target, links and device files are refused, and so are archives beyond size and member limits.
Nothing is ever deleted but this module's own temporary files and folders.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

try:
    import fcntl
except ImportError:  # not POSIX: the cache relies on atomic renames alone
    fcntl = None


class DataError(Exception):
    """A data problem the user can fix; its message is one line that says how."""


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> Path:
    """Call `write(f)` on a temporary file beside `path`, then rename it over `path` (atomic on POSIX
    and Windows: readers see the old or the new file). The temporary file is removed on any error,
    a full disk included."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    f = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}", suffix=".tmp", delete=False)
    try:
        try:
            write(f)
            f.flush()
            os.fsync(f.fileno())  # on disk before the rename makes it visible
        finally:
            f.close()
        os.replace(f.name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(f.name)
        raise
    return path


def write_json(obj: Any, path: str | os.PathLike) -> Path:
    """`obj` as indented JSON, written atomically."""
    return atomic_write(path, lambda f: f.write(json.dumps(obj, indent=1).encode()))


def write_npz(path: str | os.PathLike, **arrays: np.ndarray) -> Path:
    """Arrays as an uncompressed `.npz`, written atomically."""
    return atomic_write(Path(path).with_suffix(".npz"), lambda f: np.savez(f, **arrays))


def cache_dir() -> Path:
    """Where decoded datasets and extracted archives live: $RESNET_EDU_CACHE or ~/.cache/resnet_edu."""
    return Path(os.environ.get("RESNET_EDU_CACHE", Path.home() / ".cache" / "resnet_edu"))


def extract_archive(
    archive: str | os.PathLike, dest: str | os.PathLike | None = None, *, max_bytes=2**30, max_members=200_000
) -> Path:
    """Safely extract a .tar(.gz) once and return the folder (by default one in `cache_dir()`).

    Refuses members that would land outside `dest` (absolute paths, `..`), links and device files,
    archives above `max_bytes` extracted or `max_members` members, and a `dest` that exists and is
    not empty: nothing is deleted but this function's own temporary folder. One process extracts
    while others wait on a lock. A truncated or corrupt archive or a full disk raises `DataError`.
    """
    archive = Path(archive)
    stat = archive.stat()
    key = f"{archive.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|v2"
    key = hashlib.sha256(key.encode()).hexdigest()[:16]
    dest = Path(dest) if dest else cache_dir() / f"{archive.name.split('.')[0]}-{key}"
    done = lambda: (dest / ".complete").is_file() and (dest / ".complete").read_text() == key
    if done():
        return dest
    with exclusive(dest.parent / f".{dest.name}.lock"):
        if done():  # another process extracted it while this one waited
            return dest
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise DataError(f"{str(dest)!r} exists and is not empty: extract into a new or empty folder")
        tmp = None
        try:
            tmp = tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.extract-")
            _extract_checked(archive, Path(tmp), max_bytes, max_members)
            Path(tmp, ".complete").write_text(key)
            os.replace(tmp, dest)
        except OSError as e:
            if done():  # without a lock (no fcntl) another process may have won: keep its copy
                return dest
            raise os_error(e, f"extracting {str(archive)!r}") from None
        finally:
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)  # gone already after the rename
    return dest


def _extract_checked(archive: Path, target: Path, max_bytes: int, max_members: int) -> None:
    members, size, name = 0, 0, repr(str(archive))
    try:
        with tarfile.open(archive) as tar:
            for m in tar:
                members, size = members + 1, size + m.size
                if members > max_members:
                    raise DataError(f"archive {name} has over max_members={max_members} members: wrong file?")
                if size > max_bytes:
                    raise DataError(f"archive {name} holds over max_bytes={max_bytes} bytes: wrong file?")
                _check_member(m, target)
                tar.extract(m, target, set_attrs=False)
    except (tarfile.TarError, EOFError, ValueError, zlib.error, OSError) as e:
        if isinstance(e, OSError) and e.errno is not None:  # the disk failed (full, read-only), not the file
            raise
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(f"cannot read archive {name}: it is corrupt or truncated ({why})") from None


def _check_member(m: tarfile.TarInfo, target: Path) -> None:
    if m.issym() or m.islnk():
        raise DataError(f"unsafe archive: member {m.name!r} is a link; refusing to extract")
    if not (m.isfile() or m.isdir()):
        raise DataError(f"unsafe archive: member {m.name!r} is a device or special file; refusing to extract")
    dest = (target / m.name).resolve()
    if os.path.isabs(m.name) or not dest.is_relative_to(target.resolve()):
        raise DataError(f"unsafe archive: member {m.name!r} would land outside the target folder")


@contextlib.contextmanager
def exclusive(lock: Path):
    """Create `lock`'s folder and hold an exclusive lock on it (POSIX flock; elsewhere renames suffice)."""
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        f = open(lock, "a")  # closing it releases the lock
    except OSError as e:
        raise os_error(e, f"preparing the folder {str(lock.parent)!r}") from None
    with f:
        if fcntl is not None:
            with contextlib.suppress(OSError):  # a file system without locks: go on without
                fcntl.flock(f, fcntl.LOCK_EX)
        yield


def os_error(e: OSError, doing: str) -> DataError:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return DataError(f"the disk is full while {doing}: free space or point RESNET_EDU_CACHE elsewhere")
    why = f"{e.strerror}: {e.filename}" if e.filename else e.strerror or str(e)
    return DataError(f"{doing} failed ({why}): point RESNET_EDU_CACHE at a folder you can write")
