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
import time
import warnings
import zipfile
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
    and Windows: readers see the old or the new file). The file gets the mode a plain `open` would
    give it (0644 under the usual umask 022), not tempfile's 0600. The temporary file is locked while
    it is written (so `sweep_leftovers` leaves a live writer's file alone) and removed on any error.
    A failed write raises the `OSError` behind it, naming `path`, also where torch hides it in a
    RuntimeError ("unexpected pos"): a full disk is `OSError(ENOSPC)` whatever wrote the file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    f = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}", suffix=".tmp", delete=False)
    recorded = Recorded(f)
    try:
        try:
            if fcntl is not None:
                with contextlib.suppress(OSError):
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.chmod(f.name, 0o666 & ~umask())
            write(recorded)
            f.flush()
            os.fsync(f.fileno())  # on disk before the rename makes it visible
        finally:
            f.close()
        os.replace(f.name, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(f.name)
        if recorded.error is not None and not isinstance(e, (OSError, KeyboardInterrupt)):
            e = recorded.error  # what the disk said, under torch's "unexpected pos"
        if isinstance(e, OSError):
            raise OSError(e.errno, e.strerror or str(e), str(path)) from None
        raise
    return path


class Recorded:
    """A file whose failed writes are remembered: torch's writer turns an `OSError` into a RuntimeError
    that no longer says which (a full disk reads "unexpected pos"); `error` keeps the original."""

    def __init__(self, f: IO[bytes]):
        self.file, self.error = f, None

    def write(self, data) -> int:
        try:
            return self.file.write(data)
        except OSError as e:
            self.error = e
            raise

    def __getattr__(self, name: str):
        return getattr(self.file, name)


def umask() -> int:
    """This process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_json(obj: Any, path: str | os.PathLike) -> Path:
    """`obj` as indented JSON, written atomically."""
    return atomic_write(path, lambda f: f.write(json.dumps(obj, indent=1).encode()))


def write_npz(path: str | os.PathLike, **arrays: np.ndarray) -> Path:
    """Arrays as an uncompressed `.npz`, written atomically."""
    return atomic_write(Path(path).with_suffix(".npz"), lambda f: np.savez(f, **arrays))


def read_npz(path: str | os.PathLike, keys: tuple[str, ...], what: str) -> dict[str, np.ndarray]:
    """The arrays `keys` of an `.npz` (no pickles); a one-line ValueError naming `path` when it is not
    `what` (not a zip, truncated, a key missing)."""
    try:
        with np.load(Path(path), allow_pickle=False) as f:
            return {k: f[k] for k in keys}
    except (ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{str(path)!r} is not {what} ({type(e).__name__})") from None


def cache_dir() -> Path:
    """Where decoded datasets and extracted archives live: $RESNET_EDU_CACHE (when set and not empty) or
    ~/.cache/resnet_edu."""
    return Path(os.environ.get("RESNET_EDU_CACHE") or Path.home() / ".cache" / "resnet_edu")  # "" is unset


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
    key = f"{archive.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|v3"
    key = hashlib.sha256(key.encode()).hexdigest()[:16]
    if dest is None:
        sweep_leftovers(cache_dir())
    dest = Path(dest) if dest else cache_dir() / f"{archive.name.split('.')[0]}-{key}"
    if extracted(dest, key):
        return dest
    with exclusive(dest.parent / f".{dest.name}.lock"):
        if extracted(dest, key):  # another process extracted it while this one waited
            return dest
        for dead in dest.parent.glob(f".{dest.name}.extract-*"):  # a killed extraction's (we hold the lock)
            shutil.rmtree(dead, ignore_errors=True)
        if (dest / ".complete").is_file() and (dest / ".complete").read_text().split("\n")[0] == key:
            warnings.warn(f"extracted copy {str(dest)!r} is incomplete; extracting it again", stacklevel=2)
            shutil.rmtree(dest)  # ours (it holds our key), and broken: files were removed since
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise DataError(f"{str(dest)!r} exists and is not empty: extract into a new or empty folder")
        tmp = None
        try:
            tmp = tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.extract-")
            files = _extract_checked(archive, Path(tmp), max_bytes, max_members)
            Path(tmp, ".complete").write_text(f"{key}\n{files}")
            os.replace(tmp, dest)
        except OSError as e:
            if extracted(dest, key):  # without a lock (no fcntl) another process may have won: keep its copy
                return dest
            raise os_error(e, f"extracting {str(archive)!r}") from None
        finally:
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)  # gone already after the rename
    return dest


def extracted(dest: Path, key: str) -> bool:
    """Whether `dest` is a finished extraction of the archive with `key` that still holds every file
    (a count: cheap next to decoding them); `.complete` says "key\\nfiles"."""
    try:
        lines = (dest / ".complete").read_text().split("\n")
    except OSError:
        return False
    if lines[0] != key or len(lines) != 2 or not lines[1].isdigit():
        return False
    return sum(len(names) for _, _, names in os.walk(dest)) - 1 == int(lines[1])  # less .complete


def _extract_checked(archive: Path, target: Path, max_bytes: int, max_members: int) -> int:
    """Extract every member, checked; return how many files there were."""
    members, size, name, files = 0, 0, repr(str(archive)), set()
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
                files |= {os.path.normpath(m.name)} if m.isfile() else set()
    except (tarfile.TarError, EOFError, ValueError, zlib.error, OSError) as e:
        if (
            isinstance(e, OSError) and e.errno in DISK_ERRNOS
        ):  # the disk failed (full, read-only), not the file
            raise
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(f"cannot read archive {name}: it is corrupt or truncated ({why})") from None
    return len(files)


def _check_member(m: tarfile.TarInfo, target: Path) -> None:
    if m.issym() or m.islnk():
        raise DataError(f"unsafe archive: member {m.name!r} is a link; refusing to extract")
    if not (m.isfile() or m.isdir()):
        raise DataError(f"unsafe archive: member {m.name!r} is a device or special file; refusing to extract")
    dest = (target / m.name).resolve()
    if os.path.isabs(m.name) or not dest.is_relative_to(target.resolve()):
        raise DataError(f"unsafe archive: member {m.name!r} would land outside the target folder")


class LockHeld(DataError):
    """Another live process holds the lock asked for without waiting."""


@contextlib.contextmanager
def exclusive(lock: Path, *, wait: bool = True):
    """Create `lock`'s folder and hold an exclusive lock on it (POSIX flock; elsewhere renames suffice).
    With `wait=False`, raise `LockHeld` at once when another process holds it."""
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        f = open(lock, "a")  # closing it releases the lock
    except OSError as e:
        raise os_error(e, f"preparing the folder {str(lock.parent)!r}") from None
    with f:
        if fcntl is not None:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                raise LockHeld(f"{str(lock)!r} is held by another process") from None
            except OSError:  # a file system without locks: go on without
                pass
        yield


LEFTOVER_AGE_S = 10.0  # a temporary file younger than this may be one a live writer has not locked yet


def sweep_leftovers(folder: Path) -> list[Path]:
    """Remove what killed processes left in `folder`: `atomic_write`'s `.NAME<random>.tmp` files whose
    writer's lock is free, and `extract_archive`'s `.NAME.extract-*` folders whose `.NAME.lock` is
    free, each older than `LEFTOVER_AGE_S`; a live process's files are left alone. Returns them."""
    if fcntl is None or not folder.is_dir():
        return []
    removed = []
    for p in folder.iterdir():
        tmp, dirs = p.name.endswith(".tmp"), ".extract-" in p.name
        if not p.name.startswith(".") or not (tmp or dirs):
            continue
        with contextlib.suppress(OSError):
            if time.time() - p.lstat().st_mtime < LEFTOVER_AGE_S:
                continue
            lock = p if tmp else folder / (p.name.split(".extract-")[0] + ".lock")
            with open(lock, "rb" if tmp else "a") as f:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its writer is alive
                if dirs:
                    shutil.rmtree(p)
                else:
                    p.unlink()
                removed.append(p)
    return removed


DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}


def os_error(e: OSError, doing: str) -> DataError:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return DataError(f"the disk is full while {doing}: free space or point RESNET_EDU_CACHE elsewhere")
    why = f"{e.strerror}: {e.filename}" if e.filename else e.strerror or str(e)
    return DataError(f"{doing} failed ({why}): point RESNET_EDU_CACHE at a folder you can write")
