"""Video flicker and accuracy, per-frame against the temporal smoother, side by side in one run.

    python benchmarks/video_flicker.py [--model person_fast] [--input-size N] [--clips 4]

Every frame goes through portrait mode's video path, with the functions ``process_video`` calls:
the frame shrunk to the working size (``working_image``), the network's probabilities, subject
selection (``subject_probability_of``), then either nothing (per-frame) or a
``TemporalSmoother`` (the probability smoothed, then the refined matte held with ``hold``), and
the edge-aware matte at full resolution (``refine``). The network runs once per frame; every path
refines its output, so they differ only by the smoother. Three paths: per-frame, "stabilised"
(the default ``TemporalConfig``) and "previous" (``PREVIOUS``: session 5's settings, motion at
128 px spread 5 px, value jumps of 0.3 taken at once, no hysteresis), so a change to the
smoother is measured against what it replaces in the same run. By default the bundled video
model at its own working size, as ``infer.py`` runs video.

- Synthetic clips (640x480, made here): a person cut out of a held-out CCP photo with its
  hand-made mask, composited over a still background (the empty room at the start of
  ``room_people_enter.mp4``), standing still, walking sideways (6 px a frame), standing, then
  coming closer (2% a frame), with camera noise (Gaussian, ``--noise`` levels) added to every
  frame. The mask moves with the person, so each frame has a known matte. Reported: mean IoU
  of the matte > 0.5 against it; static flicker, the mean |matte change| between consecutive
  frames (in % of full scale) where the known matte does not change: over all such pixels, over
  those farther than ``--margin`` px from any change (beyond the matte filters' reach, where a
  change cannot be the soft outline following the person), and in the frame pairs where the
  person stands still; and a dtSSD-style figure where the known matte changes (root mean square
  of the matte's change minus the known change over those pixels, x100, mean over frame pairs).
- The webcam clips (``webcam_*.mkv``), scored against themselves: flicker over the pixels whose
  (lightly blurred) luma changed by less than ``--still-levels`` between consecutive frames
  (all), and over those farther than the margin from any pixel that changed more (away); and
  the mean IoU of the stabilised matte against the per-frame one (how far smoothing moves it).

Acceptance (issue 17): stabilised static-area flicker at most half of per-frame's, with IoU not
lower. The smoother's own cost per frame is printed too. ``--truth-blur`` adds a reference row:
the known matte itself blurred (Gaussian, that sigma in px), a matte that follows the person
perfectly but has a soft edge, to show how much of the "all" figure an outline's softness alone
costs while the person moves.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from deeplab.image_files import read_rgb  # noqa: E402
from deeplab.portrait import person_score  # noqa: E402
from deeplab.portrait.matte import refine  # noqa: E402
from deeplab.portrait.models import FAST_WEIGHTS, load_probability_model  # noqa: E402
from deeplab.portrait.render import (VIDEO_INPUT_SIZE, RenderConfig,  # noqa: E402
                                     subject_probability_of, working_image)
from deeplab.portrait.temporal import TemporalConfig, TemporalSmoother  # noqa: E402
from deeplab.portrait.video import video_render_config  # noqa: E402
from deeplab.portrait.video_io import DecodedFrame, VideoReader  # noqa: E402

SHARED = Path(os.environ.get("DEEPLAB_SHARED_DIR", ROOT.parent / "shared"))
VIDEOS = SHARED / "data" / "videos"
FRAME_SIZE = (640, 480)  # width, height: what a laptop webcam gives
PATHS = ("per-frame", "previous", "stabilised")
# session 5's smoother, for the comparison in the same run (the hysteresis off)
PREVIOUS = TemporalConfig(motion_side=128, reach=0.04, jump=0.3, opaque_at=1.0, opaque_until=1.0,
                          clear_at=0.0, clear_until=0.0)


# --- metrics ------------------------------------------------------------------------------------

def iou(predicted: np.ndarray, reference: np.ndarray) -> float:
    """IoU of two boolean masks (1 when both are empty)."""
    union = np.count_nonzero(predicted | reference)
    return 1.0 if union == 0 else np.count_nonzero(predicted & reference) / union


def mean_change(before: np.ndarray, after: np.ndarray, where: np.ndarray) -> float | None:
    """Mean |after - before| over ``where`` (None when ``where`` is empty)."""
    if not where.any():
        return None
    return float(np.abs(after - before)[where].mean())


def dtssd(before: np.ndarray, after: np.ndarray, truth_before: np.ndarray,
          truth_after: np.ndarray, where: np.ndarray) -> float | None:
    """dtSSD-style: RMS over ``where`` of the matte's temporal change minus the truth's, x100."""
    if not where.any():
        return None
    error = (after - before) - (truth_after - truth_before)
    return float(np.sqrt(np.mean(error[where] ** 2)) * 100.0)


def away_from(changed: np.ndarray, margin: int) -> np.ndarray:
    """Pixels farther than ``margin`` px from every True pixel of ``changed``."""
    if not changed.any():
        return np.ones_like(changed)
    size = 2 * margin + 1
    near = cv2.dilate(changed.astype(np.uint8),
                      cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    return near == 0


def still_pixels(before: np.ndarray, after: np.ndarray, levels: float) -> np.ndarray:
    """Pixels whose luma (Gaussian 5x5 blurred: camera noise is not motion) changed by less
    than ``levels`` between two uint8 RGB frames."""
    def blurred_luma(frame):
        return cv2.GaussianBlur(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32),
                                (5, 5), 0)

    return np.abs(blurred_luma(after) - blurred_luma(before)) < levels


@dataclass
class Figures:
    """Per-frame figures of one path over one or more clips, and their means."""

    ious: list[float] = field(default_factory=list)
    flicker: list[float] = field(default_factory=list)
    flicker_far: list[float] = field(default_factory=list)
    flicker_still: list[float] = field(default_factory=list)
    dtssd: list[float] = field(default_factory=list)

    def add(self, kind: str, value: float | None) -> None:
        if value is not None:
            getattr(self, kind).append(value)

    def summary(self) -> dict:
        def mean(values):
            return float(np.mean(values)) if values else float("nan")

        return {"iou": mean(self.ious), "flicker_pct": 100.0 * mean(self.flicker),
                "flicker_far_pct": 100.0 * mean(self.flicker_far),
                "flicker_still_pct": 100.0 * mean(self.flicker_still),
                "dtssd": mean(self.dtssd), "pairs": len(self.flicker)}


# --- the portrait video path --------------------------------------------------------------------

class Paths:
    """Per-frame and smoothed mattes of one clip, from one network pass per frame."""

    def __init__(self, model, config: RenderConfig, input_size: int,
                 temporal: TemporalConfig = TemporalConfig()):
        self.model, self.config, self.input_size = model, config, input_size
        self.smoothers = {"previous": TemporalSmoother(PREVIOUS),
                          "stabilised": TemporalSmoother(temporal)}
        self.smoother_ms: list[float] = []  # the default smoother's own cost
        self.hold_ms: list[float] = []

    def mattes(self, frame: np.ndarray) -> dict[str, np.ndarray]:
        """float32 full-resolution mattes in [0, 1] for each path (what the video renders with)."""
        working = working_image(frame, self.input_size)
        probabilities = self.model.probabilities(working.image[np.newaxis])[0]
        probability = subject_probability_of(probabilities, self.config)
        mattes = {"per-frame": refine(frame, probability, self.config.matte, working).as_float()}
        for name, smoother in self.smoothers.items():
            start = time.perf_counter()
            smoothed = smoother(probability, working.image)
            smoother_ms = (time.perf_counter() - start) * 1000
            held = refine(frame, smoothed, self.config.matte, working)
            start = time.perf_counter()
            held = smoother.hold(held)
            if name == "stabilised":
                self.smoother_ms.append(smoother_ms)
                self.hold_ms.append((time.perf_counter() - start) * 1000)
            mattes[name] = held.as_float()
        return mattes


# --- synthetic clips ----------------------------------------------------------------------------

def still_background() -> np.ndarray:
    """The empty room (first frame of room_people_enter.mp4), cropped to 4:3, 640x480."""
    with VideoReader(VIDEOS / "room_people_enter.mp4") as reader:
        frame = next(e.rgb for e in reader.events() if isinstance(e, DecodedFrame))
    height, width = frame.shape[:2]
    crop = min(width, round(height * 4 / 3))
    left = (width - crop) // 2
    return cv2.resize(frame[:, left:left + crop], FRAME_SIZE, interpolation=cv2.INTER_AREA)


def cut_out(example: person_score.Example) -> tuple[np.ndarray, np.ndarray]:
    """The person of a CCP photo (RGB, alpha in [0, 1]) cropped to the mask and scaled to
    70% of the frame's height."""
    photo = read_rgb(example.image_path)
    mask = person_score.reference_mask(example.mask_path, photo.shape[:2])
    ys, xs = np.nonzero(mask)
    top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    photo, alpha = photo[top:bottom, left:right], mask[top:bottom, left:right].astype(np.float32)
    scale = 0.7 * FRAME_SIZE[1] / photo.shape[0]
    size = (max(1, round(photo.shape[1] * scale)), max(1, round(photo.shape[0] * scale)))
    return (cv2.resize(photo, size, interpolation=cv2.INTER_AREA),
            cv2.resize(alpha, size, interpolation=cv2.INTER_AREA))


def motion_schedule(frames: int) -> list[tuple[float, float]]:
    """(x shift in px, scale) per frame: still, walk sideways, still, come closer."""
    quarter = max(1, frames // 4)
    schedule, x, scale = [], 0.0, 1.0
    for i in range(frames):
        phase = min(3, i // quarter)
        if phase == 1:
            x += 6.0
        elif phase == 3:
            scale *= 1.02
        schedule.append((x, scale))
    return schedule


def synthetic_clip(person: np.ndarray, alpha: np.ndarray, background: np.ndarray, frames: int,
                   noise: float, seed: int):
    """Yields (uint8 RGB frame, float32 known matte) for a person moving over ``background``."""
    width, height = FRAME_SIZE
    rng = np.random.default_rng(seed)
    base_x = width * 0.3 - person.shape[1] / 2
    base_y = height - person.shape[0] - 0.05 * height
    foot = (person.shape[1] / 2, person.shape[0])  # scale about the feet: the person comes closer
    for x, scale in motion_schedule(frames):
        warp = np.float32([[scale, 0, base_x + x + foot[0] * (1 - scale)],
                           [0, scale, base_y + foot[1] * (1 - scale)]])
        fg = cv2.warpAffine(person, warp, FRAME_SIZE, flags=cv2.INTER_LINEAR)
        matte = cv2.warpAffine(alpha, warp, FRAME_SIZE, flags=cv2.INTER_LINEAR)
        blend = matte[..., None]
        frame = fg * blend + background * (1.0 - blend)
        frame = frame + rng.normal(0.0, noise, frame.shape)
        yield np.clip(frame + 0.5, 0, 255).astype(np.uint8), matte


def score_synthetic(model, config, input_size, examples, frames, noise, margin,
                    truth_blur: float = 0.0, temporal: TemporalConfig = TemporalConfig(),
                    ) -> tuple[dict, list, list]:
    background = still_background()
    blurred = f"known matte blurred {truth_blur:g} px"
    figures = {name: Figures() for name in PATHS + ((blurred,) if truth_blur > 0 else ())}
    smoother_ms: list[float] = []
    hold_ms: list[float] = []
    for number, example in enumerate(examples):
        person, alpha = cut_out(example)
        paths = Paths(model, config, input_size, temporal)
        previous = None
        for frame, truth in synthetic_clip(person, alpha, background, frames, noise, number):
            mattes = paths.mattes(frame)
            if truth_blur > 0:
                mattes[blurred] = cv2.GaussianBlur(truth, (0, 0), truth_blur)
            for name, matte in mattes.items():
                figures[name].ious.append(iou(matte > 0.5, truth > 0.5))
                if previous is not None:
                    truth_before, before = previous[0], previous[1][name]
                    moved = np.abs(truth - truth_before) > 1e-3
                    figures[name].add("flicker", mean_change(before, matte, ~moved))
                    figures[name].add("flicker_far", mean_change(before, matte,
                                                                 away_from(moved, margin)))
                    if not moved.any():
                        figures[name].add("flicker_still", mean_change(before, matte, ~moved))
                    figures[name].add("dtssd", dtssd(before, matte, truth_before, truth, moved))
            previous = (truth, mattes)
        smoother_ms += paths.smoother_ms[1:]
        hold_ms += paths.hold_ms[1:]
        print(f"  synthetic clip {number + 1}/{len(examples)} ({example.name})", file=sys.stderr)
    return {name: f.summary() for name, f in figures.items()}, smoother_ms, hold_ms


# --- webcam clips -------------------------------------------------------------------------------

def score_webcam(model, config, input_size, clip: Path, still_levels: float,
                 margin: int) -> dict:
    figures = {name: Figures() for name in PATHS}
    agreement = []
    paths = Paths(model, config, input_size)
    previous = None
    with VideoReader(clip) as reader:
        for event in reader.events():
            if not isinstance(event, DecodedFrame):
                continue
            frame = event.rgb
            mattes = paths.mattes(frame)
            agreement.append(iou(mattes["stabilised"] > 0.5, mattes["per-frame"] > 0.5))
            if previous is not None:
                still = still_pixels(previous[0], frame, still_levels)
                away = away_from(~still, margin)
                for name, matte in mattes.items():
                    figures[name].add("flicker", mean_change(previous[1][name], matte, still))
                    figures[name].add("flicker_far", mean_change(previous[1][name], matte, away))
            previous = (frame, mattes)
    result = {name: f.summary() for name, f in figures.items()}
    result["agreement_iou"] = float(np.mean(agreement))
    return result


# --- report -------------------------------------------------------------------------------------

def person_class(model) -> int:
    names = [str(name).lower() for name in model.class_names]
    if "person" not in names:
        raise SystemExit(f"the model has no 'person' class: {list(model.class_names)}")
    return names.index("person")


def ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}x" if base > 0 else "-"


def load_video_model(name: str, input_size: int | None):
    """The model and its working size as the video path picks it: ``input_size``, else the size
    a bundled fast network was built for, else ``VIDEO_INPUT_SIZE``."""
    model = load_probability_model(name, input_size=input_size or VIDEO_INPUT_SIZE)
    size = input_size or getattr(model, "preferred_size", None) or VIDEO_INPUT_SIZE
    resize = getattr(model, "for_input_size", None)
    if resize is not None:
        model = resize(size)
    return model, int(getattr(model, "crop_size", None) or size)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=FAST_WEIGHTS,
                        help="weights name or path (a bundled name, a .tflite, any source; "
                             f"default {FAST_WEIGHTS}, the video model)")
    parser.add_argument("--input-size", type=int,
                        help="working size, longer side in px (default: the model's own, else "
                             f"{VIDEO_INPUT_SIZE}, as the video path picks it)")
    parser.add_argument("--clips", type=int, default=4, help="synthetic clips (CCP val photos)")
    parser.add_argument("--frames", type=int, default=48, help="frames per synthetic clip")
    parser.add_argument("--noise", type=float, default=3.0,
                        help="camera noise added to synthetic frames (std, 0-255 levels)")
    parser.add_argument("--still-levels", type=float, default=2.0,
                        help="webcam: luma change below which a pixel counts as still")
    parser.add_argument("--margin", type=int,
                        help="px from any change (of the known matte; of the webcam picture) "
                             "beyond which a pixel is 'away' (default: the matte filters' reach)")
    parser.add_argument("--truth-blur", type=float, default=3.0,
                        help="sigma (px) of the blurred known matte in the reference row (0: none)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if not (VIDEOS / "room_people_enter.mp4").is_file():
        print(f"needs {SHARED} (the project's ../shared folder)", file=sys.stderr)
        return 2
    if args.clips < 1 or args.frames < 8:
        parser.error("--clips must be >= 1 and --frames >= 8")
    if args.truth_blur < 0:
        parser.error("--truth-blur must be >= 0")

    model, input_size = load_video_model(args.model, args.input_size)
    config = video_render_config(RenderConfig(mode="matte", subject_classes=(person_class(model),)))
    examples = person_score.ccp_validation(SHARED)[:args.clips]
    margin = args.margin
    if margin is None:  # the colour-guided pass reaches this far, in full-resolution px
        margin = -(-config.matte.coarse_radius * max(FRAME_SIZE) // input_size) + 2
    synthetic, smoother_ms, hold_ms = score_synthetic(model, config, input_size, examples,
                                                      args.frames, args.noise, margin,
                                                      args.truth_blur)
    webcam = {clip.name: score_webcam(model, config, input_size, clip, args.still_levels,
                                      margin)
              for clip in sorted(VIDEOS.glob("webcam_*.mkv"))}

    print(f"\nmodel {args.model} at {input_size} px; smoother (stabilised) "
          f"{np.median(smoother_ms):.2f} ms/frame, matte hold {np.median(hold_ms):.2f} "
          "ms/frame (medians)\n")
    print(f"synthetic: {len(examples)} clips x {args.frames} frames, 640x480, noise "
          f"{args.noise:g} levels")
    print(f"static flicker %: where the known matte does not change (all), the same only "
          f"farther than {margin} px from any change (away), and in frame pairs where the person "
          "stands still (still); in brackets against per-frame")
    print("| path | IoU | static flicker % all | away | still | dtSSD where it changes |")
    print("|---|---|---|---|---|---|")
    base = synthetic["per-frame"]
    for name, row in synthetic.items():
        cells = [f"{row[key]:.{digits}f} ({ratio(row[key], base[key])})" for key, digits in
                 (("flicker_pct", 3), ("flicker_far_pct", 4), ("flicker_still_pct", 4))]
        cells.append(f"{row['dtssd']:.2f}")
        print(f"| {name} | {row['iou']:.4f} | " + " | ".join(cells) + " |")
    print(f"\nwebcam clips, static-area flicker %: over the pixels whose luma changed by less "
          f"than {args.still_levels:g} levels (all), and only those farther than {margin} px "
          "from any that changed more (away); in brackets against per-frame")
    print("| clip | " + " | ".join(f"{path} all" for path in PATHS) + " | "
          + " | ".join(f"{path} away" for path in PATHS) + " | stabilised vs per-frame IoU |")
    print("|---" * (2 * len(PATHS) + 2) + "|")
    means = {path: {key: float(np.mean([row[path][key] for row in webcam.values()]))
                    for key in ("flicker_pct", "flicker_far_pct")} for path in PATHS}
    for clip, row in list(webcam.items()) + [("mean", {**means, "agreement_iou": None})]:
        raw = row["per-frame"]
        cells = [f"{row[path]['flicker_pct']:.3f}"
                 + ("" if path == "per-frame" else
                    f" ({ratio(row[path]['flicker_pct'], raw['flicker_pct'])})")
                 for path in PATHS]
        cells += [f"{row[path]['flicker_far_pct']:.4f}"
                  + ("" if path == "per-frame" else
                     f" ({ratio(row[path]['flicker_far_pct'], raw['flicker_far_pct'])})")
                  for path in PATHS]
        agreement = row["agreement_iou"]
        print(f"| {clip} | " + " | ".join(cells) + " | "
              + ("" if agreement is None else f"{agreement:.4f}") + " |")
    if args.json:
        args.json.write_text(json.dumps({"model": args.model, "input_size": input_size,
                                         "smoother_ms": float(np.median(smoother_ms)),
                                         "hold_ms": float(np.median(hold_ms)), "margin": margin,
                                         "synthetic": synthetic, "webcam": webcam}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
