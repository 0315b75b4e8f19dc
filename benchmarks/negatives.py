"""Non-people are not people: how much of a photo without anyone in it each model calls subject.

    python benchmarks/negatives.py [--model NAME_OR_PATH --input-size N] [--per-photo]

Photos without a person, none stored in the project:

- scikit-image's bundled photos (``pip install scikit-image``: a benchmark-only dependency,
  never a runtime one), each with the licence its ``skimage.data`` docstring states (below);
  photos whose docstring states none (moon, page, colorwheel, logo, the Middlebury motorcycle)
  and those with people (astronaut, camera) are left out;
- procedural negatives made here from a seed: shapes, textures, gratings, and photo objects
  pasted on textures (a cat on bricks, a cup on gravel, a rocket on grass);
- empty-room frames: the first 4.5 s of ``room_people_enter.mp4`` (CC BY 4.0), before anyone
  walks in.

For each model: what ``infer.py --mode matte`` writes (the photo's working size, portrait
mode's subject selection and refined matte; ``deeplab.portrait.render``), thresholded at 0.5:
the mean and largest fraction of the frame it covers, and how many photos portrait mode reports
as holding no subject (``deeplab.portrait.presence.has_subject`` on the matte, as
``infer.py`` decides). Models: ours (``person`` at 513 px), the TFLite example's PASCAL DeepLab
257 (person class), and MediaPipe selfie as its example runs it (its probability > 0.5);
``--model`` replaces the DeepLab ones with any weights name or path. Acceptance (issue 17):
mean coverage < 1% and every photo reported as no subject.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from deeplab.portrait.models import FAST_WEIGHTS, load_probability_model  # noqa: E402
from deeplab.portrait.veto import with_object_veto  # noqa: E402
from deeplab.training.person_fast_data import SKIMAGE_NEGATIVES  # noqa: E402
from deeplab.portrait.person_score import SquareTFLite  # noqa: E402
from deeplab.portrait.presence import has_subject, subject_area  # noqa: E402
from deeplab.portrait.render import (PHOTO_INPUT_SIZE, RenderConfig,  # noqa: E402
                                     matte_from_probabilities, working_image)
from deeplab.portrait.video_io import DecodedFrame, VideoReader  # noqa: E402

SHARED = Path(os.environ.get("DEEPLAB_SHARED_DIR", ROOT.parent / "shared"))
ANCHORS = SHARED / "models" / "anchors"
PASCAL_257 = ANCHORS / "tflite_deeplabv3_257" / "deeplabv3_257_mv_gpu.tflite"
MEDIAPIPE = ANCHORS / "mediapipe_selfie" / "selfie_segmentation.tflite"
ROOM = SHARED / "data" / "videos" / "room_people_enter.mp4"
ROOM_FRAMES = (0, 15, 30, 45)  # 10 frames/s: the first 4.5 s, before anyone enters

#: skimage.data photo -> its licence, as the function's docstring states it.
SKIMAGE_PHOTOS = {
    "chelsea": "CC0 (Stefan van der Walt)",
    "coffee": "CC0 (Rachel Michetti)",
    "rocket": "public domain (SpaceX)",
    "coins": "no known copyright restrictions (Brooklyn Museum)",
    "horse": "CC0 (Andreas Preuss, openclipart)",
    "hubble_deep_field": "public domain (NASA)",
    "brick": "CC0 (CC0Textures)",
    "grass": "CC0 (DeviantArt, linolafett)",
    "gravel": "CC0 (CC0Textures)",
    "clock": "public domain (Stefan van der Walt)",
    "text": "public domain (Wikipedia)",
    "immunohistochemistry": "no known copyright restrictions (CMMI)",
    "retina": "CC0 (Mikael Haggstrom, Wikimedia)",
    "cell": "CC0",
}


# --- the negatives ------------------------------------------------------------------------------

def as_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 RGB from a gray, boolean, RGB or RGBA array (RGBA composited over white)."""
    image = np.asarray(image)
    if image.dtype == bool:
        image = np.where(image, 255, 0).astype(np.uint8)  # the horse (False) black on white
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[-1] == 4:
        alpha = image[..., 3:].astype(np.float32) / 255.0
        return (image[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return image


def skimage_photos() -> dict[str, np.ndarray]:
    try:
        from skimage import data
    except ImportError:
        raise SystemExit("benchmarks/negatives.py needs scikit-image for its photos: "
                         "pip install scikit-image (benchmark only)") from None
    return {name: as_rgb(getattr(data, name)()) for name in SKIMAGE_PHOTOS}


def texture(rng: np.random.Generator, size: tuple[int, int], scale: float) -> np.ndarray:
    """Coloured band-limited noise (clouds, stone, foliage-like), uint8 RGB."""
    height, width = size
    small = rng.random((max(2, int(height / scale)), max(2, int(width / scale)), 3))
    smooth = cv2.resize(small.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    tint = rng.uniform(0.3, 1.0, 3).astype(np.float32)
    return np.clip(smooth * tint * 255, 0, 255).astype(np.uint8)


def shapes(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Random ellipses, rectangles and polygons on a gradient: objects without a person."""
    height, width = size
    ramp = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    low, high = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    image = np.ascontiguousarray(np.broadcast_to(low + (high - low) * ramp, (height, width, 3))
                                 .astype(np.uint8))
    for _ in range(12):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = rng.integers(3)
        centre = (int(rng.integers(width)), int(rng.integers(height)))
        if kind == 0:
            axes = (int(rng.integers(10, width // 4)), int(rng.integers(10, height // 4)))
            cv2.ellipse(image, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
        elif kind == 1:
            corner = (centre[0] + int(rng.integers(20, width // 3)),
                      centre[1] + int(rng.integers(20, height // 3)))
            cv2.rectangle(image, centre, corner, colour, -1)
        else:
            points = rng.integers(0, [width, height], (5, 2)).astype(np.int32)
            cv2.fillPoly(image, [points], colour)
    return image


def grating(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Two crossed sinusoidal gratings in colour (stripes, fabric, blinds)."""
    height, width = size
    y, x = np.mgrid[:height, :width].astype(np.float32)
    angle, period = rng.uniform(0, np.pi), rng.uniform(8, 40)
    wave = np.sin((x * np.cos(angle) + y * np.sin(angle)) * 2 * np.pi / period)
    wave2 = np.sin((x * np.sin(angle) - y * np.cos(angle)) * 2 * np.pi / (period * 2.3))
    mix = (0.5 + 0.25 * wave + 0.25 * wave2)[..., None]
    a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    return (a + (b - a) * mix).astype(np.uint8)


def pasted(thing: np.ndarray, background: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``thing`` (uint8 RGB) scaled to about half the background's height and pasted on it."""
    height, width = background.shape[:2]
    scale = 0.5 * height / thing.shape[0]
    thing = cv2.resize(thing, (max(1, int(thing.shape[1] * scale)), max(1, int(height * 0.5))),
                       interpolation=cv2.INTER_AREA)
    th, tw = thing.shape[:2]
    top, left = int(rng.integers(0, height - th + 1)), int(rng.integers(0, max(1, width - tw + 1)))
    out = background.copy()
    out[top:top + th, left:left + tw] = thing[:, :min(tw, width - left)]
    return out


def procedural(photos: dict[str, np.ndarray], seed: int = 17) -> dict[str, np.ndarray]:
    """Generated negatives (480x640), fixed by ``seed``."""
    rng = np.random.default_rng(seed)
    size = (480, 640)
    made = {f"shapes_{i}": shapes(rng, size) for i in range(3)}
    made.update({f"texture_{i}": texture(rng, size, scale) for i, scale in
                 enumerate((8.0, 40.0))})
    made.update({f"grating_{i}": grating(rng, size) for i in range(2)})
    brick = cv2.resize(photos["brick"], size[::-1])
    gravel = cv2.resize(photos["gravel"], size[::-1])
    grass = cv2.resize(photos["grass"], size[::-1])
    made["cat_on_bricks"] = pasted(photos["chelsea"], brick, rng)
    made["cup_on_gravel"] = pasted(photos["coffee"], gravel, rng)
    made["rocket_on_grass"] = pasted(photos["rocket"], grass, rng)
    return made


def room_frames() -> dict[str, np.ndarray]:
    frames = {}
    with VideoReader(ROOM) as reader:
        for event in reader.events():
            if isinstance(event, DecodedFrame) and event.index in ROOM_FRAMES:
                frames[f"empty_room_{event.index}"] = event.rgb
            if len(frames) == len(ROOM_FRAMES):
                break
    return frames


def negatives() -> dict[str, dict[str, np.ndarray]]:
    """group -> name -> uint8 RGB photo."""
    photos = skimage_photos()
    return {"skimage photos": photos, "procedural": procedural(photos),
            "empty room": room_frames()}


# --- models -------------------------------------------------------------------------------------

#: A model under test: uint8 RGB photo -> the matte (or probability) portrait mode decides on.
Matte = Callable[[np.ndarray], np.ndarray]


def portrait_matte(source: str, input_size: int | None, veto: bool = False
                   ) -> tuple[str, Matte]:
    """Ours as ``infer.py --mode matte`` runs it: the photo at the working size, the person
    class, subject selection, refined full-resolution matte (uint8). ``veto``: the default
    photo model asks the fast model (``deeplab.portrait.veto``), as infer.py does for photos.
    ``input_size`` None: a bundled prebuilt network's own size."""
    model = load_probability_model(source, input_size=input_size or PHOTO_INPUT_SIZE)
    input_size = input_size or model.preferred_size or PHOTO_INPUT_SIZE
    if veto:
        model = with_object_veto(model)
    names = [str(name).lower() for name in model.class_names]
    if "person" not in names:
        raise SystemExit(f"{source}: the model has no 'person' class: {list(model.class_names)}")
    config = RenderConfig(mode="matte", subject_classes=(names.index("person"),))

    def matte(photo: np.ndarray) -> np.ndarray:
        working = working_image(photo, input_size)
        probabilities = model.probabilities(working.image[np.newaxis])[0]
        return matte_from_probabilities(photo, probabilities, config, working).alpha8

    name = Path(source).name if os.sep in source else source
    return f"{name} at {input_size}" + (" + object veto (infer.py photos)" if veto else ""), matte


def mediapipe_matte() -> tuple[str, Matte]:
    square = SquareTFLite(MEDIAPIPE, "mediapipe")
    return "MediaPipe selfie 256", square.person_probability


def measure(matte: Matte, groups: dict[str, dict[str, np.ndarray]]) -> dict:
    """Per photo: fraction of the frame at least half subject, and whether it counts as one."""
    rows = {}
    for group, photos in groups.items():
        for name, photo in photos.items():
            values = matte(photo)
            rows[name] = {"group": group, "coverage": subject_area(values),
                          "subject": bool(has_subject(values))}
    return rows


def summary(rows: dict) -> dict:
    """Over every photo, and over the photos person_fast was not trained on (``held_out``)."""
    held_out = {name: row for name, row in rows.items() if name not in SKIMAGE_NEGATIVES}
    result = _summary(rows)
    result["held_out"] = _summary(held_out)
    return result


def _summary(rows: dict) -> dict:
    coverage = [row["coverage"] for row in rows.values()]
    return {"mean_coverage_pct": 100.0 * float(np.mean(coverage)),
            "max_coverage_pct": 100.0 * float(np.max(coverage)),
            "no_subject": sum(not row["subject"] for row in rows.values()),
            "photos": len(rows)}


def iter_models(args) -> Iterator[tuple[str, Matte]]:
    if args.model:
        yield portrait_matte(args.model, args.input_size or PHOTO_INPUT_SIZE)
    else:
        yield portrait_matte("person", args.input_size or PHOTO_INPUT_SIZE, veto=True)
        yield portrait_matte("person", args.input_size or PHOTO_INPUT_SIZE)
        yield portrait_matte(FAST_WEIGHTS, None)  # infer.py's video frames
        yield portrait_matte(str(PASCAL_257), 257)
    yield mediapipe_matte()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="weights name or path to measure instead of the "
                                        "default DeepLab models (person, TFLite PASCAL 257)")
    parser.add_argument("--input-size", type=int,
                        help=f"working size for --model (default {PHOTO_INPUT_SIZE})")
    parser.add_argument("--per-photo", action="store_true", help="print every photo's figures")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if not ROOM.is_file() or not MEDIAPIPE.is_file():
        print(f"needs {SHARED} (the project's ../shared folder)", file=sys.stderr)
        return 2
    if args.input_size is not None and not args.model:
        parser.error("--input-size goes with --model")

    groups = negatives()
    count = sum(len(photos) for photos in groups.values())
    results = {}
    for label, matte in iter_models(args):
        results[label] = measure(matte, groups)
        print(f"  measured {label}", file=sys.stderr)

    print(f"\n{count} photos without a person: "
          + ", ".join(f"{len(p)} {g}" for g, p in groups.items()))
    print("| model | mean coverage % | largest % | reported as no subject | the same on photos "
          "person_fast never saw | worst photos |")
    print("|---|---|---|---|---|---|")
    for label, rows in results.items():
        row = summary(rows)
        worst = sorted(rows, key=lambda name: -rows[name]["coverage"])[:3]
        worst_text = ", ".join(f"{name} {100 * rows[name]['coverage']:.1f}%" for name in worst)
        held = row["held_out"]
        print(f"| {label} | {row['mean_coverage_pct']:.2f} | {row['max_coverage_pct']:.1f} | "
              f"{row['no_subject']}/{row['photos']} | {held['mean_coverage_pct']:.2f}%, "
              f"{held['no_subject']}/{held['photos']} | {worst_text} |")
    print("\nacceptance: mean coverage < 1% and every photo reported as no subject")
    if args.per_photo:
        labels = list(results)
        print("\n| photo | group | " + " | ".join(labels) + " |")
        print("|---|---|" + "---|" * len(labels))
        for name, first in results[labels[0]].items():
            cells = [f"{100 * results[label][name]['coverage']:.1f}%"
                     + ("" if not results[label][name]["subject"] else " (subject)")
                     for label in labels]
            print(f"| {name} | {first['group']} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps({label: {"summary": summary(rows), "photos": rows}
                                         for label, rows in results.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
