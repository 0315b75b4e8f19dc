"""Output of the library: one ``logging`` logger per module, under the ``deeplab`` logger.

Library modules log with ``logging.getLogger(__name__)`` and never print. A CLI calls
:func:`configure` once after parsing its arguments: messages then reach the terminal (stderr)
as plain lines, at INFO by default, WARNING with ``--quiet`` (which also hides the progress
bars), DEBUG with ``--verbose``. Without
a CLI (the library imported by a program or a test), nothing is configured: Python shows
warnings and errors only, and the program's own logging settings apply.
"""

from __future__ import annotations

import argparse
import logging
import sys

from deeplab import progress

ROOT = "deeplab"


class _Terminal(logging.Handler):
    """Plain lines on whatever ``sys.stderr`` is at the time (tests and the noise filter swap
    it), written above any progress bar rather than through it."""

    def __init__(self):
        super().__init__()
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            tqdm = sys.modules.get("tqdm")  # a bar can be up only if tqdm was imported
            if tqdm is not None:
                tqdm.tqdm.write(text, file=sys.stderr)
            else:
                sys.stderr.write(text + "\n")
                sys.stderr.flush()
        except Exception:  # logging must never break the run
            self.handleError(record)


def level_for(quiet: bool = False, verbose: bool = False) -> int:
    """The level the ``--quiet`` / ``--verbose`` flags ask for (``verbose`` wins)."""
    if verbose:
        return logging.DEBUG
    return logging.WARNING if quiet else logging.INFO


def configure(quiet: bool = False, verbose: bool = False) -> logging.Logger:
    """Send the package's messages to stderr at the level the flags ask for (idempotent)."""
    logger = logging.getLogger(ROOT)
    for handler in [h for h in logger.handlers if isinstance(h, _Terminal)]:
        logger.removeHandler(handler)
    logger.addHandler(_Terminal())
    logger.setLevel(level_for(quiet, verbose))
    logger.propagate = False
    progress.show_bars(not quiet)
    return logger


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (no usage block), exit status 2: the
    same in every CLI."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def add_output_flags(parser) -> None:
    """``--quiet`` and ``--verbose`` on an ``argparse`` parser, with the same meaning in every
    CLI: fewer messages (warnings and errors only, no progress bars), or every message plus the
    framework's own log output."""
    parser.add_argument("--quiet", action="store_true",
                        help="warnings and errors only, no progress bars")
    parser.add_argument("--verbose", action="store_true",
                        help="more detail, and the framework's own log output (TensorFlow, "
                             "LiteRT, absl, CUDA notes)")


def parse_args(parser, argv: list[str] | None = None):
    """``parser``'s arguments with ``--quiet`` / ``--verbose`` added, the logging configured by
    them: what a command's ``main`` starts with."""
    add_output_flags(parser)
    args = parser.parse_args(argv)
    configure(quiet=args.quiet, verbose=args.verbose)
    return args
