"""Build the training folder of the fast video model (``person_fast``), from data it may ship.

Every photo here has a licence that allows shipping a model trained on it (../shared/README.md):

- CCP (Apache-2.0), its seeded training split only (``val.txt`` is CCP's held-out split, the one
  the person benchmark scores as ccp_val): the hand-made masks are the labels; people the
  teacher finds outside them (passers-by CCP does not label) and a 2-px band along the coarse
  hand-made edges become ignore (255);
- frames of the webcam clips (CC BY 4.0) and the astronaut photo (public domain), labelled by
  the teacher: person where it is sure (p > 0.75), background where it is sure (< 0.25), ignore
  between;
- photos with nobody in them, labelled all background: scikit-image's CC0 / public-domain
  textures and objects, and generated scenes (textured shapes on smooth backgrounds), so that
  "a salient thing in the middle" does not mean "a person";
- pasted people (``--pasted N``): CCP training subjects cut out along their hand-made masks and
  pasted, 1-3 at a time, at 5-130% of the frame's height (small, far-away people and close
  upper-body crops CCP's centred full-body photos never show), onto the other photos above;
  the pasted outline's 2-px band is ignored, so the seam teaches nothing.

The teacher is the bundled ``person`` model at 513 px. Masks are 0 background, 1 person,
255 ignore; photos are stored with the longer side at most 513. Kept out on purpose: chelsea
(a cat), coffee, rocket, horse and the motorcycle (negatives the benchmark scores), the room
clip, person_dev (internal use only) and portraits_hd (a scored set)::

    python -m deeplab.training.person_fast_data ../shared runs/person_fast_data
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from deeplab.atomic import atomic_path
from deeplab.data.folder import folder_examples
from deeplab.image_files import read_rgb
from deeplab.log import parse_args
from deeplab.progress import progress_bar

MAX_SIDE = 513
IGNORE = 255
SURE = 0.75
EDGE_BAND = 2
VIDEO_FRAME_STEP = 5
GENERATED_NEGATIVES = 160
PASTED_PEOPLE = 0
#: CCP's held-out split, as configs/person.yaml and the person benchmark make it.
CCP_VAL_FRACTION, CCP_SPLIT_SEED = 0.1, 0
#: scikit-image's bundled photos with no person, CC0 or public domain (their docstrings say so).
SKIMAGE_NEGATIVES = ("brick", "grass", "gravel", "immunohistochemistry", "retina", "text",
                     "clock", "cell", "microaneurysms", "coins", "hubble_deep_field")
WEBCAM_CLIPS = ("webcam_again.mkv", "webcam_book.mkv", "webcam_help.mkv", "webcam_thanks.mkv")


def shrink(image: np.ndarray, side: int = MAX_SIDE, nearest: bool = False) -> np.ndarray:
    """``image`` with its longer side at most ``side`` (area filter, or nearest for labels)."""
    height, width = image.shape[:2]
    scale = side / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA)


def sure_labels(probability: np.ndarray, sure: float = SURE) -> np.ndarray:
    """Teacher probability -> 1 where p > sure, 0 where p < 1 - sure, 255 between."""
    labels = np.full(probability.shape, IGNORE, np.uint8)
    labels[probability > sure] = 1
    labels[probability < 1.0 - sure] = 0
    return labels


def hand_labels(mask: np.ndarray, teacher_probability: np.ndarray, band: int = EDGE_BAND
                ) -> np.ndarray:
    """A hand-made person mask (0/255) as labels: every pixel the teacher calls person outside
    it, and a ``band``-px strip along its edge, ignored. Stricter than
    :func:`deeplab.data.unlabelled_people.rewrite_mask` (which keeps teacher pixels touching
    the subject as background): the shipped ``person_fast`` was trained on these labels."""
    person = mask > 127
    labels = person.astype(np.uint8)
    labels[~person & (teacher_probability > 0.5)] = IGNORE
    if band:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
        edge = cv2.dilate(person.astype(np.uint8), kernel) != cv2.erode(person.astype(np.uint8),
                                                                         kernel)
        labels[edge] = IGNORE
    return labels


def generated_negative(rng: np.random.Generator, textures: list[np.ndarray],
                       size: tuple[int, int] = (384, 512)) -> np.ndarray:
    """A scene with nobody in it: a smooth two-colour background and 1-4 textured shapes
    (ellipses and polygons, some large and central like a portrait's subject)."""
    height, width = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    ramp = (np.cos(angle) * xs / width + np.sin(angle) * ys / height)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    low, high = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    image = (low + ramp[..., None] * (high - low)).astype(np.float32)
    for _ in range(rng.integers(1, 5)):
        texture = textures[rng.integers(len(textures))]
        ty, tx = rng.integers(0, texture.shape[0] - height + 1), rng.integers(
            0, texture.shape[1] - width + 1)
        patch = texture[ty:ty + height, tx:tx + width].astype(np.float32)
        patch = patch * rng.uniform(0.5, 1.5, 3) + rng.uniform(-60, 60, 3)
        shape = np.zeros((height, width), np.uint8)
        centre = (int(rng.uniform(0.2, 0.8) * width), int(rng.uniform(0.2, 0.8) * height))
        if rng.random() < 0.5:
            axes = (int(rng.uniform(0.08, 0.35) * width), int(rng.uniform(0.1, 0.45) * height))
            cv2.ellipse(shape, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
        else:
            radius = rng.uniform(0.1, 0.4) * min(height, width)
            angles = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(3, 9)))
            points = np.stack([centre[0] + radius * np.cos(angles),
                               centre[1] + radius * np.sin(angles)], -1).astype(np.int32)
            cv2.fillPoly(shape, [points], 1)
        soft = cv2.GaussianBlur(shape.astype(np.float32), (0, 0), rng.uniform(0.5, 3))[..., None]
        image = image * (1 - soft) + patch * soft
    noise = rng.normal(0, rng.uniform(0, 6), image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def skimage_photos(names: tuple[str, ...] = SKIMAGE_NEGATIVES) -> dict[str, np.ndarray]:
    """scikit-image's bundled photos by name as uint8 RGB (gray ones repeated)."""
    import skimage.data

    photos = {}
    for name in names:
        image = np.asarray(getattr(skimage.data, name)())
        if image.dtype != np.uint8:
            image = (255 * (image.astype(np.float32) / max(float(image.max()), 1e-6))).astype(
                np.uint8)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=-1)
        photos[name] = np.ascontiguousarray(image[..., :3])
    return photos


def video_frames(path: Path, step: int = VIDEO_FRAME_STEP):
    """Every ``step``-th frame of a video as uint8 RGB."""
    capture = cv2.VideoCapture(str(path))
    index = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            if index % step == 0:
                yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        capture.release()


class FolderWriter:
    """Writes ``images/<stem>.png`` + ``masks/<stem>.png`` and remembers the split of each."""

    def __init__(self, root: Path):
        self.root = root
        (root / "images").mkdir()
        (root / "masks").mkdir()
        self.splits: dict[str, list[str]] = {"train": [], "val": []}

    def add(self, stem: str, image: np.ndarray, labels: np.ndarray, split: str = "train"):
        image, labels = shrink(image), shrink(labels, nearest=True)
        cv2.imwrite(str(self.root / "images" / f"{stem}.png"),
                    cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(self.root / "masks" / f"{stem}.png"), labels)
        self.splits[split].append(stem)

    def close(self) -> None:
        for split, stems in self.splits.items():
            (self.root / f"{split}.txt").write_text("".join(f"{s}\n" for s in stems))


def person_cutout(image: np.ndarray, labels: np.ndarray, band: int = EDGE_BAND
                  ) -> tuple[np.ndarray, np.ndarray] | None:
    """(RGB crop, alpha in [0, 1]) of the subject of a CCP photo written with
    :func:`hand_labels`: its sure person pixels grown back over the ignored edge band (never
    over sure background), softened by a pixel. None when there is no subject."""
    person = (labels == 1).astype(np.uint8)
    if person.sum() < 400:
        return None
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
    grown = cv2.dilate(person, kernel) & (labels != 0)
    ys, xs = np.nonzero(grown)
    margin = 2  # room for the softened edge to fade out inside the crop
    top, left = max(ys.min() - margin, 0), max(xs.min() - margin, 0)
    bottom, right = ys.max() + 1 + margin, xs.max() + 1 + margin
    alpha = cv2.GaussianBlur(grown[top:bottom, left:right].astype(np.float32), (0, 0), 0.7)
    return image[top:bottom, left:right], alpha


def paste_people(rng: np.random.Generator, background: np.ndarray, labels: np.ndarray,
                 cutouts: list[tuple[np.ndarray, np.ndarray]], band: int = EDGE_BAND
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``background`` (with its own ``labels``) with 1-3 of ``cutouts`` pasted over it at
    5-130% of its height, anywhere a part of them stays in frame (tall ones are cut at the
    bottom, like an upper-body shot). Pasted pixels are person; their outline's band is
    ignored; the background's labels stay where nothing covers them."""
    image = background.astype(np.float32)
    labels = labels.copy()
    height, width = labels.shape
    for _ in range(int(rng.integers(1, 4))):
        crop, alpha = cutouts[int(rng.integers(len(cutouts)))]
        scale = float(np.exp(rng.uniform(np.log(0.05), np.log(1.3)))) * height / crop.shape[0]
        size = (max(2, round(crop.shape[1] * scale)), max(2, round(crop.shape[0] * scale)))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA if scale < 1
                          else cv2.INTER_LINEAR).astype(np.float32)
        alpha = np.clip(cv2.resize(alpha, size, interpolation=cv2.INTER_LINEAR), 0, 1)
        if rng.random() < 0.5:
            crop, alpha = crop[:, ::-1], alpha[:, ::-1]
        crop = np.clip(crop * rng.uniform(0.75, 1.25, 3) + rng.uniform(-20, 20, 3), 0, 255)
        top = int(rng.integers(0, max(height - size[1] // 3, 1)))
        left = int(rng.integers(-size[0] // 3, max(width - 2 * size[0] // 3, 1)))
        y0, x0 = max(top, 0), max(left, 0)
        y1, x1 = min(top + size[1], height), min(left + size[0], width)
        if y1 - y0 < 2 or x1 - x0 < 2:
            continue
        a = alpha[y0 - top:y1 - top, x0 - left:x1 - left]
        image[y0:y1, x0:x1] = (image[y0:y1, x0:x1] * (1 - a[..., None])
                               + crop[y0 - top:y1 - top, x0 - left:x1 - left] * a[..., None])
        pasted = np.zeros((height, width), np.uint8)
        pasted[y0:y1, x0:x1] = a > 0.5
        labels[pasted > 0] = 1
        if band:
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * band + 1, 2 * band + 1))
            labels[cv2.dilate(pasted, kernel) != cv2.erode(pasted, kernel)] = IGNORE
    return np.clip(image, 0, 255).astype(np.uint8), labels


def add_pasted_people(root: Path, count: int, rng: np.random.Generator,
                      progress: bool = True) -> list[str]:
    """Write ``count`` pasted-people photos into the training folder ``root`` (images/,
    masks/, train.txt as :class:`FolderWriter` writes them): CCP training subjects over the
    folder's own training photos. Returns the new stems (the caller lists them in train.txt)."""
    stems = (root / "train.txt").read_text().split()

    def read(stem):
        image = cv2.cvtColor(cv2.imread(str(root / "images" / f"{stem}.png")), cv2.COLOR_BGR2RGB)
        return image, cv2.imread(str(root / "masks" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)

    cutouts = [c for c in (person_cutout(*read(s)) for s in stems if s.startswith("ccp_"))
               if c is not None]
    if not cutouts:
        raise ValueError(f"{root} has no CCP subjects to paste")
    written = []
    for index in progress_bar(range(count), desc="pasted people", enabled=progress):
        stem = stems[int(rng.integers(len(stems)))]
        image, labels = paste_people(rng, *read(stem), cutouts)
        name = f"pasted_{index:04d}"
        cv2.imwrite(str(root / "images" / f"{name}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(root / "masks" / f"{name}.png"), labels)
        written.append(name)
    return written


def build(shared: Path, destination: Path, teacher, seed: int = 0, progress: bool = True,
          pasted: int = PASTED_PEOPLE) -> dict[str, int]:
    """Write the folder (see the module doc); ``teacher(image) -> person probability``.
    Returns how many photos of each kind were written."""
    rng = np.random.default_rng(seed)
    counts = {"ccp": 0, "ccp_val": 0, "video": 0, "photo": 0, "negative": 0, "pasted": 0}
    with atomic_path(destination, directory=True) as temporary:
        writer = FolderWriter(Path(temporary))
        ccp = shared / "data" / "ccp"
        val = {e.stem for e in folder_examples(ccp, "val", CCP_VAL_FRACTION, CCP_SPLIT_SEED)}
        for image_path in progress_bar(sorted((ccp / "images").iterdir()), desc="CCP",
                                       enabled=progress):
            stem = image_path.stem
            image = shrink(read_rgb(image_path))
            mask = shrink(cv2.imread(str(ccp / "masks" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE),
                          nearest=True)
            mask = cv2.resize(mask, image.shape[1::-1], interpolation=cv2.INTER_NEAREST)
            if stem in val:
                writer.add(f"ccp_{stem}", image, (mask > 127).astype(np.uint8), "val")
                counts["ccp_val"] += 1
                continue
            writer.add(f"ccp_{stem}", image, hand_labels(mask, teacher(image)))
            counts["ccp"] += 1
        for clip in WEBCAM_CLIPS:
            for index, frame in video_frames(shared / "data" / "videos" / clip):
                frame = shrink(frame)
                writer.add(f"video_{Path(clip).stem}_{index:04d}", frame,
                           sure_labels(teacher(frame)))
                counts["video"] += 1
        astronaut = shrink(read_rgb(shared / "data" / "photos" / "astronaut.png"))
        writer.add("photo_astronaut", astronaut, sure_labels(teacher(astronaut)))
        counts["photo"] += 1
        photos = skimage_photos()
        for name, image in photos.items():
            writer.add(f"negative_{name}", image, np.zeros(image.shape[:2], np.uint8))
            counts["negative"] += 1
        textures = [cv2.resize(p, (768, 768)) for p in photos.values()]
        for index in range(GENERATED_NEGATIVES):
            image = generated_negative(rng, textures)
            writer.add(f"negative_generated_{index:03d}", image,
                       np.zeros(image.shape[:2], np.uint8))
            counts["negative"] += 1
        writer.close()
        if pasted:
            # a stream of its own: the same photos whatever came before them
            stems = add_pasted_people(Path(temporary), pasted, np.random.default_rng(seed + 1),
                                      progress)
            writer.splits["train"] += stems
            writer.close()
            counts["pasted"] = len(stems)
    return counts


def person_teacher(source: str = "person"):
    """uint8 RGB photo -> float person probability at its size (any weights source with a
    'person' class, run at 513 px)."""
    from deeplab.runtimes.keras import Segmenter

    segmenter = Segmenter.from_source(source)
    person = [name.lower() for name in segmenter.class_names].index("person")
    return lambda image: np.asarray(segmenter.probabilities(image[None])[0][..., person])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the person_fast training folder from "
                                                 "../shared (see the module doc).")
    parser.add_argument("shared", help="the ../shared folder")
    parser.add_argument("destination", help="new folder to write (must not exist)")
    parser.add_argument("--teacher", default="person", help="weights source (default: person)")
    parser.add_argument("--pasted", type=int, default=PASTED_PEOPLE, metavar="N",
                        help="also write N photos with CCP subjects pasted onto the others "
                             f"(default {PASTED_PEOPLE})")
    args = parse_args(parser, argv)
    destination = Path(args.destination)
    if destination.exists():
        parser.error(f"{destination} exists; name a new folder")
    counts = build(Path(args.shared), destination, person_teacher(args.teacher),
                   progress=not args.quiet, pasted=args.pasted)
    print(f"wrote {destination}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
