"""Typed configuration of a segmentation data set and of its training augmentation.

The training pipeline reads everything it needs from :class:`DataConfig`: where the examples
come from (a folder, a TFDS data set or a PASCAL VOC download), how the split is made, how masks
are encoded, and the augmentation of the original DeepLab recipe (random scale, pad + random crop,
flip).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from deeplab.input_format import PAD_VALUE

SOURCE_KINDS = ("folder", "tfds", "voc")
MASK_ENCODINGS = ("auto", "class_ids", "binary")
IGNORE_LABEL = 255
#: The original's mean pixel, used to pad training crops.
MEAN_PIXEL = PAD_VALUE
#: Largest crop / eval side accepted: 2049 covers the original's Cityscapes eval (1025 x 2049);
#: beyond it one MobileNetV2 activation map alone outgrows a few GB.
MAX_SIDE = 2049


def check_size(value: int | None, key: str, optional: bool = False) -> None:
    """Refuse a side length outside ``1..MAX_SIDE`` (``None`` only when ``optional``)."""
    if value is None and optional:
        return
    if value is None or not 1 <= value <= MAX_SIDE:
        raise ValueError(f"{key} must be a size in pixels from 1 to {MAX_SIDE}, got {value}")


@dataclass
class AugmentConfig:
    """Training augmentation as the original: random scale, pad + random crop, flip.

    ``scale_step`` 0.25 picks the scale from {0.5, 0.75, ..., 2.0} as the original recipe;
    0 draws it uniformly. ``color_jitter`` is the strength (0 disables it) of random brightness,
    contrast, saturation and hue changes, applied before padding so the pad value stays the mean.
    ``blur_probability`` blurs that share of crops with a Gaussian of sigma up to ``max_blur_sigma``
    pixels (out-of-focus and motion-soft photos); ``noise_stddev`` adds Gaussian sensor noise of
    up to that standard deviation (fraction of the 0-255 range), both after scaling.
    ``grayscale_probability`` turns that share of photos black-and-white, so that colour alone
    never decides the class (a data set of colour photos and grey negatives otherwise teaches
    "grey is background").
    """

    crop_size: int = 513
    min_scale: float = 0.5
    max_scale: float = 2.0
    scale_step: float = 0.25
    flip: bool = True
    color_jitter: float = 0.0
    blur_probability: float = 0.0
    max_blur_sigma: float = 2.0
    noise_stddev: float = 0.0
    grayscale_probability: float = 0.0

    def __post_init__(self):
        check_size(self.crop_size, "data.augment.crop_size")
        if not 0 < self.min_scale <= self.max_scale:
            raise ValueError(
                f"need 0 < min_scale <= max_scale, got {self.min_scale} and {self.max_scale}")
        if self.scale_step < 0:
            raise ValueError(f"scale_step must be >= 0, got {self.scale_step}")
        if not 0 <= self.color_jitter <= 1:
            raise ValueError(f"color_jitter must be in [0, 1], got {self.color_jitter}")
        if not 0 <= self.blur_probability <= 1:
            raise ValueError(f"blur_probability must be in [0, 1], got {self.blur_probability}")
        if not 0 < self.max_blur_sigma <= 8:
            raise ValueError(f"max_blur_sigma must be in (0, 8] pixels, got {self.max_blur_sigma}")
        if not 0 <= self.grayscale_probability <= 1:
            raise ValueError(f"grayscale_probability must be in [0, 1], got "
                             f"{self.grayscale_probability}")
        if not 0 <= self.noise_stddev <= 0.5:
            raise ValueError(f"noise_stddev must be in [0, 0.5], got {self.noise_stddev}")


@dataclass
class DataConfig:
    """Where the examples come from and how they are fed.

    kind ``folder``: ``root`` holds ``images/`` and ``masks/`` (``<stem>.png``, single channel);
    the split comes from ``<root>/<split>.txt`` (one stem per line) when present, otherwise the
    last ``val_fraction`` of a seeded shuffle is ``val`` and the rest ``train``.
    kind ``tfds``: ``tfds_name`` (``deeplab_folder``, ``coco/2017_panoptic``, ``scene_parse150``)
    read from ``tfds_data_dir``; the person adapters turn the source's labels into
    background/person masks.
    kind ``voc``: PASCAL VOC 2012 (+ SBD for ``train_aug``) from a manual download under ``root``.
    ``mask_encoding`` ``binary`` maps 0/255 masks to 0/1 (any value >= 128 is 1); ``class_ids``
    keeps values (255 = ignore); ``auto`` decides from the masks.
    ``max_image_side`` shrinks very large photos once at load time (masks with nearest neighbour)
    so the cache stays small; None keeps the original size.
    ``label_names`` names the mask ids when they are a coarser label set than the model's
    classes (``[background, person]`` masks for a 21-class PASCAL model): each label is the
    model class of that name, and background any class no other label names (see
    :func:`deeplab.training.losses.label_set_matrix`); null: mask ids are the model's classes.
    """

    kind: str = "folder"
    root: str | None = None
    tfds_name: str | None = None
    tfds_data_dir: str | None = None
    train_split: str = "train"
    eval_split: str = "val"
    val_fraction: float = 0.2
    split_seed: int = 0
    mask_encoding: str = "auto"
    ignore_label: int = IGNORE_LABEL
    max_image_side: int | None = None
    eval_longer_side: int | None = 513
    max_eval_examples: int | None = None
    cache: bool = True
    shuffle_buffer: int = 256
    parallel_calls: int = -1
    prefetch: int = -1
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    label_names: list[str] | None = None

    def __post_init__(self):
        if isinstance(self.augment, dict):
            self.augment = AugmentConfig(**self.augment)
        if self.kind not in SOURCE_KINDS:
            raise ValueError(f"data.kind must be one of {SOURCE_KINDS}, got {self.kind!r}")
        if self.mask_encoding not in MASK_ENCODINGS:
            raise ValueError(
                f"data.mask_encoding must be one of {MASK_ENCODINGS}, got {self.mask_encoding!r}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"data.val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.kind == "tfds" and not self.tfds_name:
            raise ValueError("data.kind 'tfds' needs data.tfds_name")
        check_size(self.eval_longer_side, "data.eval_longer_side", optional=True)
        if self.max_image_side is not None and self.max_image_side < 1:
            raise ValueError(f"data.max_image_side must be >= 1 or null, got "
                             f"{self.max_image_side}")
        if self.max_eval_examples is not None and self.max_eval_examples < 1:
            raise ValueError(f"data.max_eval_examples must be >= 1 or null, got "
                             f"{self.max_eval_examples}")
        if self.shuffle_buffer < 1:
            raise ValueError(f"data.shuffle_buffer must be >= 1, got {self.shuffle_buffer}")
        if self.label_names is not None and (
                len(self.label_names) < 2 or len(set(self.label_names)) != len(self.label_names)):
            raise ValueError(f"data.label_names needs two or more distinct names, got "
                             f"{self.label_names}")
        if not 0 <= self.ignore_label <= 255:
            raise ValueError(f"data.ignore_label must be in 0..255, got {self.ignore_label}")
