"""The library behind ``infer.py``: inputs -> model -> matte -> composite -> files, robustly.

Inputs may be files, folders (searched recursively by extension), glob patterns and videos.
Photos are processed in batches of at most ``batch_size`` files and ``batch_pixels`` pixels (one
network call per group of equal working size), so memory stays bounded however many and however
large the files are. A file that cannot be read or rendered is reported once, in the summary,
and skipped; the run goes on and ends with a non-zero exit status. Outputs are written
atomically and never replace an existing file (an input above all) unless ``overwrite`` is set:
an output whose name is taken is written under the next free numbered name (``a-1.jpg``) or
skipped, as ``if_exists`` says, and the summary counts them. The name is claimed when the
finished file is published, so concurrent runs cannot clobber each other. A photo with an alpha
channel keeps it, or is flattened onto white, as ``alpha`` says (``transparency``). A photo or
video without a subject is handled as ``if_empty`` says (see ``deeplab.portrait.presence``) and
named in the summary.
"""

from __future__ import annotations

import glob
import itertools
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import cv2
import numpy as np

from deeplab.portrait.bokeh import BokehConfig
from deeplab.image_files import IMAGE_SUFFIXES, JPEG_SUFFIXES, MAX_PIXELS, ImageTooLargeError
from deeplab.portrait.io import (VIDEO_SUFFIXES, UnreadableImageError, read_photo, read_matte,
                                 write_image)
from deeplab.portrait.matte import MatteConfig
from deeplab.portrait.models import (DEFAULT_WEIGHTS, FAST_WEIGHTS, ProbabilityModel,
                                     load_probability_model, resolve_classes, video_weights_for)
from deeplab.portrait.presence import KEPT_MODES, check_if_empty, has_subject, keeps_photo
from deeplab.portrait.quiet import native_stderr_captured
from deeplab.portrait.transparency import (attach_alpha, carries_alpha, check_alpha_choice,
                                           fill_hidden, flatten)
from deeplab.portrait.render import (PHOTO_INPUT_SIZE, VIDEO_INPUT_SIZE, RenderConfig, render,
                                     working_image)
from deeplab.portrait.video import NoSubjectInVideo, output_video_extension, process_video
from deeplab.progress import progress_bar

#: Errors that concern one input: reported, skipped, and the run goes on.
ITEM_ERRORS = (UnreadableImageError, ValueError, OSError, cv2.error)
#: Default pixel budgets: an image or video frame larger than MAX_PIXELS is refused before
#: decoding; a batch of photos holds at most BATCH_PIXELS at once (a 100-MP photo goes alone).
BATCH_PIXELS = 50_000_000
#: The names a matte in a --matte folder may have, after its photo's stem (PNG first).
MATTE_SUFFIXES = (".png", ".PNG", *(s for s in IMAGE_SUFFIXES if s != ".png"))
#: What to do when an output's name is taken (``overwrite`` replaces it instead): write the
#: next free numbered name (``a-1.jpg``: a rerun with other options always shows its result and
#: never touches the first), or skip the input (resuming an interrupted batch).
IF_EXISTS_CHOICES = ("number", "skip")
#: Numbered names tried before giving up on an input (``a-1`` .. ``a-999``).
MAX_NUMBERED = 999

logger = logging.getLogger(__name__)


class ModelUnavailableError(RuntimeError):
    """The weights cannot be loaded: every input would fail the same way, so the run stops."""


@dataclass(frozen=True)
class PortraitOptions:
    """Everything ``infer.py`` can be asked to do (see its ``--help``)."""

    output_dir: Path
    mode: str = "blur"
    weights: str = DEFAULT_WEIGHTS
    video_weights: str | None = None  # None: see deeplab.portrait.models.video_weights_for
    classes: str = "person"
    subjects: str = "main"
    keep_held: bool = False
    blur_radius: float | None = None
    relative_blur_radius: float = BokehConfig.relative_radius
    depth_falloff: float = 0.0
    background: Path | None = None
    matte: Path | None = None
    save_matte: bool = False
    overwrite: bool = False
    if_exists: str = "number"
    alpha: str = "keep"
    batch_size: int = 4
    batch_pixels: int = BATCH_PIXELS
    max_pixels: int | None = MAX_PIXELS
    input_size: int = PHOTO_INPUT_SIZE
    video_input_size: int | None = None  # None: the video model's own size, else 225
    jpeg_quality: int = 95
    backend: str = "litert"
    precision: str = "float32"
    use_cache: bool = True
    flip: bool = False
    object_veto: bool = True  # the default photo model asks the fast model (deeplab.portrait.veto)
    if_empty: str = "keep"
    video_codec: str | None = None
    crf: int | None = None
    verbose: bool = False
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
    #: Inputs without a subject (written as ``if_empty`` says): (input, what was done).
    empty: list[tuple[Path, str]] = field(default_factory=list)
    #: Outputs written under a numbered name because theirs was taken: (taken, written).
    numbered: list[tuple[Path, Path]] = field(default_factory=list)
    #: Inputs skipped because their output exists (``if_exists="skip"``; also in ``skipped``):
    #: (input, output).
    existing: list[tuple[Path, Path]] = field(default_factory=list)
    #: Photos with transparency: (input, what was done with their alpha).
    transparent: list[tuple[Path, str]] = field(default_factory=list)
    #: Files in input folders that are neither images nor videos this program reads.
    ignored: list[Path] = field(default_factory=list)
    #: Inputs not started because the run was interrupted (Ctrl-C).
    not_started: int = 0
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.failed else 0

    def report(self) -> str:
        lines = [f"portrait: {len(self.written)} written, {len(self.skipped)} skipped, "
                 f"{len(self.failed)} failed"]
        if self.interrupted:
            lines[0] += f"; interrupted, {self.not_started} not started"
        lines += [f"  {what}" for _, what in self.empty]
        written = set(self.written)
        numbered = [(taken, name) for taken, name in self.numbered if name in written]
        if numbered:
            taken, name = numbered[0]
            lines.append(f"  {len(numbered)} output name(s) were taken (e.g. {taken}): "
                         f"written as numbered copies (e.g. {name}); --overwrite to replace "
                         "them, --if-exists skip to skip them")
        if self.existing:
            lines.append(f"  {len(self.existing)} skipped because the output exists (e.g. "
                         f"{self.existing[0][1]}); --overwrite to replace them, --if-exists "
                         "number for numbered copies")
        for what in dict.fromkeys(what for _, what in self.transparent):
            count = sum(1 for _, done in self.transparent if done == what)
            lines.append(f"  {count} photo(s) with transparency: {what}")
        if self.ignored:
            kinds = sorted({p.suffix.lower() or p.name for p in self.ignored})
            lines.append(f"  {len(self.ignored)} file(s) in the input folders are not images or "
                         f"videos this program reads ({', '.join(kinds[:5])}"
                         f"{', ...' if len(kinds) > 5 else ''}): not processed")
        existing = {path for path, _ in self.existing}
        lines += [f"  skipped {path}: {why}" for path, why in self.skipped
                  if path not in existing]
        lines += [f"  FAILED  {path}: {why}" for path, why in self.failed]
        return "\n".join(lines)


def _kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return None


def _hidden(path: Path, root: Path) -> bool:
    """A dot-file or a file in a dot-folder below ``root`` (temp files of interrupted runs are
    dot-files: ``.<name>.tmp-*``)."""
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _inside(path: Path, folder: Path | None) -> bool:
    return folder is not None and path.resolve().is_relative_to(folder)


def _excluded_below(root: Path, excluded: Path | None) -> Path | None:
    """``excluded`` (the output folder) when it lies strictly inside the searched ``root``, so its
    files are not read back as inputs; None when it is ``root`` itself or above it (``--output
    .`` over ``photos/``): then every file below ``root`` is an input."""
    if excluded is None:
        return None
    root = root.resolve()
    return excluded if excluded != root and excluded.is_relative_to(root) else None


def _files_below(root: Path, unreadable: list[tuple[Path, str]]) -> list[Path]:
    """Every file below ``root``, recursively, sorted; folders that cannot be listed are added
    to ``unreadable`` with the reason (not skipped silently)."""
    found: list[Path] = []

    def failed(error: OSError) -> None:
        unreadable.append((Path(error.filename or root),
                           f"cannot read the folder: {error.strerror or error}"))

    for folder, _, names in os.walk(root, onerror=failed):
        found += [Path(folder) / name for name in names]
    return sorted(p for p in found if p.is_file())


def _glob_root(pattern: str) -> Path:
    """The folder a glob pattern searches: its longest leading part without wildcards."""
    parts = Path(pattern).parts
    fixed = [part for part in itertools.takewhile(lambda part: not glob.has_magic(part), parts)]
    return Path(*fixed) if fixed else Path(".")


@dataclass
class FoundInputs:
    """What the inputs expand to: the files, folders that could not be searched, and the
    files folders hold that are neither images nor videos (not processed)."""

    items: list[InputItem]
    unreadable: list[tuple[Path, str]]
    ignored: list[Path] = field(default_factory=list)


def find_inputs(inputs: Sequence[str | Path], exclude: Path | None = None) -> FoundInputs:
    """Files as given, folders recursively (images and videos by extension), glob patterns.

    Files found in a folder keep their sub-folder in the output name so that equal stems in
    different sub-folders do not collide. Folders and patterns never yield hidden files (among
    them the temp files of an interrupted run) nor anything under ``exclude`` (the output
    folder) when it lies inside the searched folder. Raises ``FileNotFoundError`` for an input
    that matches nothing, and for a folder without any image or video. Files a folder or a
    pattern holds that are neither (by suffix: the one list, ``image_files.IMAGE_SUFFIXES``)
    are listed in ``ignored``, so that the summary can say so.
    """
    items: list[InputItem] = []
    unreadable: list[tuple[Path, str]] = []
    ignored: list[Path] = []
    seen: set[Path] = set()
    excluded = exclude.resolve() if exclude is not None else None

    def add(path: Path, name: Path) -> None:
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            items.append(InputItem(path, name, _kind(path) == "video"))

    for entry in inputs:
        path = Path(entry)
        if path.is_dir():
            skip = _excluded_below(path, excluded)
            problems = len(unreadable)
            files = [p for p in _files_below(path, unreadable)
                     if not _hidden(p, path) and not _inside(p, skip)]
            found = [p for p in files if _kind(p)]
            ignored += [p for p in files if not _kind(p)]
            if not found and len(unreadable) == problems:
                raise FileNotFoundError(
                    f"no image or video in folder {entry} (looked for "
                    f"{', '.join(IMAGE_SUFFIXES + VIDEO_SUFFIXES)}"
                    + (", outside the output folder)" if skip is not None else ")"))
            for item in found:
                add(item, item.relative_to(path).with_suffix(""))
        elif path.is_file():
            add(path, Path(path.stem))  # explicit files are processed whatever their extension
        elif glob.has_magic(str(entry)):
            skip = _excluded_below(_glob_root(str(entry)), excluded)
            matches = sorted(Path(m) for m in glob.glob(str(entry), recursive=True))
            matches = [m for m in matches if m.is_file() and not m.name.startswith(".")
                       and not _inside(m, skip)]
            ignored += [m for m in matches if not _kind(m)]
            matches = [m for m in matches if _kind(m)]
            if not matches:
                raise FileNotFoundError(f"no image or video matches {entry!r}")
            for found_path in matches:
                add(found_path, Path(found_path.stem))
        else:
            raise FileNotFoundError(f"input not found: {entry}")
    return FoundInputs(items, unreadable, ignored)


def expand_inputs(inputs: Sequence[str | Path], exclude: Path | None = None,
                  ignored: list[Path] | None = None) -> list[InputItem]:
    """The input files of :func:`find_inputs` (unreadable folders left out); the files it
    ignores are appended to ``ignored`` when given."""
    found = find_inputs(inputs, exclude)
    if ignored is not None:
        ignored += found.ignored
    return found.items


def output_suffix(mode: str, input_path: Path, is_video: bool) -> str:
    """JPEG in -> JPEG out; PNG for cutouts, mattes and every other image format."""
    if is_video:
        return output_video_extension(input_path.suffix)
    if mode in ("cutout", "matte"):
        return ".png"
    suffix = input_path.suffix.lower()
    return suffix if suffix in JPEG_SUFFIXES else ".png"


def output_target(options: PortraitOptions, item: InputItem) -> Path:
    """Where ``item``'s result goes: the output folder, its name, the mode's suffix."""
    suffix = output_suffix(options.mode, item.path, item.is_video)
    return options.output_dir / item.name.with_suffix(suffix)


def matte_target(target: Path) -> Path:
    """Where ``--save-matte`` writes the matte of the output ``target``."""
    return target.with_name(f"{target.stem}_matte.png")


def existing_output(options: PortraitOptions, item: InputItem, target: Path) -> str | None:
    """Why ``item`` must not be written to ``target`` (it, or its matte, exists and
    ``overwrite`` is off), or None: a re-run skips what an earlier run finished."""
    if options.overwrite:
        return None
    if target.exists():
        is_input = target.resolve() == item.path.resolve()
        why = "output would overwrite the input" if is_input else "output exists"
        return f"{why} ({target}); use --overwrite"
    if options.save_matte and not item.is_video and matte_target(target).exists():
        return f"matte output exists ({matte_target(target)}); use --overwrite"
    return None


def prepare_alpha(options: PortraitOptions, photo, target: Path) -> str | None:
    """Keep a transparent photo's alpha for the output ``target`` (its hidden colours filled),
    or flatten it onto white as ``alpha`` asks or when the output format cannot store it; in
    place, before the network sees the photo. What was done, or None for an opaque photo.
    ``infer.py`` and the Beam job (``deeplab.portrait.beam``) both call it, so both write the
    same bytes."""
    if photo.alpha is None:
        return None
    if options.alpha == "keep" and carries_alpha(target.suffix):
        photo.rgb = fill_hidden(photo.rgb, photo.alpha)
        return "alpha kept in the output (--alpha flatten puts them on white instead)"
    photo.rgb = flatten(photo.rgb, photo.alpha)
    photo.alpha = None
    return ("flattened onto white (--alpha flatten)" if options.alpha == "flatten"
            else f"flattened onto white ({target.suffix} output cannot store alpha)")


def photo_batches(photos: list[InputItem], batch_size: int, batch_pixels: int
                  ) -> list[list[InputItem]]:
    """Consecutive groups of at most ``batch_size`` photos and ``batch_pixels`` pixels (by the
    file headers; a photo over the budget forms a batch of its own)."""
    from deeplab.image_files import header_size

    batches: list[list[InputItem]] = []
    current: list[InputItem] = []
    pixels = 0
    for item in photos:
        size = header_size(item.path)
        count = size[0] * size[1] if size else 0
        if current and (len(current) >= batch_size or pixels + count > batch_pixels):
            batches.append(current)
            current, pixels = [], 0
        current.append(item)
        pixels += count
    if current:
        batches.append(current)
    return batches


def no_subject_note(path: Path, classes: str, what: str) -> str:
    subject = "person" if classes.strip().lower() == "person" else f"subject ({classes})"
    return f"no {subject} found in {path}: {what}"


class PortraitRunner:
    """Runs portrait mode over many inputs with one model; ``run`` returns a ``Summary``.

    ``should_stop()`` is asked between files (the CLI's Ctrl-C handler): when it says yes, the
    run ends after the current file and the summary says how many inputs were not started.
    """

    def __init__(self, options: PortraitOptions, model: ProbabilityModel | None = None,
                 progress: bool = True,
                 should_stop: Callable[[], bool] | None = None):
        self.options = options
        self._model = model
        self.progress = progress
        self.should_stop = should_stop or (lambda: False)
        self._background = None
        check_if_empty(options.if_empty)
        check_alpha_choice(options.alpha)
        if options.if_exists not in IF_EXISTS_CHOICES:
            raise ValueError(f"unknown if_exists {options.if_exists!r}; choose one of "
                             f"{IF_EXISTS_CHOICES}")
        if options.batch_size < 1:
            raise ValueError("batch size must be >= 1")
        if options.mode == "replace":
            if options.background is None:
                raise ValueError("mode 'replace' needs --background IMG")
            self._background = read_photo(options.background, max_pixels=options.max_pixels).rgb
        self._config: RenderConfig | None = None
        self._targets: set[Path] = set()  # the output names this run claimed
        self._video_model: ProbabilityModel | None = None
        self._model_given = model is not None
        self._loaded: dict[str, ProbabilityModel] = {}
        self._need_model = options.matte is None

    # -- model and configuration, loaded only when an input needs the network --------------
    def _quietly(self, load: Callable[[], ProbabilityModel], what: str) -> ProbabilityModel:
        """Load a network with native log lines hidden (unless ``verbose``; the loader's own log
        records still show). A failure stops the run with one message."""
        try:
            with native_stderr_captured(not self.options.verbose):
                return load()
        except (ImportError, RuntimeError, *ITEM_ERRORS) as error:
            message = str(error) or type(error).__name__
            raise ModelUnavailableError(f"cannot load {what}: {message}") from error

    def _load(self, weights: str) -> ProbabilityModel:
        if weights in self._loaded:
            return self._loaded[weights]
        model = self._quietly(lambda: load_probability_model(
            weights, backend=self.options.backend, input_size=self.options.input_size,
            precision=self.options.precision, use_cache=self.options.use_cache),
            f"weights {weights}")
        self._loaded[weights] = model
        return model

    def _photo_model(self, weights: str) -> ProbabilityModel:
        model = self._load(weights)
        if self.options.object_veto and weights == DEFAULT_WEIGHTS:
            from deeplab.portrait.veto import ObjectVeto

            model = ObjectVeto(model, self._load(FAST_WEIGHTS))
        if self.options.flip:
            from deeplab.portrait.test_time import FlipAveraged

            model = FlipAveraged(model)
        return model

    @property
    def model(self) -> ProbabilityModel:
        if self._model is None:
            self._model = self._photo_model(self.options.weights)
        return self._model

    @property
    def video_weights(self) -> str:
        return video_weights_for(self.options.weights, self.options.video_weights)

    def _video_base_model(self) -> ProbabilityModel:
        if self._video_model is None:
            given = self._model_given and not self.options.video_weights  # a caller's model
            same = given or self.video_weights == str(self.options.weights)
            self._video_model = self.model if same else self._load(self.video_weights)
            if self.options.flip and not same:
                from deeplab.portrait.test_time import FlipAveraged

                self._video_model = FlipAveraged(self._video_model)
        return self._video_model

    def video_model(self) -> tuple[ProbabilityModel, int]:
        """The model for video frames at its working size: ``--video-input-size``, else the
        size a bundled fast network was built for, else ``VIDEO_INPUT_SIZE``."""
        model = self._video_base_model()
        size = (self.options.video_input_size or getattr(model, "preferred_size", None)
                or VIDEO_INPUT_SIZE)
        resize = getattr(model, "for_input_size", None)
        if resize is not None:
            model = self._quietly(lambda: resize(size),
                                  f"weights {self.video_weights} at {size} px")
        return model, int(getattr(model, "crop_size", None) or size)

    def photo_input_size(self) -> int:
        """The longer side fed to the network: a fixed-size network (a ``.tflite``) decides."""
        if not self._need_model:
            return self.options.input_size
        return int(getattr(self.model, "crop_size", None) or self.options.input_size)

    def config(self) -> RenderConfig:
        """How photos are rendered (subject classes named in the photo model's labels);
        ``ValueError`` when ``--classes`` names a class the model lacks (wrong for every input,
        so :meth:`run` asks once, before the first file)."""
        if self._config is None:
            classes = (1,)
            if self._need_model:
                try:
                    classes = resolve_classes(self.model.class_names, self.options.classes)
                except ValueError as error:
                    raise ValueError(f"--classes {self.options.classes}: {error}") from None
            self._config = self._render_config(classes)
        return self._config

    def render_config(self, class_names: Sequence[str]) -> RenderConfig:
        """How photos are rendered by a network with these class names (the engines that run
        the network themselves, e.g. ``deeplab.portrait.beam``, know only its names)."""
        return self._render_config(resolve_classes(class_names, self.options.classes))

    def _render_config(self, classes: tuple[int, ...]) -> RenderConfig:
        return RenderConfig(mode=self.options.mode, subject_classes=classes,
                            subjects=self.options.subjects, keep_held=self.options.keep_held,
                            matte=self.options.matte_config,
                            bokeh=self.options.bokeh(), background=self._background)

    def _matte_path(self, item: InputItem, single_input: bool) -> Path | None:
        given = self.options.matte
        if given is None:
            return None
        if given.is_dir():
            for suffix in MATTE_SUFFIXES:
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
        found = find_inputs(inputs, exclude=self.options.output_dir)
        items = found.items
        summary = Summary()
        summary.failed += found.unreadable
        summary.ignored += found.ignored
        if not items:
            return summary
        self._single = len(items) == 1
        self._targets: set[Path] = set()
        photos = [item for item in items if not item.is_video]
        videos = [item for item in items if item.is_video]
        self._check_models(bool(photos), bool(videos))
        work: list[tuple[str, list[InputItem]]] = [
            ("photos", batch) for batch in photo_batches(photos, self.options.batch_size,
                                                         self.options.batch_pixels)]
        work += [("video", [item]) for item in videos]
        with progress_bar(enabled=self.progress, total=len(items), unit="file",
                          desc="portrait") as bar:
            for done, (kind, batch) in enumerate(work):
                if self.should_stop():
                    summary.interrupted = True
                    summary.not_started = sum(len(b) for _, b in work[done:])
                    break
                if kind == "photos":
                    self._run_photo_batch(batch, summary)
                else:
                    self._run_video(batch[0], summary)
                bar.update(len(batch))
        return summary

    def _check_models(self, photos: bool, videos: bool) -> None:
        """Once, before any file: the models the inputs need load (or the run stops) and know
        the ``--classes`` asked for (``ValueError`` otherwise, not one failure per file)."""
        if photos:
            self.config()
        if videos and self._need_model:
            try:
                resolve_classes(self._video_base_model().class_names, self.options.classes)
            except ValueError as error:
                raise ValueError(f"--classes {self.options.classes}: {error} (video model "
                                 f"{self.video_weights})") from None

    def _destination(self, item: InputItem, summary: Summary) -> Path | None:
        """The output path, or None (recorded as skipped/failed) when it must not be written."""
        target = output_target(self.options, item)
        numbering = not self.options.overwrite and self.options.if_exists == "number"
        with_matte = self.options.save_matte and not item.is_video
        if numbering and not self._free(target, with_matte):
            numbered = self._next_free(target, with_matte)
            if numbered is None:
                summary.failed.append((item.path, f"{target} and its numbered names up to "
                                                  f"-{MAX_NUMBERED} are taken"))
                return None
            summary.numbered.append((target, numbered))
            target = numbered
        resolved = target.resolve()
        if resolved in self._targets:
            summary.failed.append((item.path, f"output name collides with another input: "
                                              f"{target}"))
            return None
        self._targets.add(resolved)
        why = existing_output(self.options, item, target)
        if why is not None:
            if target.exists() and resolved != item.path.resolve():
                summary.existing.append((item.path, target))
            summary.skipped.append((item.path, why))
            return None
        return target

    def _free(self, target: Path, with_matte: bool) -> bool:
        """No file has this output name (nor its matte's, ``with_matte``) and no input of this
        run claimed it."""
        if target.exists() or target.resolve() in self._targets:
            return False
        return not (with_matte and self._matte_target(target).exists())

    def _next_free(self, target: Path, with_matte: bool) -> Path | None:
        """``<stem>-<n><suffix>`` for the smallest free n, None when all up to the limit are
        taken."""
        for n in range(1, MAX_NUMBERED + 1):
            candidate = target.with_name(f"{target.stem}-{n}{target.suffix}")
            if self._free(candidate, with_matte):
                return candidate
        return None

    @staticmethod
    def _matte_target(target: Path) -> Path:
        return matte_target(target)

    def _fail(self, summary: Summary, path: Path, error: BaseException) -> None:
        """Record a failed input (reported once, in the summary)."""
        why = str(error) or type(error).__name__
        if isinstance(error, ImageTooLargeError):
            why += " (raise it with --max-megapixels)"
        summary.failed.append((path, why))

    def _write(self, target: Path, image: np.ndarray, summary: Summary,
               is_matte: bool = False) -> Path:
        """Publish ``image`` as ``target`` and return the name written: when another run took
        the name meanwhile, the next free numbered one (``if_exists="number"``)."""
        while True:
            try:
                write_image(target, image, self.options.jpeg_quality,
                            overwrite=self.options.overwrite)
                break
            except FileExistsError:
                numbered = (None if self.options.overwrite or self.options.if_exists != "number"
                            else self._next_free(
                                target, with_matte=self.options.save_matte and not is_matte))
                if numbered is None:
                    raise
                summary.numbered.append((target, numbered))
                self._targets.add(numbered.resolve())
                target = numbered
        summary.written.append(target)
        return target

    def _prepare_alpha(self, item: InputItem, photo, target: Path, summary: Summary) -> None:
        """:func:`prepare_alpha`, noted in ``summary``."""
        what = prepare_alpha(self.options, photo, target)
        if what is not None:
            summary.transparent.append((item.path, what))

    def _run_photo_batch(self, batch: list[InputItem], summary: Summary) -> None:
        loaded = []
        input_size = self.photo_input_size()
        for item in batch:
            target = self._destination(item, summary)
            if target is None:
                continue
            try:
                photo = read_photo(item.path, max_pixels=self.options.max_pixels)
                self._prepare_alpha(item, photo, target, summary)
                matte_path = self._matte_path(item, self._single)
                matte = None if matte_path is None else read_matte(
                    matte_path, (photo.height, photo.width), self.options.max_pixels)
                working = working_image(photo.rgb, input_size)
                loaded.append((item, target, photo, matte, working))
            except ITEM_ERRORS as error:
                self._fail(summary, item.path, error)
        if not loaded:
            return
        config = self.config()
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
            self.finish_photo(item, target, photo, matte, working, probabilities.get(i),
                              config, summary)

    def finish_photo(self, item: InputItem, target: Path, photo, matte: np.ndarray | None,
                     working, probabilities: np.ndarray | None, config: RenderConfig,
                     summary: Summary) -> None:
        """Render and write one decoded photo whose network output (or matte) is known; what
        happened goes into ``summary``, never an exception for this photo's own problem.
        ``run`` calls it per photo; engines that schedule the stages themselves
        (``deeplab.portrait.beam``) call it too, so both write the same bytes."""
        try:
            self._render_photo(item, target, photo, matte, working, probabilities, config,
                               summary)
        except FileExistsError as error:  # another run published this name meanwhile
            summary.skipped.append((item.path, f"{error}; use --overwrite"))
        except ITEM_ERRORS as error:
            self._fail(summary, item.path, error)
        except Exception as error:  # unexpected: keep the traceback, go on with the rest
            logger.exception("unexpected error on %s", item.path)
            self._fail(summary, item.path, error)

    def _render_photo(self, item, target, photo, matte, working, probabilities, config,
                      summary: Summary) -> None:
        rendered = render(photo.rgb, config, probabilities=probabilities, matte=matte,
                          input_alpha=photo.alpha, working=working)
        refined = rendered.refined
        image = rendered.image
        choice = self.options.if_empty
        if not has_subject(refined.low if refined.low is not None else refined.alpha8):
            if choice == "skip":
                summary.skipped.append((item.path, no_subject_note(
                    item.path, self.options.classes, "not written (--if-empty skip)")))
                return
            if keeps_photo(self.options.mode, choice):
                image = photo.rgb
                what = ("written unblurred" if self.options.mode == "blur"
                        else "written unchanged")
            elif choice == "blur":
                what = "written as rendered (--if-empty blur)"
            else:
                what = f"written with an empty matte ({self.options.mode} mode)"
            summary.empty.append((item.path, no_subject_note(item.path, self.options.classes,
                                                             what)))
        if photo.alpha is not None:
            image = attach_alpha(image, photo.alpha, self.options.mode)
        target = self._write(target, image, summary)
        if self.options.save_matte:
            self._write(self._matte_target(target), rendered.matte8, summary, is_matte=True)

    def _run_video(self, item: InputItem, summary: Summary) -> None:
        target = self._destination(item, summary)
        if target is None:
            return
        try:
            if self.options.matte is not None:
                raise ValueError("--matte is not supported for videos")
            model, input_size = self.video_model()
            config = self._render_config(resolve_classes(model.class_names,
                                                         self.options.classes))
            from deeplab.portrait.video import video_info

            total = video_info(item.path).frame_count or None
            with progress_bar(enabled=self.progress, total=total, unit="frame", leave=False,
                              desc=item.path.name) as bar:
                result = process_video(item.path, target, model, config, input_size=input_size,
                                       if_empty=self.options.if_empty,
                                       codec=self.options.video_codec, crf=self.options.crf,
                                       overwrite=self.options.overwrite, on_frames=bar.update,
                                       max_pixels=self.options.max_pixels)
            summary.written.append(target)
            if result.frames_without_subject:
                if self.options.mode not in KEPT_MODES:  # the modes a video fades out
                    what = f"rendered as usual ({self.options.mode} mode)"
                elif self.options.if_empty == "blur":
                    what = "rendered as usual (--if-empty blur)"
                else:
                    what = "the effect fades out there"
                summary.empty.append((item.path, no_subject_note(
                    item.path, self.options.classes,
                    f"{result.frames_without_subject} of {result.frames} frames; {what}")))
        except FileExistsError as error:  # another run published this name meanwhile
            summary.skipped.append((item.path, f"{error}; use --overwrite"))
        except NoSubjectInVideo:
            summary.skipped.append((item.path, no_subject_note(
                item.path, self.options.classes, "in any frame; not written (--if-empty skip)")))
        except ITEM_ERRORS as error:
            self._fail(summary, item.path, error)
        except ModelUnavailableError:
            raise
        except Exception as error:  # unexpected: keep the traceback for the bug report
            logger.exception("unexpected error on %s", item.path)
            self._fail(summary, item.path, error)


def run_portrait(inputs: Iterable[str | Path], options: PortraitOptions,
                 model: ProbabilityModel | None = None, progress: bool = True,
                 should_stop: Callable[[], bool] | None = None) -> Summary:
    """Run portrait mode over ``inputs`` (see ``PortraitRunner``)."""
    return PortraitRunner(options, model=model, progress=progress,
                          should_stop=should_stop).run(list(inputs))
