"""The folder data set checked in full before training: every problem named by file, up front.

Left to the pipeline, a corrupt JPEG stops training with a TensorFlow error that does not say
which file, a mask of the wrong shape is silently stretched over its photo, label ids beyond the
class count make NaN losses or wrong classes, and photos without masks are silently dropped.
:func:`check_folder_dataset` decodes every photo and mask of the splits used (with the same
decoders as the pipeline), and reports:

- photos without masks and masks without photos, two photos sharing a name, photo formats the
  pipeline cannot read (when no list file picks the examples);
- files that cannot be decoded; colour masks;
- masks whose shape is not the photo's (a uniformly smaller or larger mask is fine: it is resized
  with nearest neighbour, as documented);
- label values the model cannot have (:meth:`DatasetReport.label_problems`, once the class count
  is known), and 0/255 person masks given to a model whose class 1 is not a person class.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from deeplab.data.config import IGNORE_LABEL, DataConfig
from deeplab.data.folder import FolderExample, find_list_file, folder_examples, list_folder_pairs
from deeplab.image_files import (IMAGE_SUFFIXES, JPEG_SUFFIXES, MAX_PIXELS, TF_IMAGE_SUFFIXES,
                                 image_size)

#: Photo formats people put in images/ that the tf.data decoders cannot read.
UNSUPPORTED_SUFFIXES = tuple(s for s in IMAGE_SUFFIXES if s not in TF_IMAGE_SUFFIXES) + (
    ".gif", ".heic", ".heif", ".avif")
#: Class names that 0/255 person masks (foreground = class 1) may train as class 1.
PERSON_NAMES = ("person", "people", "human", "foreground")
#: At most this many problems are listed (the count says how many there were).
MAX_LISTED = 10


class DataSetError(ValueError):
    """The data set has problems that would make training fail or learn the wrong thing."""


@dataclass
class ExampleFacts:
    """What decoding one photo and its mask found."""

    example: FolderExample
    image_size: tuple[int, int] | None = None
    mask_size: tuple[int, int] | None = None
    values: frozenset[int] = frozenset()
    problem: str | None = None


@dataclass
class DatasetReport:
    """Result of :func:`check_folder_dataset` (``checked`` False for non-folder sources)."""

    root: str | None
    checked: bool
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    facts: list[ExampleFacts] = field(default_factory=list)
    encoding: str = "auto"

    def summary(self) -> str:
        if not self.checked:
            return "Data set not checked up front (only folder data sets are)"
        counts = " + ".join(f"{n} {split}" for split, n in self.counts.items())
        sizes = [max(f.image_size) for f in self.facts if f.image_size]
        size_text = f", photos {min(sizes)}-{max(sizes)} px" if sizes else ""
        masks = "0/255 person masks (-> 0/1)" if self.encoding == "binary" else "class-id masks"
        found = f"{len(self.problems)} problem(s)" if self.problems else "no problems"
        return f"Data set {self.root}: {counts} examples checked{size_text}, {masks}: {found}"

    def label_problems(self, num_classes: int, class_names: tuple[str, ...] = (),
                       ignore_label: int = IGNORE_LABEL) -> list[str]:
        """Masks whose values the model cannot learn, as messages naming the files."""
        if self.encoding == "binary":
            second = class_names[1].lower() if len(class_names) > 1 else ""
            if num_classes != 2 and second not in PERSON_NAMES:
                second = f"'{class_names[1]}'" if len(class_names) > 1 else "class 1"
                return [f"the masks are 0/255 person masks (trained as class 1) but the model has "
                        f"{num_classes} classes and class 1 is {second}: set "
                        f"model.class_names: [background, person]"]
            return []
        problems = []
        for facts in self.facts:
            bad = sorted(v for v in facts.values if v >= num_classes and v != ignore_label)
            if bad:
                problems.append(f"{facts.example.mask_path}: label values {bad[:8]} but the model "
                                f"has {num_classes} classes (ids 0-{num_classes - 1}, "
                                f"{ignore_label} = ignore)")
        return problems

    def raise_if_problems(self, num_classes: int | None = None,
                          class_names: tuple[str, ...] = ()) -> None:
        """Raise :class:`DataSetError` listing every problem (and the label ones when
        ``num_classes`` is given)."""
        problems = list(self.problems)
        if num_classes is not None:
            problems += self.label_problems(num_classes, class_names)
        if problems:
            listed = problems[:MAX_LISTED]
            more = f"\n  ... and {len(problems) - MAX_LISTED} more" \
                if len(problems) > MAX_LISTED else ""
            raise DataSetError(f"data set {self.root} has {len(problems)} problem(s):\n  "
                               + "\n  ".join(listed) + more)


def _layout_problems(root: Path) -> list[str]:
    """Unpaired, duplicated and unreadable-format files of images/ and masks/."""
    problems = []
    images: dict[str, list[Path]] = {}
    for path in sorted((root / "images").iterdir()):
        if not path.is_file():
            continue
        suffix = path.suffix.lower()
        if suffix in UNSUPPORTED_SUFFIXES:
            problems.append(f"{path}: {suffix} photos cannot be read by training "
                            f"(use {', '.join(TF_IMAGE_SUFFIXES)})")
        elif suffix in TF_IMAGE_SUFFIXES:
            images.setdefault(path.stem, []).append(path)
    mask_files = [p for p in (root / "masks").iterdir() if p.is_file()]
    masks = {p.stem: p for p in mask_files if p.suffix.lower() == ".png"}
    lossy = sorted(str(p) for p in mask_files if p.suffix.lower() in (*JPEG_SUFFIXES, ".webp"))
    if lossy:
        shown = ", ".join(lossy[:3]) + (", ..." if len(lossy) > 3 else "")
        problems.append(f"{len(lossy)} mask(s) saved lossily ({shown}): masks must be PNG "
                        f"(JPEG compression changes the class ids at every edge)")
    for stem, paths in images.items():
        if len(paths) > 1:
            problems.append(f"{', '.join(map(str, paths))}: two photos for one mask name")
    lonely_images = sorted(str(p[0]) for s, p in images.items() if s not in masks)
    lonely_masks = sorted(str(p) for s, p in masks.items() if s not in images)
    for kind, paths, hint in (("photo(s) without a mask", lonely_images, "masks/<name>.png"),
                              ("mask(s) without a photo", lonely_masks, "images/<name>.jpg")):
        if paths:
            shown = ", ".join(paths[:3]) + (", ..." if len(paths) > 3 else "")
            problems.append(f"{len(paths)} {kind}: {shown} (add {hint}, or list the examples "
                            f"to use in train.txt / val.txt)")
    return problems


def _same_shape(image: tuple[int, int], mask: tuple[int, int]) -> bool:
    """Same size, or the same picture scaled uniformly (within a pixel of rounding)."""
    if image == mask:
        return True
    (ih, iw), (mh, mw) = image, mask
    expected_width = mh * iw / ih
    return abs(mw - expected_width) <= max(1.0, 0.01 * mw)


def _inspect(example: FolderExample) -> ExampleFacts:
    import numpy as np
    import tensorflow as tf

    facts = ExampleFacts(example)
    for path in (example.image_path, example.mask_path):  # the budget before any decoding
        size = image_size(path)
        if size is not None and size[0] * size[1] > MAX_PIXELS:
            facts.problem = (f"{path}: {size[0]}x{size[1]} is {size[0] * size[1] / 1e6:.0f} "
                             f"megapixels, over the limit of {MAX_PIXELS / 1e6:g} for training "
                             f"data; shrink it first")
            return facts
    try:
        image = tf.io.decode_image(tf.io.read_file(example.image_path), channels=3,
                                   expand_animations=False)
        facts.image_size = (int(image.shape[0]), int(image.shape[1]))
    except Exception as error:  # tf.errors.OpError: corrupt, truncated, not an image
        facts.problem = f"{example.image_path}: cannot decode the photo ({_first_line(error)})"
        return facts
    try:
        encoded = tf.io.read_file(example.mask_path)
        if encoded.numpy()[24:25] == b"\x10":  # IHDR bit depth: decode_png would scale it
            facts.problem = (f"{example.mask_path}: a 16-bit PNG mask (its ids would be divided "
                             f"by 257); save it as an 8-bit single-channel PNG")
            return facts
        mask = tf.io.decode_png(encoded, channels=0)
    except Exception as error:
        facts.problem = f"{example.mask_path}: cannot decode the mask ({_first_line(error)})"
        return facts
    if mask.shape[-1] > 2:
        facts.problem = (f"{example.mask_path}: a colour mask; masks must be single-channel PNGs "
                         f"of class ids (or 0/255)")
        return facts
    facts.mask_size = (int(mask.shape[0]), int(mask.shape[1]))
    facts.values = frozenset(np.unique(mask.numpy()[..., 0]).tolist())
    if not _same_shape(facts.image_size, facts.mask_size):
        facts.problem = (f"{example.mask_path}: mask is {facts.mask_size[1]}x{facts.mask_size[0]} "
                         f"but its photo is {facts.image_size[1]}x{facts.image_size[0]} (not the "
                         f"same picture scaled)")
    return facts


def _first_line(error: BaseException) -> str:
    message = getattr(error, "message", None) or str(error)
    lines = [line for line in str(message).strip().splitlines() if line.strip()]
    return lines[0].strip() if lines else type(error).__name__


def _splits_to_check(config: DataConfig, root: Path) -> list[str]:
    splits = [config.train_split]
    has_eval = find_list_file(root, config.eval_split) is not None or (
        config.eval_split in ("train", "val", "all") and config.val_fraction > 0)
    if has_eval and config.eval_split not in splits:
        splits.append(config.eval_split)
    return splits


def check_voc_layout(config: DataConfig, splits: list[str]) -> None:
    """The VOC split lists exist and every listed image has a label (no decoding)."""
    from deeplab.data.voc import voc_label_path, voc_split_stems

    if not config.root:
        raise DataSetError("data.kind 'voc' needs data.root: the folder holding VOCdevkit/")
    root = Path(config.root).expanduser()
    if not root.is_dir():
        raise DataSetError(f"data.root {root}: no such folder")
    for split in dict.fromkeys(splits):
        for stem in voc_split_stems(root, split):
            voc_label_path(root, stem)


def check_folder_dataset(config: DataConfig, splits: list[str] | None = None,
                         workers: int = 2) -> DatasetReport:
    """Decode and check every example of ``splits`` (default: train and, if any, eval).

    Other sources get their layout checked only (a VOC download: the split lists and a label
    for every listed image), so a wrong ``data.root`` still fails before any work."""
    if config.kind == "voc":
        check_voc_layout(config, splits or [config.train_split, config.eval_split])
    if config.kind != "folder":
        return DatasetReport(config.root, checked=False, encoding=config.mask_encoding)
    if not config.root:
        raise DataSetError("data.kind 'folder' needs data.root (or train.py --data DIR)")
    root = Path(config.root).expanduser()
    if not root.is_dir():
        raise DataSetError(f"data.root {root}: no such folder")
    list_folder_pairs(root)  # the images/ + masks/ layout, with its own clear errors
    report = DatasetReport(str(root), checked=True)
    splits = splits or _splits_to_check(config, root)
    if find_list_file(root, config.train_split) is None:
        report.problems += _layout_problems(root)
    examples: dict[str, FolderExample] = {}
    for split in splits:
        chosen = folder_examples(root, split, config.val_fraction, config.split_seed)
        report.counts[split] = len(chosen)
        examples.update({e.stem: e for e in chosen})
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        report.facts = list(pool.map(_inspect, examples.values()))
    report.problems += [f.problem for f in report.facts if f.problem]
    values = set().union(*(f.values for f in report.facts)) if report.facts else set()
    if config.mask_encoding != "auto":
        report.encoding = config.mask_encoding
    else:
        report.encoding = "binary" if values <= {0, IGNORE_LABEL} and IGNORE_LABEL in values \
            else "class_ids"
    return report
