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
        if directory and target.exists():
            backup = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, backup / "old")
            os.replace(temporary, target)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(temporary, target)
    finally:
        if temporary.exists() or temporary.is_symlink():
            _remove(temporary)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (parents created); returns ``path``."""
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())  # the rename must never publish unwritten data
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (parents created); returns ``path``."""
    return write_bytes_atomic(path, text.encode("utf-8"))
