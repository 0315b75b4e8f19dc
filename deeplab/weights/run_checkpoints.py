"""Finding the checkpoint to resume from by reading the files, not trusting the list file.

A run's ``checkpoints/`` holds ``ckpt-<step>.index`` + ``ckpt-<step>.data-*`` pairs and the
``checkpoint`` list file that ``tf.train.CheckpointManager`` keeps. Either can be damaged (a
killed copy, a full disk, an editor): :func:`newest_restorable` tries the checkpoints found on
disk newest first, reads every tensor (truncation and checksum errors show up here, before any
variable is touched), restores the first that reads and matches, and reports why each newer one
was skipped. :func:`rewrite_list_file` then makes the list file agree with what was restored, so
the manager neither forgets the good checkpoints nor rotates away ones it never tracked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

CHECKPOINT_NAME = "ckpt"
LIST_FILE = "checkpoint"
_FILE = re.compile(rf"^{CHECKPOINT_NAME}-(\d+)\.(index|data-\d+-of-\d+)$")


class NoRestorableCheckpoint(ValueError):
    """Checkpoints exist but none of them can be restored."""


@dataclass(frozen=True)
class Candidate:
    """One checkpoint found on disk."""

    step: int
    prefix: str


@dataclass(frozen=True)
class Skipped:
    """A checkpoint that was not used, and why (one line)."""

    candidate: Candidate
    reason: str


def checkpoints_on_disk(directory: str | Path) -> list[Candidate]:
    """Every ``ckpt-<step>`` with an index or data file in ``directory``, newest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    steps = {int(match.group(1)) for match in map(_FILE.match, (p.name for p in directory.iterdir()))
             if match}
    return [Candidate(step, str(directory / f"{CHECKPOINT_NAME}-{step}"))
            for step in sorted(steps, reverse=True)]


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".strip().rstrip(":")


def read_problem(prefix: str) -> str | None:
    """Why the checkpoint at ``prefix`` cannot be read in full (None when every tensor reads)."""
    import tensorflow as tf

    if not Path(f"{prefix}.index").is_file():
        return "its .index file is missing"
    try:
        reader = tf.train.load_checkpoint(prefix)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    except Exception as error:  # tf.errors.OpError, IndexError (short read), ValueError
        return f"unreadable ({_one_line(error)})"
    return None


def newest_restorable(directory: str | Path, restore: Callable[[str], None]
                      ) -> tuple[Candidate | None, list[Skipped]]:
    """The newest checkpoint in ``directory`` that reads and that ``restore(prefix)`` accepts.

    ``restore`` must raise when the checkpoint does not fit (e.g. another architecture). Returns
    (the restored checkpoint or None, the newer ones skipped with their reasons); raises
    :class:`NoRestorableCheckpoint` when checkpoints exist and none restores.
    """
    skipped: list[Skipped] = []
    candidates = checkpoints_on_disk(directory)
    for candidate in candidates:
        reason = read_problem(candidate.prefix)
        if reason is None:
            try:
                restore(candidate.prefix)
                return candidate, skipped
            except Exception as error:
                reason = f"does not fit this model ({_one_line(error)})"
        skipped.append(Skipped(candidate, reason))
    if candidates:
        details = "; ".join(f"{Path(s.candidate.prefix).name}: {s.reason}" for s in skipped)
        raise NoRestorableCheckpoint(
            f"none of the {len(candidates)} checkpoints in {directory} can be restored "
            f"({details})")
    return None, skipped


def describe_skipped(skipped: list[Skipped]) -> list[str]:
    """One message per skipped checkpoint."""
    return [f"Skipped {Path(s.candidate.prefix).name}: {s.reason}" for s in skipped]


def rewrite_list_file(directory: str | Path, restored: Candidate) -> None:
    """Make ``checkpoint`` list the complete checkpoints up to ``restored`` (which is latest).

    Newer, damaged checkpoints are left on disk but out of the list: the manager never deletes
    them; they are only ever overwritten by a good checkpoint of the same step.
    """
    import tensorflow as tf

    kept = [c.prefix for c in reversed(checkpoints_on_disk(directory))
            if c.step <= restored.step and Path(f"{c.prefix}.index").is_file()]
    tf.compat.v1.train.update_checkpoint_state(
        str(directory), restored.prefix, all_model_checkpoint_paths=kept)


_TEMPORARY = re.compile(rf"^{CHECKPOINT_NAME}-\d+_temp")


def remove_temporary(directory: str | Path) -> list[str]:
    """Delete the ``ckpt-<step>_temp*`` folders an interrupted save leaves (a save writes there
    first and renames when complete, so they never hold a usable checkpoint); their names."""
    import shutil

    directory = Path(directory)
    if not directory.is_dir():
        return []
    removed = []
    for path in sorted(directory.iterdir()):
        if _TEMPORARY.match(path.name):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path.name)
    return removed


def keep_newest(directory: str | Path, keep: int, newest_step: int) -> list[str]:
    """Retention over the whole folder: of the checkpoints at or below ``newest_step`` (the one
    just written), keep the newest ``keep`` and delete the rest, whichever session wrote them;
    the list file then names what is left. Newer, damaged leftovers are not counted (a good
    checkpoint of their step replaces them). Returns the deleted prefixes' names."""
    directory = Path(directory)
    older = [c for c in checkpoints_on_disk(directory) if c.step <= newest_step]
    deleted = []
    for candidate in older[keep:]:
        name = Path(candidate.prefix).name
        for path in directory.iterdir():
            match = _FILE.match(path.name)
            if match and int(match.group(1)) == candidate.step:
                path.unlink()
        deleted.append(name)
    kept = [c for c in older[:keep] if c.step == newest_step]
    if kept:
        rewrite_list_file(directory, kept[0])
    return deleted
