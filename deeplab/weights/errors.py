"""Errors raised while reading, downloading or interpreting DeepLab weights.

Every error is a ``ValueError`` subclass with a one-line message that says what was wrong and what
was expected, so a CLI can print it as is.
"""

from __future__ import annotations


class WeightsError(ValueError):
    """Base class: a weights source could not be used."""


class ArchiveError(WeightsError):
    """A release archive is truncated, corrupt, or not a DeepLab release."""


class UnsafeArchiveError(ArchiveError):
    """An archive member could escape the extraction folder or is not a plain file."""


class CheckpointError(WeightsError):
    """A TF1 checkpoint could not be read."""


class FrozenGraphError(WeightsError):
    """A frozen inference graph could not be read or interpreted."""


class ArchitectureError(WeightsError):
    """The variable names and shapes do not describe a supported DeepLab network."""


class UnknownSourceError(WeightsError):
    """A weights source is neither a known release name nor a usable path."""


class DownloadError(WeightsError):
    """A download failed after its retries."""


class OfflineError(DownloadError):
    """The server could not be reached at all (no network, DNS failure, connection refused)."""


class ChecksumError(DownloadError):
    """A downloaded file's SHA-256 differs from the expected one."""
