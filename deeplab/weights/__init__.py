"""Every weights source: Google's official releases (archives, checkpoints, frozen graphs,
TFLite files), the registry and download cache, bundled models and training run folders.
:mod:`deeplab.weights.sources` resolves any of them."""

from deeplab.weights.architecture import infer_config
from deeplab.weights.archive import DEFAULT_MAX_MEMBER_BYTES, extract_release
from deeplab.weights.checkpoint import read_checkpoint
from deeplab.weights.download import cache_dir, fetch_release
from deeplab.weights.errors import (
    ArchitectureError, ArchiveError, CheckpointError, ChecksumError, DownloadError,
    FrozenGraphError, OfflineError, UnknownSourceError, UnsafeArchiveError, WeightsError)
from deeplab.weights.frozen_graph import read_frozen_graph
from deeplab.weights.registry import OFFICIAL_RELEASES, REGISTRY, OfficialRelease, get_release
from deeplab.weights.run_folder import is_run_folder, is_training_run, load_run_model
from deeplab.weights.sources import Release, load_release, resolve_model

__all__ = [
    "ArchitectureError", "ArchiveError", "CheckpointError", "ChecksumError",
    "DEFAULT_MAX_MEMBER_BYTES", "DownloadError", "FrozenGraphError", "OFFICIAL_RELEASES",
    "OfficialRelease", "OfflineError", "REGISTRY", "Release", "UnknownSourceError",
    "UnsafeArchiveError", "WeightsError", "cache_dir", "extract_release",
    "fetch_release", "get_release", "infer_config", "is_run_folder", "is_training_run", "load_release",
    "load_run_model",
    "read_checkpoint", "read_frozen_graph", "resolve_model",
]
