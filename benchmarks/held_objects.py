"""Held objects (``--keep-held``): how much of what a subject holds stays sharp, at what cost.

    python benchmarks/held_objects.py [--weights person]

A small labelled set, made here from files the project has:
- scikit-image's ``astronaut`` (her helmet) and ``camera`` (the cameraman's camera; the tripod
  it stands on is neither object nor background), labelled by hand (polygons below), when
  scikit-image is installed (not a dependency);
- ``person_dev`` photos (person masks) with an object pasted where it touches the person's
  side at hand height, a quarter of it over the person: the helmet and the camera cut from the
  two photos above, or a shaded, textured box or ball; object and person labels known exactly;
- ``person_dev`` as it is: the cost of the option on photos where nobody holds anything.
Kept = the refined matte >= 0.5 (what stays sharp). Per set, without and with the option:
object IoU (object pixels kept over the union of the object and everything kept beyond the
person), object recall, and the share of the background kept sharp; IoU with the person masks
on plain photos. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from deeplab.portrait import io as portrait_io  # noqa: E402
from deeplab.portrait import quality  # noqa: E402
from deeplab.portrait.models import DEFAULT_WEIGHTS, load_probability_model  # noqa: E402
from deeplab.portrait.render import (RenderConfig, matte_from_probabilities,  # noqa: E402
                                     working_image)

SHARED = ROOT.parent / "shared" / "data"
#: Hand-drawn labels on the 512x512 scikit-image photos: (x, y) polygons, circles (x, y, r).
HELMET = (390, 463, 118)
CAMERA = [(252, 145), (262, 138), (322, 138), (326, 150), (330, 185), (300, 190), (300, 215),
          (275, 215), (268, 190), (256, 185)]
TRIPOD = [(270, 215), (310, 215), (345, 300), (410, 505), (380, 510), (305, 330), (302, 495),
          (285, 495), (285, 330), (240, 510), (222, 500), (280, 300)]


def skimage_photos():
    """(name, photo, object mask, ignored mask) for the two labelled scikit-image photos."""
    try:
        from skimage import data
    except ImportError:
        print("scikit-image not installed: its photos are left out", file=sys.stderr)
        return []
    helmet = np.zeros((512, 512), np.uint8)
    cv2.circle(helmet, HELMET[:2], HELMET[2], 1, -1)
    camera = np.zeros((512, 512), np.uint8)
    cv2.fillPoly(camera, [np.array(CAMERA)], 1)
    tripod = np.zeros((512, 512), np.uint8)
    cv2.fillPoly(tripod, [np.array(TRIPOD)], 1)
    return [("astronaut", data.astronaut(), helmet > 0, np.zeros((512, 512), bool)),
            ("camera", np.dstack([data.camera()] * 3), camera > 0, (tripod > 0) & ~(camera > 0))]


def drawn_objects(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """A shaded textured box and a shaded ball: (RGB, mask) at 200 px."""
    size = 200
    yy, xx = np.mgrid[:size, :size].astype(np.float32) / size
    objects = []
    for shape in ("box", "ball"):
        colour = rng.integers(30, 226, 3).astype(np.float32)
        shade = 0.6 + 0.5 * (1 - yy) * (1 - 0.5 * xx)
        texture = rng.normal(0, 12, (size, size, 1)).astype(np.float32)
        rgb = np.clip(colour * shade[..., None] + texture, 0, 255).astype(np.uint8)
        mask = np.zeros((size, size), np.uint8)
        if shape == "box":
            cv2.rectangle(mask, (30, 50), (170, 150), 1, -1)
        else:
            cv2.circle(mask, (100, 100), 80, 1, -1)
        objects.append((rgb, mask > 0))
    return objects


def cut_objects(labelled) -> list[tuple[np.ndarray, np.ndarray]]:
    """The helmet and the camera cut from their photos at their bounding boxes."""
    objects = []
    for _, photo, mask, _ in labelled:
        ys, xs = np.nonzero(mask)
        box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
        objects.append((photo[box], mask[box]))
    return objects


def paste_touching(photo: np.ndarray, person: np.ndarray, obj: np.ndarray, obj_mask: np.ndarray,
                   rng: np.random.Generator):
    """The photo with ``obj`` pasted against the person's side at hand height (a quarter of it
    over the person), and the object's mask; None when the person does not allow it."""
    ys, xs = np.nonzero(person)
    if len(ys) < 100:
        return None
    height, width = person.shape
    top, bottom = ys.min(), ys.max()
    row = int(top + rng.uniform(0.45, 0.7) * (bottom - top))
    on_row = np.flatnonzero(person[row])
    if not len(on_row):
        return None
    target_w = int(np.clip(0.4 * (xs.max() - xs.min()), 0.12 * width, 0.35 * width))
    scale = target_w / obj.shape[1]
    size = (target_w, max(8, int(obj.shape[0] * scale)))
    obj = cv2.resize(obj, size, interpolation=cv2.INTER_AREA)
    obj_mask = cv2.resize(obj_mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    side = rng.choice([-1, 1])
    edge = on_row[0] if side < 0 else on_row[-1]
    cx = int(edge + side * 0.25 * size[0])
    x0, y0 = cx - size[0] // 2, row - size[1] // 2
    out, mask = photo.copy(), np.zeros(person.shape, bool)
    sy0, sx0 = max(0, -y0), max(0, -x0)
    sy1, sx1 = min(size[1], height - y0), min(size[0], width - x0)
    if sy1 - sy0 < 8 or sx1 - sx0 < 8:
        return None
    region = (slice(y0 + sy0, y0 + sy1), slice(x0 + sx0, x0 + sx1))
    piece = obj_mask[sy0:sy1, sx0:sx1]
    out[region][piece] = obj[sy0:sy1, sx0:sx1][piece]
    mask[region] = piece
    return out, mask


def kept_sharp(model, photo: np.ndarray, keep_held: bool) -> np.ndarray:
    working = working_image(photo)
    probabilities = model.probabilities(working.image[None])[0]
    config = RenderConfig(keep_held=keep_held)
    return matte_from_probabilities(photo, probabilities, config, working).alpha8 >= 128


def object_scores(kept: np.ndarray, obj: np.ndarray, person: np.ndarray, ignored: np.ndarray):
    beyond = kept & ~person & ~ignored
    background = ~obj & ~person & ~ignored
    return {"iou": (kept & obj).sum() / max(1, (beyond | obj).sum()),
            "recall": (kept & obj).sum() / max(1, obj.sum()),
            "background": (kept & background).sum() / max(1, background.sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=DEFAULT_WEIGHTS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = load_probability_model(args.weights)
    rng = np.random.default_rng(args.seed)
    rows: dict[str, dict[bool, list[dict]]] = {}

    def add(group, scores_by_option):
        for option, scores in scores_by_option.items():
            rows.setdefault(group, {}).setdefault(option, []).append(scores)

    labelled = skimage_photos()
    for name, photo, obj, ignored in labelled:
        # no person label here: the person is what the matte keeps without the option,
        # less the object
        person = kept_sharp(model, photo, False) & ~obj
        scores = {o: object_scores(kept_sharp(model, photo, o), obj, person, ignored)
                  for o in (False, True)}
        add("scikit-image (hand-labelled)", scores)
        print(f"{name}: object IoU {scores[False]['iou']:.3f} -> {scores[True]['iou']:.3f}, "
              f"background kept {scores[False]['background']:.4f} -> "
              f"{scores[True]['background']:.4f}")
    objects = cut_objects(labelled) + drawn_objects(rng)
    dev = SHARED / "person_dev"
    for index, path in enumerate(sorted((dev / "images").iterdir())):
        photo = portrait_io.read_photo(path).rgb
        person = portrait_io.read_matte(next((dev / "masks").glob(f"{path.stem}.*")),
                                        photo.shape[:2]) > 0.5
        plain = {o: kept_sharp(model, photo, o) for o in (False, True)}
        add("person_dev, nothing held", {
            o: {"iou": quality.iou(k.astype(np.float32), person),
                "background": (k & ~person).sum() / max(1, (~person).sum())}
            for o, k in plain.items()})
        obj, obj_mask = objects[index % len(objects)]
        pasted = paste_touching(photo, person, obj, obj_mask, rng)
        if pasted is None:
            continue
        image, mask = pasted
        add("person_dev + pasted object", {
            o: object_scores(kept_sharp(model, image, o), mask, person & ~mask,
                             np.zeros_like(mask)) for o in (False, True)})
    print("\n| set | photos | object IoU | object recall | background kept sharp | person IoU |")
    print("|---|---|---|---|---|---|")
    for group, by_option in rows.items():
        def cell(key):
            if key not in by_option[False][0]:
                return "-"
            before, after = (np.mean([s[key] for s in by_option[o]]) for o in (False, True))
            return f"{before:.3f} -> {after:.3f}"
        iou_key = "iou" if group.startswith("person_dev, nothing") else None
        print(f"| {group} | {len(by_option[False])} | "
              f"{'-' if iou_key else cell('iou')} | {'-' if iou_key else cell('recall')} | "
              f"{cell('background')} | {cell('iou') if iou_key else '-'} |")


if __name__ == "__main__":
    main()
