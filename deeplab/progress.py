"""The one progress-bar helper: a tqdm bar on stderr, or a no-op stand-in when progress is off.

tqdm is imported only when a bar is shown (its import costs a CLI start about 0.1 s).
"""

from __future__ import annotations

from typing import Iterable

_shown = True


def show_bars(shown: bool) -> None:
    """Turn every bar of the process on or off (``--quiet``: :func:`deeplab.log.configure`)."""
    global _shown
    _shown = shown


class _NoProgress:
    """Stands in for a tqdm bar when progress is off: a context manager that ignores updates and
    iterates over what it wraps."""

    def __init__(self, iterable: Iterable | None = None):
        self._iterable = iterable if iterable is not None else ()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __iter__(self):
        return iter(self._iterable)

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, *args, **kwargs) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(iterable: Iterable | None = None, *, enabled: bool = True, **options):
    """A tqdm bar over ``iterable`` (or a manual one: ``total=``, ``.update(n)``), or a no-op one
    when ``enabled`` is False or the CLI was given ``--quiet``. ``options`` are tqdm's (``desc``,
    ``unit``, ``leave`` ...)."""
    if not (enabled and _shown):
        return _NoProgress(iterable)
    from tqdm import tqdm

    return tqdm(iterable, **options)
