"""The library behind ``infer.py``: inputs -> model -> matte -> composite -> files, robustly.

Inputs may be files, folders (searched recursively by extension), glob patterns and videos.
Photos are processed ``batch_size`` at a time (one network call per group of equal working size),
so memory stays bounded however many files there are. A file that cannot be read or rendered is
reported and skipped; the run goes on and ends with a summary and a non-zero exit status.
Outputs are written atomically and never replace an existing file (an input above all) unless
``overwrite`` is set.
"""

from __future__ import annotations

import glob
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence, TextIO

import cv2
import numpy as np

from deeplab.portrait.bokeh import BokehConfig
from deeplab.portrait.io import (IMAGE_EXTENSIONS, JPEG_EXTENSIONS, VIDEO_EXTENSIONS,
                                 UnreadableImageError, read_image, read_matte, write_image)
from deeplab.portrait.matte import MatteConfig
from deeplab.portrait.models import (DEFAULT_WEIGHTS, ProbabilityModel, load_probability_model,
                                     resolve_classes)
from deeplab.portrait.render import (PHOTO_INPUT_SIZE, VIDEO_INPUT_SIZE, RenderConfig, render,
                                     working_image)
from deeplab.portrait.video import output_video_extension, process_video

#: Errors that concern one input: reported, skipped, and the run goes on.
ITEM_ERRORS = (UnreadableImageError, ValueError, OSError, cv2.error)


@dataclass(frozen=True)
class PortraitOptions:
    """Everything ``infer.py`` can be asked to do (see its ``--help``)."""

    output_dir: Path
    mode: str = "blur"
    weights: str = DEFAULT_WEIGHTS
    classes: str = "person"
    blur_radius: float | None = None
    relative_blur_radius: float = BokehConfig.relative_radius
    depth_falloff: float = 0.0
    background: Path | None = None
    matte: Path | None = None
    save_matte: bool = False
    overwrite: bool = False
    batch_size: int = 4
    input_size: int = PHOTO_INPUT_SIZE
    video_input_size: int = VIDEO_INPUT_SIZE
    jpeg_quality: int = 95
    backend: str = "litert"
    precision: str = "float32"
    use_cache: bool = True
    matte_config: MatteConfig = field(default_factory=MatteConfig)

    def bokeh(self) -> BokehConfig:
        return BokehConfig(radius=self.blur_radius, relative_radius=self.relative_blur_radius,
                           depth_falloff=self.depth_falloff)


@dataclass(frozen=True)
class InputItem:
    """One input file and the output name it gets (relative to the output folder, no suffix)."""

    path: Path
    name: Path
    is_video: bool


@dataclass
class Summary:
    """What happened to every input."""

    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def report(self) -> str:
        lines = [f"portrait: {len(self.written)} written, {len(self.skipped)} skipped, "
                 f"{len(self.failed)} failed"]
        lines += [f"  skipped {path}: {why}" for path, why in self.skipped]
        lines += [f"  FAILED  {path}: {why}" for path, why in self.failed]
        return "\n".join(lines)


def _kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    return None


def expand_inputs(inputs: Sequence[str | Path]) -> list[InputItem]:
    """Files as given, folders recursively (images and videos by extension), glob patterns.

    Files found in a folder keep their sub-folder in the output name so that equal stems in
    different sub-folders do not collide. Raises ``FileNotFoundError`` for an input that matches
    nothing.
    """
    items: list[InputItem] = []
    seen: set[Path] = set()

    def add(path: Path, name: Path) -> None:
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            items.append(InputItem(path, name, _kind(path) == "video"))

    for entry in inputs:
        path = Path(entry)
        if path.is_dir():
            for found in sorted(p for p in path.rglob("*") if p.is_file() and _kind(p)):
                add(found, found.relative_to(path).with_suffix(""))
        elif path.is_file():
            add(path, Path(path.stem))  # explicit files are processed whatever their extension
        elif glob.has_magic(str(entry)):
            matches = sorted(Path(m) for m in glob.glob(str(entry), recursive=True))
            matches = [m for m in matches if m.is_file() and _kind(m)]
            if not matches:
                raise FileNotFoundError(f"no image or video matches {entry!r}")
            for found in matches:
                add(found, Path(found.stem))
        else:
            raise FileNotFoundError(f"input not found: {entry}")
    return items


def output_suffix(mode: str, input_path: Path, is_video: bool) -> str:
    """JPEG in -> JPEG out; PNG for cutouts, mattes and every other image format."""
    if is_video:
        return output_video_extension(input_path.suffix)
    if mode in ("cutout", "matte"):
        return ".png"
    suffix = input_path.suffix.lower()
    return suffix if suffix in JPEG_EXTENSIONS else ".png"


class _NoProgress:
    """Stands in for a tqdm bar when progress is off (tqdm's import costs a CLI start ~0.1 s)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n: int = 1) -> None:
        pass


def progress_bar(enabled: bool, **options):
    """A tqdm progress bar, or a no-op one when ``enabled`` is False."""
    if not enabled:
        return _NoProgress()
    from tqdm import tqdm

    return tqdm(**options)


class PortraitRunner:
    """Runs portrait mode over many inputs with one model; ``run`` returns a ``Summary``."""

    def __init__(self, options: PortraitOptions, model: ProbabilityModel | None = None,
                 progress: bool = True, log: TextIO | None = None):
        self.options = options
        self._model = model
        self.progress = progress
        self.log = log if log is not None else sys.stderr
        self._background = None
        if options.mode == "replace":
            if options.background is None:
                raise ValueError("mode 'replace' needs --background IMG")
            self._background = read_image(options.background).rgb
        if options.batch_size < 1:
            raise ValueError("batch size must be >= 1")
        self._config: RenderConfig | None = None

    # -- model and configuration, loaded only when an input needs the network --------------
    @property
    def model(self) -> ProbabilityModel:
        if self._model is None:
            self._model = load_probability_model(
                self.options.weights, backend=self.options.backend,
                input_size=self.options.input_size, precision=self.options.precision,
                use_cache=self.options.use_cache, log=self.log)
        return self._model

    def photo_input_size(self) -> int:
        """The longer side fed to the network: a fixed-size network (a ``.tflite``) decides."""
        if not self._need_model:
            return self.options.input_size
        return int(getattr(self.model, "crop_size", None) or self.options.input_size)

    def config(self, need_model: bool) -> RenderConfig:
        if self._config is None:
            classes = (resolve_classes(self.model.class_names, self.options.classes)
                       if need_model else (1,))
            self._config = RenderConfig(mode=self.options.mode, subject_classes=classes,
                                        matte=self.options.matte_config,
                                        bokeh=self.options.bokeh(), background=self._background)
        return self._config

    def _matte_path(self, item: InputItem, single_input: bool) -> Path | None:
        given = self.options.matte
        if given is None:
            return None
        if given.is_dir():
            for suffix in (".png", ".PNG", ".jpg", ".tif", ".tiff", ".bmp", ".webp"):
                candidate = given / item.name.with_suffix(suffix)
                if candidate.is_file():
                    return candidate
                candidate = given / f"{item.path.stem}{suffix}"
                if candidate.is_file():
                    return candidate
            raise FileNotFoundError(f"no matte {item.path.stem}.png in {given}")
        if not single_input:
            raise ValueError("--matte FILE works with a single input; give a folder of "
                             "<stem>.png mattes for several inputs")
        return given

    # -- the run ------------------------------------------------------------------------
    def run(self, inputs: Sequence[str | Path]) -> Summary:
        items = expand_inputs(inputs)
        summary = Summary()
        if not items:
            return summary
        self._need_model = self.options.matte is None
        self._single = len(items) == 1
        self._targets: set[Path] = set()
        photos = [item for item in items if not item.is_video]
        videos = [item for item in items if item.is_video]
        with progress_bar(self.progress, total=len(items), unit="file", desc="portrait") as bar:
            for start in range(0, len(photos), self.options.batch_size):
                self._run_photo_batch(photos[start:start + self.options.batch_size], summary)
                bar.update(len(photos[start:start + self.options.batch_size]))
            for item in videos:
                self._run_video(item, summary)
                bar.update(1)
        return summary

    def _destination(self, item: InputItem, summary: Summary) -> Path | None:
        """The output path, or None (recorded as skipped/failed) when it must not be written."""
        suffix = output_suffix(self.options.mode, item.path, item.is_video)
        target = self.options.output_dir / item.name.with_suffix(suffix)
        resolved = target.resolve()
        if resolved in self._targets:
            summary.failed.append((item.path, f"output name collides with another input: "
                                              f"{target}"))
            return None
        self._targets.add(resolved)
        if target.exists() and not self.options.overwrite:
            is_input = resolved == item.path.resolve()
            why = ("output would overwrite the input" if is_input else "output exists")
            summary.skipped.append((item.path, f"{why} ({target}); use --overwrite"))
            return None
        return target

    def _fail(self, summary: Summary, path: Path, error: BaseException) -> None:
        message = str(error) or type(error).__name__
        summary.failed.append((path, message))
        print(f"error: {path}: {message}", file=self.log)

    def _run_photo_batch(self, batch: list[InputItem], summary: Summary) -> None:
        loaded = []
        try:
            input_size = self.photo_input_size()
        except ITEM_ERRORS as error:  # the model cannot be loaded
            for item in batch:
                if self._destination(item, summary) is not None:
                    self._fail(summary, item.path, error)
            return
        for item in batch:
            target = self._destination(item, summary)
            if target is None:
                continue
            try:
                photo = read_image(item.path)
                matte_path = self._matte_path(item, self._single)
                matte = None if matte_path is None else read_matte(
                    matte_path, (photo.height, photo.width))
                working = working_image(photo.rgb, input_size)
                loaded.append((item, target, photo, matte, working))
            except ITEM_ERRORS as error:
                self._fail(summary, item.path, error)
        if not loaded:
            return
        try:
            config = self.config(self._need_model)
        except ITEM_ERRORS as error:  # the model cannot be loaded or the classes are wrong
            for item, *_ in loaded:
                self._fail(summary, item.path, error)
            return
        probabilities: dict[int, np.ndarray] = {}
        need = [i for i, entry in enumerate(loaded) if entry[3] is None or self._need_model]
        groups: dict[tuple, list[int]] = {}
        for i in need:
            groups.setdefault(loaded[i][4].image.shape, []).append(i)
        for indices in groups.values():
            try:
                batch_probabilities = self.model.probabilities(
                    np.stack([loaded[i][4].image for i in indices]))
            except Exception as error:  # a failing network call fails these inputs, not the run
                for i in indices:
                    self._fail(summary, loaded[i][0].path, error)
                continue
            for i, probs in zip(indices, batch_probabilities):
                probabilities[i] = probs
        for i, (item, target, photo, matte, working) in enumerate(loaded):
            if matte is None and i not in probabilities:
                continue  # already reported
            try:
                rendered = render(photo.rgb, config, probabilities=probabilities.get(i),
                                  matte=matte, input_alpha=photo.alpha, working=working)
                write_image(target, rendered.image, self.options.jpeg_quality)
                summary.written.append(target)
                if self.options.save_matte:
                    matte_target = target.with_name(f"{target.stem}_matte.png")
                    write_image(matte_target, rendered.matte8)
                    summary.written.append(matte_target)
            except ITEM_ERRORS as error:
                self._fail(summary, item.path, error)
            except Exception as error:  # unexpected: keep the traceback, go on with the rest
                traceback.print_exc(file=self.log)
                self._fail(summary, item.path, error)

    def _run_video(self, item: InputItem, summary: Summary) -> None:
        target = self._destination(item, summary)
        if target is None:
            return
        try:
            if self.options.matte is not None:
                raise ValueError("--matte is not supported for videos")
            config = self.config(True)
            model = self.model
            resize = getattr(model, "for_input_size", None)
            if resize is not None:
                model = resize(self.options.video_input_size)
            input_size = int(getattr(model, "crop_size", None) or self.options.video_input_size)
            from deeplab.portrait.video import video_info

            total = video_info(item.path).frame_count or None
            with progress_bar(self.progress, total=total, unit="frame", leave=False,
                              desc=item.path.name) as bar:
                process_video(item.path, target, model, config,
                              input_size=input_size,
                              batch_size=self.options.batch_size, on_frames=bar.update)
            summary.written.append(target)
        except ITEM_ERRORS as error:
            self._fail(summary, item.path, error)
        except Exception as error:  # unexpected: keep the traceback for the bug report
            traceback.print_exc(file=self.log)
            self._fail(summary, item.path, error)


def run_portrait(inputs: Iterable[str | Path], options: PortraitOptions,
                 model: ProbabilityModel | None = None, progress: bool = True) -> Summary:
    """Run portrait mode over ``inputs`` (see ``PortraitRunner``)."""
    return PortraitRunner(options, model=model, progress=progress).run(list(inputs))
