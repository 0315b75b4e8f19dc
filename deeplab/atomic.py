"""Atomic output files and folders: written under a temporary name beside the target, renamed
into place only when complete.

Every module that writes an artifact (saved models, exports, run-folder files, pictures, download
bookkeeping) goes through :func:`atomic_path`, so an interrupted or failed write never leaves
something that looks complete, and an existing target stays as it was until the new one is whole.
Standard library only: the TensorFlow-free paths may use it too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def exchange_paths(first: str | os.PathLike, second: str | os.PathLike) -> bool:
    """Swap two existing paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``).

    Returns False, changing nothing, where the system or filesystem cannot do it.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    result = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second),
                       _RENAME_EXCHANGE)
    return result == 0


def replace_folder(new: Path, target: Path) -> None:
    """Put folder ``new`` in place of the existing ``target``; afterwards ``new`` names the old
    folder (for the caller to delete). Atomic where the system can swap two paths; elsewhere two
    renames, with the old folder put back if the second one fails."""
    if exchange_paths(new, target):
        return
    backup = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    try:
        os.replace(target, backup / "old")
        try:
            os.replace(new, target)
        except BaseException:
            os.replace(backup / "old", target)
            raise
        os.replace(backup / "old", new)
    finally:
        shutil.rmtree(backup, ignore_errors=True)


def _default_permissions(path: Path, directory: bool) -> None:
    """``mkstemp``/``mkdtemp`` create 0600/0700; outputs get the usual umask-based rights."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if directory else 0o666) & ~umask)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, *, directory: bool = False,
                overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success move it onto ``target``.

    The temporary name keeps ``target``'s suffixes (``.png``, ``.keras``), so writers that choose
    the format by extension work. An exception in the body deletes the temporary file or folder
    and leaves an existing ``target`` untouched. ``directory=True`` yields an empty folder; an
    existing target folder is swapped out only after the new one is complete.
    ``overwrite=False`` refuses (``FileExistsError``) when ``target`` already exists.
    Temporary paths are removed on every exit path that runs ``finally`` (exceptions,
    ``KeyboardInterrupt``, ``SystemExit``; a handler that raises on SIGTERM, as the CLIs install).
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; refusing to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}.tmp-"
    if directory:
        temporary = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    else:
        handle, name = tempfile.mkstemp(prefix=prefix, suffix="".join(target.suffixes),
                                        dir=target.parent)
        os.close(handle)
        temporary = Path(name)
    _default_permissions(temporary, directory)
    try:
        yield temporary
        if directory and target.is_dir() and not target.is_symlink():
            replace_folder(temporary, target)  # ``temporary`` now holds the old folder
        else:
            os.replace(temporary, target)
    finally:
        if temporary.exists() or temporary.is_symlink():
            _remove(temporary)


def _write_synced(path: Path, data: bytes) -> None:
    """Write and fsync: a rename must never publish unwritten data."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (parents created); returns ``path``."""
    with atomic_path(path) as temporary:
        _write_synced(temporary, data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (parents created); returns ``path``."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def _publish_exclusive(temporary: Path, target: Path) -> None:
    """Move ``temporary`` onto ``target`` only if ``target`` does not exist, atomically.

    A hard link fails with ``FileExistsError`` when the name is taken, so two writers can never
    replace each other's file; where links are not supported, an ``O_EXCL`` placeholder claims
    the name first (the rename then fills it).
    """
    try:
        os.link(temporary, target)
    except FileExistsError:
        raise FileExistsError(f"{target} exists; refusing to overwrite it") from None
    except OSError:  # no hard links on this file system
        try:
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            raise FileExistsError(f"{target} exists; refusing to overwrite it") from None
        os.replace(temporary, target)
        return
    temporary.unlink()


@contextlib.contextmanager
def atomic_create(target: str | os.PathLike) -> Iterator[Path]:
    """Like :func:`atomic_path` for a file, but never replaces an existing ``target``.

    The check happens when the finished file is published (not before it is written), so of
    two concurrent runs writing the same name, one succeeds and the other gets
    ``FileExistsError``; the temporary file is removed either way.
    """
    target = Path(target)
    if target.exists():
        raise FileExistsError(f"{target} exists; refusing to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.tmp-",
                                    suffix="".join(target.suffixes), dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    _default_permissions(temporary, False)
    try:
        yield temporary
        _publish_exclusive(temporary, target)
    finally:
        if temporary.exists() or temporary.is_symlink():
            _remove(temporary)


def write_bytes_exclusive(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to a new file ``path`` atomically; ``FileExistsError`` if it exists."""
    with atomic_create(path) as temporary:
        _write_synced(temporary, data)
    return Path(path)
