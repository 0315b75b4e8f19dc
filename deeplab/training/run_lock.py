"""One training process per run folder: an advisory lock held for the whole run.

Two ``train.py`` on the same ``--model-dir`` would interleave history lines and rotate away each
other's checkpoints. :class:`RunFolderLock` takes an exclusive ``flock`` on ``<run>/.train.lock``
(the holder's pid written inside, for the message). The kernel drops the lock when its process
ends however it ends, SIGKILL included, so a lock file left behind never blocks the next run.
The file is removed on release; a process that locked a file meanwhile unlinked checks that
the name still points at the locked file and tries again otherwise. Standard library only
(POSIX ``fcntl``; elsewhere the lock is a no-op).
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: no advisory locks
    fcntl = None

LOCK_FILE = ".train.lock"


class RunFolderBusy(OSError):
    """Another process holds the run folder's lock."""


class RunFolderLock:
    """An exclusive advisory lock on a run folder (``acquire`` / ``release``, or ``with``)."""

    def __init__(self, model_dir: str | os.PathLike):
        self.model_dir = Path(model_dir)
        self.path = self.model_dir / LOCK_FILE
        self._fd: int | None = None
        self._made: list[Path] = []  # folders acquire() created, the run folder first

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _holder(self) -> str:
        try:
            pid = self.path.read_text().strip()
        except OSError:
            return ""
        return f" (process {pid})" if pid.isdigit() else ""

    def acquire(self) -> "RunFolderLock":
        """Take the lock or raise :class:`RunFolderBusy` at once (never waits)."""
        if self._fd is not None or fcntl is None:
            return self
        self._made = [path for path in (self.model_dir, *self.model_dir.parents)
                      if not path.exists()]
        self.model_dir.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise RunFolderBusy(
                    f"{self.model_dir} is in use by another training run{self._holder()}; wait "
                    f"for it to finish or give another --model-dir") from None
            except BaseException:
                os.close(fd)
                raise
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the holder released and removed it meanwhile: lock the new file
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        """Drop the lock and remove the lock file, and the folders ``acquire`` made if they are
        still empty (idempotent)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            self.path.unlink(missing_ok=True)  # while still locked: nobody can be mid-acquire
        except OSError:
            pass
        finally:
            os.close(fd)
        for folder in self._made:  # a run refused at set-up leaves no empty folder behind
            try:
                folder.rmdir()
            except OSError:  # not empty: the run wrote something, keep it
                break

    def __enter__(self) -> "RunFolderLock":
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()
