"""Replace mode: holes the compositing opens inside the subject, before and after, same run.

    python benchmarks/replace_holes.py [--weights person] [--ccp 40]

Replace mode lowers the matte where a pixel's colour matches the old background nearby (no
fringe over the new one); on a grayscale portrait (scikit-image's ``camera``) that matched the
bright cheek to the sky and showed the new background through it. The composite's effective
alpha is measured by compositing over black and over white (``a = 1 - (white - black) / 255``,
light wrap off), with the network's confidence protecting sure pixels (now) and without
(before). Per set: enclosed-hole fraction (``quality.hole_fraction``), subject pixels shown as
background (reference >= 0.5, alpha < 0.5, over the reference's area), background kept
(reference < 0.5, alpha >= 0.5, over the background's area) and the edge error of
``portrait_quality.py``. scikit-image photos are used when it is installed (not a dependency).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from deeplab.portrait import composite, quality  # noqa: E402
from deeplab.portrait import io as portrait_io  # noqa: E402
from deeplab.portrait.models import DEFAULT_WEIGHTS, load_probability_model  # noqa: E402
from deeplab.portrait.render import (RenderConfig, matte_from_probabilities,  # noqa: E402
                                     working_image)

SHARED = ROOT.parent / "shared" / "data"


def effective_alpha(photo: np.ndarray, refined, working) -> np.ndarray:
    """The alpha replace mode composites with, float [0, 1]."""
    height, width = photo.shape[:2]
    black = np.zeros((height, width, 3), np.uint8)
    white = np.full((height, width, 3), 255, np.uint8)
    over_black = composite.replace_composite(photo, refined, black, working, wrap=0.0)
    over_white = composite.replace_composite(photo, refined, white, working, wrap=0.0)
    return 1.0 - (over_white.astype(np.float32) - over_black).mean(axis=-1) / 255.0


def photos(ccp: int):
    """(name, set, RGB photo, reference float matte or None)."""
    try:
        from skimage import data
        for name in ("camera", "astronaut"):
            image = getattr(data, name)()
            yield name, "scikit-image", np.dstack([image] * 3) if image.ndim == 2 else image, None
    except ImportError:
        print("scikit-image not installed: its photos are left out", file=sys.stderr)
    folders = [("portraits_hd", "reference_mattes", None), ("person_dev", "masks", None),
               ("ccp", "masks", ccp)]
    for folder, references, last in folders:
        images = sorted((SHARED / folder / "images").iterdir())
        for path in images[-last:] if last else images:
            photo = portrait_io.read_photo(path).rgb
            reference = portrait_io.read_matte(
                next((SHARED / folder / references).glob(f"{path.stem}.*")), photo.shape[:2])
            if folder != "portraits_hd":
                reference = (reference > 0.5).astype(np.float32)
            yield path.stem, folder, photo, reference


def measure(alpha: np.ndarray, reference: np.ndarray | None) -> dict[str, float]:
    row = {"holes": quality.hole_fraction(alpha)}
    if reference is not None:
        subject = reference >= 0.5
        row["lost"] = float((subject & (alpha < 0.5)).sum() / max(1, subject.sum()))
        row["kept"] = float((~subject & (alpha >= 0.5)).sum() / max(1, (~subject).sum()))
        row["edge"] = quality.edge_error(alpha, reference)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=DEFAULT_WEIGHTS)
    parser.add_argument("--ccp", type=int, default=40, help="last N ccp photos")
    args = parser.parse_args()
    model = load_probability_model(args.weights)
    config = RenderConfig(mode="replace", background=np.zeros((1, 1, 3), np.uint8))
    results: dict[str, dict[str, list[dict]]] = {}
    for name, group, photo, reference in photos(args.ccp):
        working = working_image(photo)
        probabilities = model.probabilities(working.image[None])[0]
        refined = matte_from_probabilities(photo, probabilities, config, working)
        now = effective_alpha(photo, refined, working)
        refined.confidence = None
        before = effective_alpha(photo, refined, working)
        for label, alpha in (("before", before), ("now", now)):
            results.setdefault(group, {}).setdefault(label, []).append(measure(alpha, reference))
        if group == "scikit-image":
            print(f"{name}: holes {measure(before, None)['holes']:.4f} -> "
                  f"{measure(now, None)['holes']:.4f}")
    print("\n| set | photos | holes before -> now | subject lost | background kept | "
          "edge error |\n|---|---|---|---|---|---|")
    for group, runs in results.items():
        def mean(label, key):
            values = [row[key] for row in runs[label] if key in row]
            return f"{np.nanmean(values):.4f}" if values else "-"
        cells = [f"{mean('before', k)} -> {mean('now', k)}"
                 for k in ("holes", "lost", "kept", "edge")]
        print(f"| {group} | {len(runs['now'])} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
