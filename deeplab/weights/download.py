"""Downloading release archives into a local cache, safely.

- Cache folder: ``$DEEPLAB_CACHE_DIR`` or ``~/.cache/deeplab``.
- Atomic: bytes go to ``<name>.part``; only a complete, verified file is renamed to ``<name>``, so
  an interrupted download never leaves a file that looks complete.
- Retry: a bounded number of attempts; each one resumes the ``.part`` file with an HTTP ``Range``
  request when the server supports it and restarts it otherwise. A body shorter than its
  ``Content-Length`` counts as a failed attempt.
- Integrity: the SHA-256 is checked against the expected value when one is known; otherwise the
  hash of the first download is recorded in ``<name>.sha256`` and later cache hits are checked
  against it (a corrupted cached file is downloaded again).
- Offline: a one-line :class:`OfflineError` that says how to pass a local file instead.

Plain ``urllib``, no extra dependency; progress through :mod:`deeplab.progress`.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

from deeplab.atomic import write_text_atomic
from deeplab.progress import progress_bar
from deeplab.weights.errors import ChecksumError, DownloadError, OfflineError

CACHE_ENV_VAR = "DEEPLAB_CACHE_DIR"
DEFAULT_ATTEMPTS = 3
_CHUNK = 1 << 16
_USER_AGENT = "deeplab-weights/1.0 (+urllib)"


class _IncompleteDownload(Exception):
    """The server sent fewer bytes than it announced; the ``.part`` file is kept for resuming."""


def cache_dir() -> Path:
    """Where downloads are kept: ``$DEEPLAB_CACHE_DIR`` or ``~/.cache/deeplab``."""
    configured = os.environ.get(CACHE_ENV_VAR)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "deeplab"


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _recorded_sha256(path: Path) -> str | None:
    sidecar = _sidecar(path)
    if not sidecar.is_file():
        return None
    text = sidecar.read_text().split()
    return text[0].lower() if text else None


def _cached_file_ok(path: Path, expected: str | None) -> bool:
    """A cached file is good when its hash matches the expected or the recorded one."""
    reference = expected or _recorded_sha256(path)
    if reference is None:
        write_text_atomic(_sidecar(path), f"{file_sha256(path)}  {path.name}\n")
        return True
    return file_sha256(path) == reference.lower()


def _is_connection_failure(error: BaseException) -> bool:
    """True when the server was never reached (no network, DNS failure, refused, timeout)."""
    if isinstance(error, urllib.error.HTTPError):
        return False
    reason = getattr(error, "reason", None)
    return isinstance(reason, OSError) and not isinstance(reason, ConnectionResetError)


def _fetch(url: str, part: Path, *, timeout: float, progress: bool) -> None:
    """One attempt: append to (or restart) ``part`` until the body is complete."""

    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        status = getattr(response, "status", 200)
        content_range = response.headers.get("Content-Range", "")
        resumed = offset > 0 and status == 206 and content_range.startswith(f"bytes {offset}-")
        if status == 206 and not resumed and not content_range.startswith("bytes 0-"):
            part.unlink(missing_ok=True)  # a range we did not ask for: start afresh next time
            raise _IncompleteDownload(f"server answered with an unexpected range "
                                      f"{content_range!r}")
        if not resumed:
            offset = 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None and length.isdigit() else None
        received = offset
        with open(part, "ab" if resumed else "wb") as out, progress_bar(
                total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                desc=part.name.removesuffix(".part"), enabled=progress, leave=False) as bar:
            try:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            except http.client.IncompleteRead as error:
                out.write(error.partial)
                received += len(error.partial)
                raise _IncompleteDownload(f"connection closed after {received} of {total} "
                                          f"bytes") from error
    if total is not None and received != total:
        raise _IncompleteDownload(f"connection closed after {received} of {total} bytes")


@contextlib.contextmanager
def _exclusive(destination: Path):
    """Serialise processes fetching the same file (e.g. several training workers on one host)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no cross-process lock
        yield
        return
    with open(destination.with_name(destination.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def download(url: str, destination: str | os.PathLike, *, sha256: str | None = None,
             attempts: int = DEFAULT_ATTEMPTS, timeout: float = 60.0, progress: bool = True,
             retry_delay: float = 1.0) -> Path:
    """Download ``url`` to ``destination``; a cache hit returns at once, after a hash check.

    Concurrent calls for the same destination (threads or processes) wait for each other, so
    the second one finds the first one's file in the cache.
    """
    destination = Path(destination)
    with _exclusive(destination):
        return _download_locked(url, destination, sha256=sha256, attempts=attempts,
                                timeout=timeout, progress=progress, retry_delay=retry_delay)


def _download_locked(url: str, destination: Path, *, sha256: str | None, attempts: int,
                     timeout: float, progress: bool, retry_delay: float) -> Path:
    if destination.is_file():
        if _cached_file_ok(destination, sha256):
            return destination
        destination.unlink()
        _sidecar(destination).unlink(missing_ok=True)
    part = destination.with_name(destination.name + ".part")
    last_error: BaseException | None = None
    for attempt in range(1, max(1, attempts) + 1):
        try:
            _fetch(url, part, timeout=timeout, progress=progress)
            last_error = None
            break
        except urllib.error.HTTPError as error:
            last_error = error
            if error.code == 416:  # our Range is past the end: start again
                part.unlink(missing_ok=True)
            elif 400 <= error.code < 500 and error.code not in (408, 429):
                break
        except (_IncompleteDownload, urllib.error.URLError, http.client.HTTPException,
                ConnectionError, TimeoutError, socket.timeout) as error:
            last_error = error
        if attempt < attempts:
            time.sleep(retry_delay * attempt)
    if last_error is not None:
        _raise_download_error(url, destination, last_error, attempts)
    digest = file_sha256(part)
    if sha256 is not None and digest != sha256.lower():
        part.unlink(missing_ok=True)
        raise ChecksumError(f"{url}: SHA-256 {digest} does not match the expected {sha256}; the "
                            f"download was discarded")
    os.replace(part, destination)
    write_text_atomic(_sidecar(destination), f"{digest}  {destination.name}\n")
    return destination


def _raise_download_error(url: str, destination: Path, error: BaseException, attempts: int):
    hint = (f"to use a local copy instead, download {destination.name} elsewhere and give its "
            f"path as the weights source (--weights /path/to/{destination.name} on the command "
            f"line, Segmenter.from_source('/path/to/{destination.name}') in Python); the "
            f"bundled 'person' model needs no download")
    if isinstance(error, urllib.error.HTTPError):
        raise DownloadError(f"cannot download {url}: HTTP {error.code} {error.reason}; {hint}")
    reason = getattr(error, "reason", error)
    if isinstance(error, urllib.error.URLError) and _is_connection_failure(error):
        raise OfflineError(f"cannot reach {url} ({reason}): this machine looks offline; {hint}")
    raise DownloadError(f"cannot download {url} after {attempts} attempt(s) ({reason}); the "
                        f"partial file is kept for resuming; {hint}")


def fetch_release(release, *, directory: str | os.PathLike | None = None,
                  progress: bool = True) -> Path:
    """The archive of a registry entry (:class:`OfficialRelease`), downloaded on first use."""
    target = Path(directory) if directory is not None else cache_dir()
    return download(release.url, target / release.archive, sha256=release.sha256,
                    progress=progress)
