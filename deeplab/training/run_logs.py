"""The run folder's JSON-lines logs (``history.jsonl``, ``eval.jsonl``) kept consistent on resume.

A run killed after logging step 14 but checkpointed at step 12 logs steps 13-14 again when it
resumes from 12; a kill mid-write leaves half a line. :func:`prune_after` keeps one record per
step up to the resumed step (the last one written for that step) and drops broken lines, so the
history reads as one run. :func:`move_aside` keeps the files of an abandoned run under a dated
name instead of deleting them. Standard library only.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from deeplab.atomic import write_text_atomic


def read_records(path: str | os.PathLike) -> list[dict]:
    """The JSON object lines of ``path`` (broken lines skipped; missing file: none)."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int):
            records.append(record)
    return records


def prune_after(path: str | os.PathLike, step: int) -> int:
    """Rewrite ``path`` with one record per step ``<= step``, in step order; returns the number
    of lines dropped (0: the file is left untouched)."""
    path = Path(path)
    if not path.is_file():
        return 0
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    by_step: dict[int, dict] = {}
    for record in read_records(path):
        if record["step"] <= step:
            by_step[record["step"]] = record
    kept = [json.dumps(by_step[s]) for s in sorted(by_step)]
    dropped = len([line for line in lines if line.strip()]) - len(kept)
    if dropped:
        write_text_atomic(path, "".join(line + "\n" for line in kept))
    return dropped


def aside_name(path: Path, stamp: str | None = None) -> Path:
    """``<name>.before-restart-<UTC time>`` beside ``path`` (a new name, never an existing one)."""
    stamp = stamp or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    candidate = path.with_name(f"{path.name}.before-restart-{stamp}")
    index = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.before-restart-{stamp}-{index}")
        index += 1
    return candidate


def move_aside(paths: list[Path]) -> list[tuple[Path, Path]]:
    """Rename each existing path to its :func:`aside_name`; returns (old, new) pairs."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    moved = []
    for path in paths:
        if path.exists():
            target = aside_name(path, stamp)
            os.replace(path, target)
            moved.append((path, target))
    return moved
