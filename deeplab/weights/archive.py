"""Safe reading of DeepLab release archives (``*.tar.gz``).

A release archive holds one folder with ``frozen_inference_graph.pb`` and a TF1 checkpoint
(``model.ckpt[-STEP].index`` + ``.data-0000N-of-0000M``). Archives come from the internet, so they
are read in one streaming pass that refuses anything unsafe before a byte is written: absolute
member names or ``..`` components, symbolic and hard links, devices and FIFOs, and members larger
than a cap. Only the members a release needs are written (never ``extractall``), each through a
temporary file and ``os.replace``. A truncated, corrupt or non-DeepLab archive gives a one-line
:class:`ArchiveError` that says what was expected.
"""

from __future__ import annotations

import gzip
import lzma
import os
import re
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from deeplab.atomic import atomic_path
from deeplab.weights.errors import ArchiveError, UnsafeArchiveError

FROZEN_GRAPH_NAME = "frozen_inference_graph.pb"
DEFAULT_MAX_MEMBER_BYTES = 2 * 1024**3
EXPECTED_CONTENTS = (f"*/{FROZEN_GRAPH_NAME} or */model.ckpt*.index (+ its .data-* shards)")

_INDEX_FILE = re.compile(r"^(?P<prefix>.+)\.index$")
_DATA_FILE = re.compile(r"^(?P<prefix>.+)\.data-(?P<shard>\d+)-of-(?P<count>\d+)$")
_STEP_SUFFIX = re.compile(r"-(\d+)$")
_COPY_CHUNK = 1 << 20


@dataclass(frozen=True)
class ReleaseFiles:
    """Where the parts of a release are on disk (either may be missing, not both)."""

    frozen_graph: Path | None
    checkpoint_prefix: Path | None

    def __post_init__(self):
        if self.frozen_graph is None and self.checkpoint_prefix is None:
            raise ValueError("a release needs a frozen graph or a checkpoint")


def check_member(member: tarfile.TarInfo, max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES) -> None:
    """Raise :class:`UnsafeArchiveError` unless ``member`` is a plain file or folder, inside the
    extraction root and no larger than ``max_member_bytes``."""
    name = member.name
    if not name or "\x00" in name:
        raise UnsafeArchiveError(f"refusing archive member with an empty or invalid name: {name!r}")
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise UnsafeArchiveError(f"refusing archive member with an absolute path: {name!r}")
    if ".." in re.split(r"[/\\]", name):
        raise UnsafeArchiveError(f"refusing archive member with a '..' path component: {name!r}")
    if member.issym() or member.islnk():
        kind = "symbolic" if member.issym() else "hard"
        raise UnsafeArchiveError(
            f"refusing archive member {name!r}: it is a {kind} link (to {member.linkname!r})")
    if member.ischr() or member.isblk() or member.isfifo():
        raise UnsafeArchiveError(f"refusing archive member {name!r}: it is a device or FIFO")
    if not (member.isfile() or member.isdir()):
        raise UnsafeArchiveError(f"refusing archive member {name!r}: unsupported member type "
                                 f"{member.type!r}")
    if member.isfile() and member.size > max_member_bytes:
        raise UnsafeArchiveError(
            f"refusing archive member {name!r}: {member.size} bytes is over the "
            f"{max_member_bytes}-byte limit per member")


def _is_wanted(name: str) -> bool:
    """A member a release needs: a frozen graph (``*.pb`` but not a SavedModel) or a checkpoint
    file (``.index`` / ``.data-*``)."""
    base = PurePosixPath(name).name
    return (base.endswith(".pb") and base != "saved_model.pb") or bool(
        _INDEX_FILE.match(base) or _DATA_FILE.match(base))


def _copy_member(tar: tarfile.TarFile, member: tarfile.TarInfo, destination: Path) -> None:
    """Write one member to ``destination`` atomically, checking its length."""
    source = tar.extractfile(member)
    if source is None:  # pragma: no cover - check_member only lets files through
        raise ArchiveError(f"cannot read archive member {member.name!r}")
    written = 0
    with source, atomic_path(destination) as partial, open(partial, "wb") as out:
        while chunk := source.read(_COPY_CHUNK):
            written += len(chunk)
            out.write(chunk)
        if written != member.size:
            raise ArchiveError(f"archive member {member.name!r} is truncated "
                               f"({written} of {member.size} bytes)")


def _describe(names: list[str], limit: int = 8) -> str:
    """The first member names, for an error message."""
    if not names:
        return "nothing (empty archive)"
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} members)" if len(names) > limit else "")


def _checkpoint_prefixes(files: list[str]) -> list[str]:
    """Checkpoint prefixes whose ``.index`` and every data shard are present."""
    present = set(files)
    complete = []
    for name in files:
        match = _INDEX_FILE.match(name)
        if not match:
            continue
        prefix = match.group("prefix")
        shards = [f for f in files if (m := _DATA_FILE.match(f)) and m.group("prefix") == prefix]
        if not shards:
            continue
        count = int(_DATA_FILE.match(shards[0]).group("count"))
        needed = {f"{prefix}.data-{i:05d}-of-{count:05d}" for i in range(count)}
        if needed <= present:
            complete.append(prefix)
    return complete


def _step(prefix: str) -> int:
    """The training step in a checkpoint prefix (``model.ckpt-30000`` -> 30000; none -> -1)."""
    match = _STEP_SUFFIX.search(prefix)
    return int(match.group(1)) if match else -1


def choose_release_files(files: list[str], *, graph_member: str | None = None,
                         checkpoint_member: str | None = None) -> tuple[str | None, str | None]:
    """Pick the frozen graph and checkpoint prefix among relative file names.

    Registered member names win when present; otherwise ``frozen_inference_graph.pb`` (or a single
    other ``*.pb``) and the complete checkpoint with the highest step.
    """
    graphs = [f for f in files if PurePosixPath(f).name == FROZEN_GRAPH_NAME]
    if not graphs:
        others = [f for f in files
                  if f.endswith(".pb") and PurePosixPath(f).name != "saved_model.pb"]
        graphs = others if len(others) == 1 else []
    graph = graph_member if graph_member in files else (sorted(graphs)[0] if graphs else None)
    prefixes = _checkpoint_prefixes(files)
    if checkpoint_member in prefixes:
        prefix = checkpoint_member
    else:
        prefix = max(prefixes, key=lambda p: (_step(p), p)) if prefixes else None
    return graph, prefix


def extract_release(archive: str | os.PathLike, destination: str | os.PathLike, *,
                    max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
                    graph_member: str | None = None,
                    checkpoint_member: str | None = None) -> ReleaseFiles:
    """Check every member of ``archive`` and write the release's files under ``destination``.

    ``graph_member`` / ``checkpoint_member`` are the member names a registry entry expects
    (checkpoint as a prefix, e.g. ``deeplabv3_mnv2_pascal_train_aug/model.ckpt-30000``); they are
    preferred when present, otherwise the members are found by name pattern.
    """
    archive = Path(archive)
    destination = Path(destination)
    root = destination.resolve()
    if not archive.is_file():
        raise ArchiveError(f"{archive}: no such archive file")
    names: list[str] = []
    written: list[str] = []
    try:
        with tarfile.open(archive, mode="r|*") as tar:
            for member in tar:
                check_member(member, max_member_bytes)
                names.append(member.name)
                if not member.isfile() or not _is_wanted(member.name):
                    continue
                relative = str(PurePosixPath(member.name.replace("\\", "/")))
                target = (root / relative).resolve()
                if root not in target.parents:
                    raise UnsafeArchiveError(f"refusing archive member {member.name!r}: it "
                                             f"resolves outside the extraction folder")
                _copy_member(tar, member, target)
                written.append(relative)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError) as error:
        raise ArchiveError(
            f"{archive}: truncated or corrupt archive ({type(error).__name__}: {error}); expected "
            f"a DeepLab release .tar.gz containing {EXPECTED_CONTENTS}") from error
    graph, prefix = choose_release_files(written, graph_member=graph_member,
                                         checkpoint_member=checkpoint_member)
    return _release_files(root, graph, prefix, f"{archive}: expected a DeepLab release archive "
                          f"containing {EXPECTED_CONTENTS}; found: {_describe(names)}")


def _release_files(root: Path, graph: str | None, prefix: str | None,
                   missing_message: str) -> ReleaseFiles:
    """The chosen files under ``root``, or ``ArchiveError(missing_message)`` when none was found."""
    if graph is None and prefix is None:
        raise ArchiveError(missing_message)
    return ReleaseFiles(frozen_graph=root / graph if graph else None,
                        checkpoint_prefix=root / prefix if prefix else None)


def find_release_files(directory: str | os.PathLike) -> ReleaseFiles:
    """Find the frozen graph and checkpoint of an extracted release folder.

    Looks in the folder itself and one level down, so both the folder the archive unpacks to and
    the folder holding it work.
    """
    directory = Path(directory)
    files: list[str] = []
    for path in sorted(directory.iterdir()):
        if path.is_file():
            files.append(path.name)
    if not any(_is_wanted(f) for f in files):
        for sub in sorted(p for p in directory.iterdir() if p.is_dir()):
            files.extend(f"{sub.name}/{p.name}" for p in sorted(sub.iterdir()) if p.is_file())
    graph, prefix = choose_release_files(files)
    return _release_files(directory, graph, prefix,
                          f"{directory}: expected a DeepLab release folder containing "
                          f"{FROZEN_GRAPH_NAME} or model.ckpt*.index (+ its .data-* shards); "
                          f"found: {_describe(files)}")

