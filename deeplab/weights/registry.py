"""Registry of Google's official DeepLab releases (MobileNetV2 and Xception-65).

Facts from the DeepLab model zoo page (tensorflow/models ``research/deeplab/g3doc/model_zoo.md``):
download URL, backbone, training data, evaluation output stride and scales, and the published mIoU
with the split it was measured on. Every release archive unpacks to one folder named like the entry
(``deeplabv3_mnv2_pascal_train_aug/``) holding ``frozen_inference_graph.pb`` and a TF1 checkpoint.
The frozen graphs are exported at output stride 8 with a 513 crop (the export defaults); when a
graph is present the values it fixes win over the registry's.

Entries are looked up by name (the archive folder, e.g. ``deeplabv3_mnv2_pascal_train_aug``), by
the zoo's checkpoint name (``mobilenetv2_coco_voc_trainaug``) or by the archive file name.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from deeplab.config import (CITYSCAPES_CLASSES, PASCAL_VOC_CLASSES, PERSON_CLASSES,
                            default_atrous_rates)

# ADE20K scene parsing (SceneParse150): DeepLab predicts 151 labels, 0 being "other" (unlabelled).
ADE20K_CLASSES = (
    "other", "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane",
    "grass", "cabinet", "sidewalk", "person", "earth", "door", "table", "mountain", "plant",
    "curtain", "chair", "car", "water", "painting", "sofa", "shelf", "house", "sea", "mirror",
    "rug", "field", "armchair", "seat", "fence", "desk", "rock", "wardrobe", "lamp", "bathtub",
    "railing", "cushion", "base", "box", "column", "signboard", "chest of drawers", "counter",
    "sand", "sink", "skyscraper", "fireplace", "refrigerator", "grandstand", "path", "stairs",
    "runway", "case", "pool table", "pillow", "screen door", "stairway", "river", "bridge",
    "bookcase", "blind", "coffee table", "toilet", "flower", "book", "hill", "bench", "countertop",
    "stove", "palm", "kitchen island", "computer", "swivel chair", "boat", "bar", "arcade machine",
    "hovel", "bus", "towel", "light", "truck", "tower", "chandelier", "awning", "streetlight",
    "booth", "television receiver", "airplane", "dirt track", "apparel", "pole", "land",
    "bannister", "escalator", "ottoman", "bottle", "buffet", "poster", "stage", "van", "ship",
    "fountain", "conveyer belt", "canopy", "washer", "plaything", "swimming pool", "stool",
    "barrel", "basket", "waterfall", "tent", "bag", "minibike", "cradle", "oven", "ball", "food",
    "step", "tank", "trade name", "microwave", "pot", "animal", "bicycle", "lake", "dishwasher",
    "screen", "blanket", "sculpture", "hood", "sconce", "vase", "traffic light", "tray", "ashcan",
    "fan", "pier", "crt screen", "plate", "monitor", "bulletin board", "shower", "radiator",
    "glass", "clock", "flag",
)

DATASET_CLASSES = {
    "pascal_voc": PASCAL_VOC_CLASSES,
    "cityscapes": CITYSCAPES_CLASSES,
    "ade20k": ADE20K_CLASSES,
    "person": PERSON_CLASSES,
}
#: How an entry is stored: a release ``.tar.gz``, a bare ``.tflite`` file, or a file that ships
#: inside this package (no download).
ENTRY_KINDS = ("archive", "tflite", "bundled")
DOWNLOAD_ROOT = "http://download.tensorflow.org/models/"


@dataclass(frozen=True)
class PublishedResult:
    """One published score: mIoU (percent) on ``split`` at ``output_stride`` and eval scales."""

    miou: float
    split: str
    output_stride: int
    eval_scales: tuple[float, ...] = (1.0,)
    left_right_flip: bool = False
    pixel_accuracy: float | None = None


@dataclass(frozen=True)
class OfficialRelease:
    """One official DeepLab release archive and what is known about it."""

    name: str
    zoo_name: str
    archive: str
    backbone: str
    dataset: str
    trained_on: str
    checkpoint_member: str
    results: tuple[PublishedResult, ...]
    depth_multiplier: float = 1.0
    decoder: bool = False
    output_stride: int = 8
    crop_size: int = 513
    graph_member: str = ""
    sha256: str | None = None
    notes: str = ""
    class_names: tuple[str, ...] = field(default=())
    kind: str = "archive"
    download_url: str = ""
    #: A bundled model's prebuilt LiteRT network (``crop_size`` px input), so portrait mode
    #: runs it without converting at first run; its SHA-256 is checked like the model's.
    litert_archive: str = ""
    litert_sha256: str | None = None

    def __post_init__(self):
        if self.kind not in ENTRY_KINDS:
            raise ValueError(f"kind must be one of {ENTRY_KINDS}, got {self.kind!r}")
        if not self.graph_member:
            object.__setattr__(self, "graph_member", f"{self.name}/frozen_inference_graph.pb")
        if not self.class_names:
            object.__setattr__(self, "class_names", DATASET_CLASSES[self.dataset])

    @property
    def url(self) -> str:
        """Where the file is downloaded from (empty for a bundled model)."""
        if self.kind == "bundled":
            return ""
        return self.download_url or DOWNLOAD_ROOT + self.archive

    @property
    def num_classes(self) -> int:
        """Number of labels the release predicts."""
        return len(self.class_names)

    @property
    def atrous_rates(self) -> tuple[int, ...]:
        """ASPP rates at :attr:`output_stride` (none for the MobileNetV2 releases)."""
        if self.backbone != "xception_65":
            return ()
        return default_atrous_rates(self.output_stride)


def _pascal(miou, split, os_, scales=(1.0,), flip=False):
    return PublishedResult(miou, f"PASCAL VOC 2012 {split}", os_, scales, flip)


_MS_PASCAL = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)
_MS_CITYSCAPES = (0.75, 1.0, 1.25)

OFFICIAL_RELEASES: tuple[OfficialRelease, ...] = (
    OfficialRelease(
        name="deeplabv3_mnv2_pascal_train_aug", zoo_name="mobilenetv2_coco_voc_trainaug",
        archive="deeplabv3_mnv2_pascal_train_aug_2018_01_29.tar.gz", backbone="mobilenet_v2",
        dataset="pascal_voc", trained_on="ImageNet, MS-COCO, VOC 2012 train_aug",
        checkpoint_member="deeplabv3_mnv2_pascal_train_aug/model.ckpt-30000",
        results=(_pascal(75.32, "val", 16), _pascal(77.33, "val", 8, _MS_PASCAL, True))),
    OfficialRelease(
        name="deeplabv3_mnv2_pascal_trainval", zoo_name="mobilenetv2_coco_voc_trainval",
        archive="deeplabv3_mnv2_pascal_trainval_2018_01_29.tar.gz", backbone="mobilenet_v2",
        dataset="pascal_voc", trained_on="ImageNet, MS-COCO, VOC 2012 train_aug + trainval",
        checkpoint_member="deeplabv3_mnv2_pascal_trainval/model.ckpt-30000",
        results=(_pascal(80.25, "test", 8, _MS_PASCAL, True),),
        notes="trained on VOC val: do not evaluate it on VOC val"),
    OfficialRelease(
        name="deeplabv3_mnv2_dm05_pascal_trainaug", zoo_name="mobilenetv2_dm05_coco_voc_trainaug",
        archive="deeplabv3_mnv2_dm05_pascal_trainaug_2018_10_01.tar.gz", backbone="mobilenet_v2",
        depth_multiplier=0.5, dataset="pascal_voc",
        trained_on="ImageNet, MS-COCO, VOC 2012 train_aug",
        checkpoint_member="deeplabv3_mnv2_dm05_pascal_trainaug/model.ckpt",
        results=(_pascal(70.19, "val", 16),)),
    OfficialRelease(
        name="deeplabv3_mnv2_dm05_pascal_trainval", zoo_name="mobilenetv2_dm05_coco_voc_trainval",
        archive="deeplabv3_mnv2_dm05_pascal_trainval_2018_10_01.tar.gz", backbone="mobilenet_v2",
        depth_multiplier=0.5, dataset="pascal_voc",
        trained_on="ImageNet, MS-COCO, VOC 2012 train_aug + trainval",
        checkpoint_member="deeplabv3_mnv2_dm05_pascal_trainval/model.ckpt",
        results=(_pascal(71.83, "test", 8),),
        notes="trained on VOC val: do not evaluate it on VOC val"),
    OfficialRelease(
        name="deeplabv3_pascal_train_aug", zoo_name="xception65_coco_voc_trainaug",
        archive="deeplabv3_pascal_train_aug_2018_01_04.tar.gz", backbone="xception_65",
        decoder=True, dataset="pascal_voc", trained_on="ImageNet, MS-COCO, VOC 2012 train_aug",
        checkpoint_member="deeplabv3_pascal_train_aug/model.ckpt",
        results=(_pascal(82.20, "val", 16), _pascal(83.58, "val", 8, _MS_PASCAL, True))),
    OfficialRelease(
        name="deeplabv3_pascal_trainval", zoo_name="xception65_coco_voc_trainval",
        archive="deeplabv3_pascal_trainval_2018_01_04.tar.gz", backbone="xception_65",
        decoder=True, dataset="pascal_voc",
        trained_on="ImageNet, MS-COCO, VOC 2012 train_aug + trainval",
        checkpoint_member="deeplabv3_pascal_trainval/model.ckpt",
        results=(_pascal(87.80, "test", 8, _MS_PASCAL, True),),
        notes="trained on VOC val: do not evaluate it on VOC val"),
    OfficialRelease(
        name="deeplabv3_mnv2_cityscapes_train", zoo_name="mobilenetv2_coco_cityscapes_trainfine",
        archive="deeplabv3_mnv2_cityscapes_train_2018_02_05.tar.gz", backbone="mobilenet_v2",
        dataset="cityscapes", trained_on="ImageNet, MS-COCO, Cityscapes train_fine",
        checkpoint_member="deeplabv3_mnv2_cityscapes_train/model.ckpt",
        results=(PublishedResult(70.71, "Cityscapes val", 16),
                 PublishedResult(73.57, "Cityscapes val", 8, _MS_CITYSCAPES, True))),
    OfficialRelease(
        name="deeplabv3_cityscapes_train", zoo_name="xception65_cityscapes_trainfine",
        archive="deeplabv3_cityscapes_train_2018_02_06.tar.gz", backbone="xception_65",
        decoder=True, dataset="cityscapes", trained_on="ImageNet, Cityscapes train_fine",
        checkpoint_member="deeplabv3_cityscapes_train/model.ckpt",
        results=(PublishedResult(78.79, "Cityscapes val", 16),
                 PublishedResult(80.42, "Cityscapes val", 8, _MS_CITYSCAPES, True))),
    OfficialRelease(
        name="deeplabv3_mnv2_ade20k_train", zoo_name="mobilenetv2_ade20k_train",
        archive="deeplabv3_mnv2_ade20k_train_2018_12_03.tar.gz", backbone="mobilenet_v2",
        decoder=True, dataset="ade20k", trained_on="ImageNet, ADE20K train", crop_size=257,
        checkpoint_member="deeplabv3_mnv2_ade20k_train/model.ckpt",
        results=(PublishedResult(32.04, "ADE20K val", 16, pixel_accuracy=75.41),),
        notes="inputs resized so the longer side is 257; unlike the other MobileNetV2 releases "
              "it has the v3+ decoder"),
    OfficialRelease(
        name="deeplabv3_xception_ade20k_train", zoo_name="xception65_ade20k_train",
        archive="deeplabv3_xception_ade20k_train_2018_05_29.tar.gz", backbone="xception_65",
        decoder=True, dataset="ade20k", trained_on="ImageNet, ADE20K train",
        checkpoint_member="deeplabv3_xception_ade20k_train/model.ckpt",
        results=(PublishedResult(45.65, "ADE20K val", 8, _MS_PASCAL, True, pixel_accuracy=82.52),)),
)

#: Google's DeepLab PASCAL models as TFLite files: the quantisation-aware-trained Coral models
#: (mIoU from the original ``g3doc/quantize.md``, VOC 2012 val, output stride 16) and the float
#: model of the TensorFlow Lite segmentation example (no published score of its own).
TFLITE_RELEASES: tuple[OfficialRelease, ...] = (
    OfficialRelease(
        name="coral_deeplabv3_mnv2_pascal_quant", zoo_name="deeplabv3_mnv2_pascal_quant",
        archive="deeplabv3_mnv2_pascal_quant.tflite", backbone="mobilenet_v2",
        dataset="pascal_voc", trained_on="ImageNet, MS-COCO, VOC 2012 train_aug (QAT)",
        checkpoint_member="", kind="tflite", output_stride=16,
        download_url="https://github.com/google-coral/test_data/raw/master/"
                     "deeplabv3_mnv2_pascal_quant.tflite",
        results=(_pascal(74.26, "val", 16),),
        notes="int8 (uint8 weights and activations), input uint8 513x513 scale 1/128 zero "
              "point 128, output int64 labels (resize and argmax inside)"),
    OfficialRelease(
        name="coral_deeplabv3_mnv2_dm05_pascal_quant",
        zoo_name="deeplabv3_mnv2_dm05_pascal_quant",
        archive="deeplabv3_mnv2_dm05_pascal_quant.tflite", backbone="mobilenet_v2",
        depth_multiplier=0.5, dataset="pascal_voc",
        trained_on="ImageNet, MS-COCO, VOC 2012 train_aug (QAT)", checkpoint_member="",
        kind="tflite", output_stride=16,
        download_url="https://github.com/google-coral/test_data/raw/master/"
                     "deeplabv3_mnv2_dm05_pascal_quant.tflite",
        results=(_pascal(69.65, "val", 16),),
        notes="int8 like the 1.0 model, depth multiplier 0.5"),
    OfficialRelease(
        name="tflite_deeplabv3_257_mv_gpu", zoo_name="deeplabv3_257_mv_gpu",
        archive="deeplabv3_257_mv_gpu.tflite", backbone="mobilenet_v2", depth_multiplier=0.5,
        dataset="pascal_voc", trained_on="ImageNet, MS-COCO, VOC 2012 train_aug",
        checkpoint_member="", kind="tflite", crop_size=257,
        download_url="https://storage.googleapis.com/download.tensorflow.org/models/tflite/gpu/"
                     "deeplabv3_257_mv_gpu.tflite",
        results=(),
        notes="float32, input 257x257 in [-1, 1], output logits at 257x257 (TensorFlow Lite "
              "segmentation example)"),
)

#: Models that ship inside the package (deeplab/models/): no download, checksum checked on
#: every load. person is this project's own, trained by configs/person.yaml.
BUNDLED_MODELS: tuple[OfficialRelease, ...] = (
    OfficialRelease(
        name="person", zoo_name="deeplabv3plus_mnv2_person", archive="person_mnv2.keras",
        backbone="mobilenet_v2", dataset="person", kind="bundled", output_stride=8,
        decoder=True,
        trained_on="ImageNet, MS-COCO, VOC 2012 train_aug (the Coral QAT PASCAL model), then "
                   "719 CCP photos (configs/person.yaml), WiSE-FT alpha 0.6",
        checkpoint_member="", results=(),
        sha256="c2f9212df8c138c7f6ac9446b9cea4f5fe757af8854b38c58bd7610eb841a65e",
        notes="background / person; DeepLab v3+ MobileNetV2 1.0 (decoder), runs at output "
              "stride 8; person IoU (mean per photo): see docs/quality.md"),
    OfficialRelease(
        name="person_fast", zoo_name="deeplabv3_mnv2_dm05_person_fast",
        archive="person_fast.keras", backbone="mobilenet_v2", depth_multiplier=0.5,
        dataset="pascal_voc", kind="bundled", output_stride=16, crop_size=385,
        trained_on="VOC 2012 (the TFLite DeepLab 257 example), then CCP's 719 training photos, "
                   "webcam frames and photos with no person (configs/person_fast.yaml), "
                   "WiSE-FT alpha 0.4",
        checkpoint_member="", results=(),
        sha256="5b8ba3033581e449199ce9dc3c88d474825b50f6a7c568041b308ed341597e95",
        litert_archive="person_fast_int8.tflite",
        litert_sha256="8081af49124fe8bc78637eae43416f17c618666a5492add6091ae533e50dda13",
        notes="PASCAL's 21 labels (portrait mode keeps 'person'); DeepLab v3 MobileNetV2 0.5, "
              "output stride 16, prebuilt int8 LiteRT network: the default for video frames"),
)

REGISTRY: dict[str, OfficialRelease] = {
    release.name: release
    for release in (*OFFICIAL_RELEASES, *TFLITE_RELEASES, *BUNDLED_MODELS)}
_ALIASES: dict[str, str] = {}
for _release in REGISTRY.values():
    _ALIASES[_release.zoo_name] = _release.name
    _ALIASES[_release.archive] = _release.name
    _ALIASES[_release.archive.removesuffix(".tar.gz").removesuffix(".tflite")] = _release.name


def registry_names() -> list[str]:
    """Entry names of every official release, sorted."""
    return sorted(REGISTRY)


def find_release(name: str) -> OfficialRelease | None:
    """The entry called ``name`` (entry name, zoo checkpoint name or archive file name)."""
    key = name.strip()
    if key in REGISTRY:
        return REGISTRY[key]
    if key in _ALIASES:
        return REGISTRY[_ALIASES[key]]
    return None


def get_release(name: str) -> OfficialRelease:
    """Like :func:`find_release`, but an unknown name raises with the closest known names."""
    release = find_release(name)
    if release is not None:
        return release
    from deeplab.weights.errors import UnknownSourceError

    known = sorted(set(REGISTRY) | set(_ALIASES))
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise UnknownSourceError(f"unknown DeepLab release {name!r}{hint}; known releases: "
                             f"{', '.join(registry_names())}")
