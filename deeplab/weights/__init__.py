"""Reading Google's official DeepLab releases: archives, checkpoints, frozen graphs, the registry
of official checkpoints and the download cache. See :mod:`deeplab.weights.sources`."""

from deeplab.weights.architecture import infer_config
from deeplab.weights.archive import DEFAULT_MAX_MEMBER_BYTES, extract_release
from deeplab.weights.checkpoint import read_checkpoint
from deeplab.weights.download import cache_dir, fetch_release
from deeplab.weights.errors import (
    ArchitectureError, ArchiveError, CheckpointError, ChecksumError, DownloadError,
    FrozenGraphError, OfflineError, UnknownSourceError, UnsafeArchiveError, WeightsError)
from deeplab.weights.frozen_graph import read_frozen_graph
from deeplab.weights.registry import OFFICIAL_RELEASES, REGISTRY, OfficialRelease, get_release
from deeplab.weights.sources import Release, is_training_run, load_release, resolve_model

__all__ = [
    "ArchitectureError", "ArchiveError", "CheckpointError", "ChecksumError",
    "DEFAULT_MAX_MEMBER_BYTES", "DownloadError", "FrozenGraphError", "OFFICIAL_RELEASES",
    "OfficialRelease", "OfflineError", "REGISTRY", "Release", "UnknownSourceError",
    "UnsafeArchiveError", "WeightsError", "cache_dir", "extract_release",
    "fetch_release", "get_release", "infer_config", "is_training_run", "load_release",
    "read_checkpoint", "read_frozen_graph", "resolve_model",
]
