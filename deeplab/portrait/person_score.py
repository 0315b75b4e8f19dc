"""How person quality is measured here (DESIGN.md, section 6), for every model alike.

Each photo is resized so its longer side is 513 (``INTER_AREA``); the model labels that photo;
the reference mask is resized to it with nearest neighbour and thresholded at 127 (a matte at
0.5); the score is the IoU of "person" against the mask. A set reports the MEAN of per-photo IoU
(a small or hard photo counts as much as an easy one) and the pooled IoU beside it. A model that
finds nobody in a photo scores 0 there.

DeepLab models run at that working size; the anchors run as their own examples run them: the
photo resized (bilinear) to their square input, their output resized back (labels nearest,
probabilities bilinear then 0.5). Measured so, MediaPipe selfie scores 0.883 on person_dev, as
the figures this project was given.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from deeplab.image_files import IMAGE_SUFFIXES, read_rgb
from deeplab.portrait.render import RenderConfig, matte_from_probabilities, working_image
from deeplab.runtimes.litert import open_interpreter

WORKING_SIDE = 513
PASCAL_PERSON = 15
#: A person mask of a model: uint8 RGB photo at the working size -> bool mask of the same size.
Predictor = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Example:
    """One photo of a scored set and its reference mask (or matte) file."""

    name: str
    image_path: Path
    mask_path: Path


@dataclass
class SetScore:
    """Per-photo IoU of one model on one set, and the two summaries."""

    per_photo: dict[str, float] = field(default_factory=dict)
    intersection: int = 0
    union: int = 0

    def add(self, name: str, predicted: np.ndarray, reference: np.ndarray,
            ignore: np.ndarray | None = None) -> float:
        """Score one photo; ``ignore`` pixels (True) count neither way."""
        if ignore is not None:
            predicted, reference = predicted & ~ignore, reference & ~ignore
        inter = int(np.logical_and(predicted, reference).sum())
        union = int(np.logical_or(predicted, reference).sum())
        value = 1.0 if union == 0 else inter / union
        self.per_photo[name] = value
        self.intersection += inter
        self.union += union
        return value

    @property
    def mean(self) -> float:
        """Mean of per-photo IoU: the figure every table here reports first."""
        return float(np.mean(list(self.per_photo.values()))) if self.per_photo else float("nan")

    @property
    def pooled(self) -> float:
        """Intersection over union summed over all photos (large people weigh more)."""
        return self.intersection / self.union if self.union else float("nan")


def working_photo(image: np.ndarray, side: int = WORKING_SIDE) -> np.ndarray:
    """The photo resized so its longer side is ``side`` (area filter when shrinking)."""
    height, width = image.shape[:2]
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(image, size, interpolation=interpolation)


def reference_mask(path: str | os.PathLike, shape: tuple[int, int]) -> np.ndarray:
    """A 0/255 mask or a 0-255 matte, resized to ``shape`` by nearest neighbour, as bool."""
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise ValueError(f"cannot read the mask {path}")
    if mask.shape != shape:
        mask = cv2.resize(mask, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    return mask > 127


def score_set(predict: Predictor, examples: Sequence[Example],
              ignore: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> SetScore:
    """Person IoU of one predictor on one set (``ignore(photo, reference)``: pixels not scored)."""
    result = SetScore()
    for example in examples:
        photo = working_photo(read_rgb(example.image_path))
        reference = reference_mask(example.mask_path, photo.shape[:2])
        result.add(example.name, np.asarray(predict(photo), bool), reference,
                   None if ignore is None else ignore(photo, reference))
    return result


def unlabelled_people(teacher: Predictor) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """For sets that label only the main subject (CCP): the people a teacher finds away from the
    labelled subject, left out of the score, so a model is not marked wrong for finding them."""
    from deeplab.data.unlabelled_people import rewrite_mask

    def ignore(photo: np.ndarray, reference: np.ndarray) -> np.ndarray:
        return rewrite_mask(reference, np.asarray(teacher(photo), bool), band=0)[1]

    return ignore


# --- the sets -------------------------------------------------------------------------------------

def _paired(images: Path, masks: Path, mask_suffixes: Iterable[str] = (".png",)) -> list[Example]:
    examples = []
    for image in sorted(images.iterdir()):
        if image.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        mask = next((masks / (image.stem + s) for s in mask_suffixes
                     if (masks / (image.stem + s)).is_file()), None)
        if mask is not None:
            examples.append(Example(image.stem, image, mask))
    return examples


def labelled_folder(root: Path) -> list[Example]:
    """A folder laid out as ``images/`` + ``masks/`` (the mask named after its photo's stem,
    ``.png`` or ``.jpg``); photos without a mask are left out."""
    return _paired(root / "images", root / "masks", (".png", ".jpg"))


def person_dev(shared: Path) -> list[Example]:
    """58 photos of people with binary masks (validation only: no licence to train on)."""
    return labelled_folder(shared / "data" / "person_dev")


def ccp_validation(shared: Path, val_fraction: float = 0.1, seed: int = 0) -> list[Example]:
    """The CCP photos ``configs/person.yaml`` holds out (same seeded split as training)."""
    from deeplab.data.folder import folder_examples

    examples = folder_examples(shared / "data" / "ccp", "val", val_fraction, seed)
    return [Example(e.stem, Path(e.image_path), Path(e.mask_path)) for e in examples]


def portraits_hd(shared: Path) -> list[Example]:
    """High-resolution portraits; reference = predicted alpha matte > 0.5."""
    root = shared / "data" / "portraits_hd"
    return _paired(root / "images", root / "reference_mattes", (".png", ".jpg"))


# --- predictors -----------------------------------------------------------------------------------

def deeplab_predictor(model, person_index: int) -> Predictor:
    """A portrait-mode :class:`~deeplab.portrait.models.ProbabilityModel` fed the working photo."""

    def predict(photo: np.ndarray) -> np.ndarray:
        probabilities = model.probabilities(photo[np.newaxis])[0]
        return np.argmax(probabilities, axis=-1) == person_index

    return predict


def portrait_predictor(model, person_index: int, input_size: int = WORKING_SIDE,
                       subjects: str = "main") -> Predictor:
    """What ``infer.py --mode matte`` writes, above one half: the network fed the photo at
    ``input_size``, then portrait mode's subject selection and edge-aware matte (``render``)."""
    config = RenderConfig(mode="matte", subject_classes=(person_index,), subjects=subjects)

    def predict(photo: np.ndarray) -> np.ndarray:
        working = working_image(photo, input_size)
        probabilities = model.probabilities(working.image[np.newaxis])[0]
        return matte_from_probabilities(photo, probabilities, config, working).alpha8 > 127

    return predict


class SquareTFLite:
    """An anchor ``.tflite`` run as its example runs it: the photo resized to its square input.

    ``kind``: ``mediapipe`` (float RGB in [0, 1], one person-probability channel), ``coral``
    (uint8 input, int64 PASCAL labels out), ``pascal_logits`` (float in [-1, 1], PASCAL logits).
    """

    KINDS = ("mediapipe", "coral", "pascal_logits")

    def __init__(self, path: str | os.PathLike, kind: str, num_threads: int = 2):
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}, got {kind!r}")
        self.kind = kind
        self.interpreter = open_interpreter(path, num_threads)
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.size = (int(self.input["shape"][2]), int(self.input["shape"][1]))

    def square(self, photo: np.ndarray) -> np.ndarray:
        """The photo resized (bilinear) to the file's square input."""
        return cv2.resize(photo, self.size, interpolation=cv2.INTER_LINEAR)

    def run(self, square: np.ndarray) -> np.ndarray:
        """The file's output for a uint8 RGB photo already at its input size, fed as its
        example feeds it (labels, PASCAL logits or person probability, no batch axis)."""
        if self.kind == "mediapipe":
            feed = square.astype(np.float32) / 255.0
        elif self.kind == "coral":
            feed = square
        else:
            feed = square.astype(np.float32) / 127.5 - 1.0
        self.interpreter.set_tensor(self.input["index"], feed[np.newaxis])
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output["index"])[0]

    def person_probability(self, photo: np.ndarray) -> np.ndarray:
        """MediaPipe's person probability, resized (bilinear) back to the photo, float32."""
        out = self.run(self.square(photo))[..., 0].astype(np.float32)
        return cv2.resize(out, (photo.shape[1], photo.shape[0]), interpolation=cv2.INTER_LINEAR)

    def __call__(self, photo: np.ndarray) -> np.ndarray:
        height, width = photo.shape[:2]
        if self.kind == "mediapipe":
            return self.person_probability(photo) > 0.5
        out = self.run(self.square(photo))
        labels = out if self.kind == "coral" else np.argmax(out, axis=-1)
        labels = cv2.resize(labels.astype(np.uint8), (width, height),
                            interpolation=cv2.INTER_NEAREST)
        return labels == PASCAL_PERSON
