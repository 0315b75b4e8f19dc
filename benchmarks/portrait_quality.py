"""Portrait mode against the tutorial pipeline, same model, same photos: edges, IoU, halo, speed.

    python benchmarks/portrait_quality.py [--model ../shared/models/portrait_mnv2_dm05] [--runs 5]

- edges: mean |matte - reference| in a 10-px band around the reference edge (portraits_hd);
- IoU of the matte at 0.5 against the person masks (person_dev);
- halo: both pipelines get the reference matte (as ``--matte`` would), equal blur radius (6, 20
  and 40 px; the tutorial's box is 2r+1): |luminance shift 3-15 px outside the subject - shift
  > 40 px away|, on person_dev (masks, resized with nearest), portraits_hd (reference mattes)
  and 40 ccp photos the compositing was never tuned on (hand-made masks);
- flicker: mean |matte change| between consecutive frames where the frame itself did not
  change, on the webcam clips, with and without temporal smoothing;
- video with sound: the shared webcam clip with audio through ``process_video`` (codec, frames,
  frame rate, audio duration, size);
- speed (median of ``--runs``): everything after the model on a 12-megapixel photo, the whole CLI
  on a 12-MP JPEG (cold process, and per photo in a warm process), video frames per second at
  640x480 with the network fed at ``--video-input-size`` (and the IoU cost of that size).
The network runs with LiteRT by default (converted once, cached; ``--backend tensorflow`` for the
Keras model), so the cold CLI does not import TensorFlow.
Prints a Markdown table; ``--json`` also writes the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from deeplab.log import parse_args  # noqa: E402
from deeplab.portrait import io as portrait_io  # noqa: E402
from deeplab.portrait import quality, tutorial  # noqa: E402
from deeplab.portrait.bokeh import BokehConfig  # noqa: E402
from deeplab.portrait.composite import blur_composite  # noqa: E402
from deeplab.portrait.models import load_probability_model, resolve_classes  # noqa: E402
from deeplab.portrait.pipeline import PortraitOptions, run_portrait  # noqa: E402
from deeplab.portrait.render import (VIDEO_INPUT_SIZE, RenderConfig, render,  # noqa: E402
                                     working_image)
from deeplab.portrait.video import process_video  # noqa: E402

SHARED = ROOT.parent / "shared"


def model_source(source: str) -> str | Path:
    """A release folder's frozen graph; any other source (registry name, file) as given."""
    path = Path(source)
    return path / "frozen_inference_graph.pb" if path.is_dir() else source


def load_mask(path: Path, height: int, width: int) -> np.ndarray:
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask.shape != (height, width):
        mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
    return mask > 127


def find_mask(folder: Path, stem: str) -> Path:
    for candidate in sorted(folder.glob(f"{stem}.*")):
        return candidate
    raise FileNotFoundError(f"no mask for {stem} in {folder}")


def predict(model, photo: np.ndarray, input_size: int = 513):
    working = working_image(photo, input_size)
    return working, model.probabilities(working.image[None])[0]


def person_dev_iou(model, classes, config: RenderConfig, input_size: int) -> float:
    """Mean IoU of our matte on person_dev with the network fed ``input_size`` px."""
    dev = SHARED / "data" / "person_dev"
    scores = []
    for image_path in sorted((dev / "images").iterdir()):
        photo = portrait_io.read_photo(image_path).rgb
        mask = load_mask(find_mask(dev / "masks", image_path.stem), *photo.shape[:2])
        working, probabilities = predict(model, photo, input_size)
        scores.append(quality.iou(render(photo, config, probabilities=probabilities,
                                         working=working).matte, mask))
    return float(np.mean(scores))


def edges_and_iou(model, classes, config: RenderConfig) -> dict:
    """Edge error on portraits_hd and IoU on person_dev, ours and the tutorial's."""
    hd = SHARED / "data" / "portraits_hd"
    edge_ours, edge_tutorial = [], []
    for image_path in sorted((hd / "images").iterdir()):
        photo = portrait_io.read_photo(image_path).rgb
        reference = portrait_io.read_matte(hd / "reference_mattes" / f"{image_path.stem}.png",
                                           photo.shape[:2])
        working, probabilities = predict(model, photo)
        ours = render(photo, config, probabilities=probabilities, working=working).matte
        baseline = tutorial.tutorial_mask_from_probabilities(probabilities, classes,
                                                             *photo.shape[:2])
        edge_ours.append(quality.edge_error(ours, reference))
        edge_tutorial.append(quality.edge_error(baseline.astype(np.float32), reference))
    dev = SHARED / "data" / "person_dev"
    iou_ours, iou_tutorial = [], []
    for image_path in sorted((dev / "images").iterdir()):
        photo = portrait_io.read_photo(image_path).rgb
        mask = load_mask(find_mask(dev / "masks", image_path.stem), *photo.shape[:2])
        working, probabilities = predict(model, photo)
        ours = render(photo, config, probabilities=probabilities, working=working).matte
        baseline = tutorial.tutorial_mask_from_probabilities(probabilities, classes,
                                                             *photo.shape[:2])
        iou_ours.append(quality.iou(ours, mask))
        iou_tutorial.append(quality.iou(baseline.astype(np.float32), mask))
    return {"edge_ours": float(np.mean(edge_ours)), "edge_tutorial": float(np.mean(edge_tutorial)),
            "edge_images": len(edge_ours), "iou_ours": float(np.mean(iou_ours)),
            "iou_tutorial": float(np.mean(iou_tutorial)), "iou_images": len(iou_ours)}


HALO_RADII = (6, 20, 40)
HALO_GOAL = 0.05


def halo_sets(ccp_photos: int = 40) -> dict[str, list[tuple[Path, Path]]]:
    """(photo, reference) pairs: person_dev (masks), portraits_hd (reference mattes) and, as
    photos the compositing was never tuned on, the last ``ccp_photos`` of ccp (hand-made
    masks)."""
    dev, hd, ccp = (SHARED / "data" / name for name in ("person_dev", "portraits_hd", "ccp"))
    return {
        "person_dev": [(p, find_mask(dev / "masks", p.stem))
                       for p in sorted((dev / "images").iterdir())],
        "portraits_hd": [(p, hd / "reference_mattes" / f"{p.stem}.png")
                         for p in sorted((hd / "images").iterdir())],
        "ccp (unseen)": [(p, find_mask(ccp / "masks", p.stem))
                         for p in sorted((ccp / "images").iterdir())[-ccp_photos:]],
    }


def reference_for(photo: np.ndarray, path: Path, soft: bool) -> np.ndarray:
    """The reference matte at the photo's size: soft mattes as they are, masks with nearest."""
    if soft:
        return portrait_io.read_matte(path, photo.shape[:2])
    return load_mask(path, *photo.shape[:2]).astype(np.float32)


def halo(radii=HALO_RADII, ccp_photos: int = 40) -> dict:
    """Halo of both pipelines given the reference matte, at equal blur radius, per photo set
    (mean over photos; photos where either value is undefined are left out)."""
    results: dict = {}
    for name, pairs in halo_sets(ccp_photos).items():
        soft = name == "portraits_hd"
        scores = {radius: ([], []) for radius in radii}
        for image_path, reference_path in pairs:
            photo = portrait_io.read_photo(image_path).rgb
            reference = reference_for(photo, reference_path, soft)
            for radius in radii:
                composite = blur_composite(photo, reference, BokehConfig(radius=radius))
                naive = tutorial.tutorial_blur(photo, reference >= 0.5,
                                               tutorial.tutorial_kernel_size(radius))
                ours, base = (quality.halo(photo, composite, reference),
                              quality.halo(photo, naive, reference))
                if np.isfinite(ours) and np.isfinite(base):
                    scores[radius][0].append(ours)
                    scores[radius][1].append(base)
        results[name] = {radius: {"ours": float(np.mean(o)), "tutorial": float(np.mean(b)),
                                  "photos": len(o)} for radius, (o, b) in scores.items()}
    return results


def still_pixels(previous: np.ndarray, current: np.ndarray, levels: float = 2.0) -> np.ndarray:
    """Pixels whose (lightly smoothed) luma changed by less than ``levels`` between frames."""
    a = cv2.GaussianBlur(quality.luminance(previous), (5, 5), 0)
    b = cv2.GaussianBlur(quality.luminance(current), (5, 5), 0)
    return np.abs(a - b) < levels


def flicker(model, classes, clip: Path, input_size: int, smoothing: bool) -> float:
    """Mean |matte change| between consecutive frames over the pixels where the frame itself
    did not change (``still_pixels``), at the network's working size, in matte units (0..1)."""
    from deeplab.portrait.matte import matte_coefficients, subject_probability
    from deeplab.portrait.temporal import TemporalSmoother
    from deeplab.portrait.video_io import DecodedFrame, VideoReader

    smoother = TemporalSmoother() if smoothing else None
    changes, previous = [], None
    with VideoReader(clip) as reader:
        for event in reader.events():
            if not isinstance(event, DecodedFrame):
                continue
            working = working_image(event.rgb, input_size)
            probability = subject_probability(model.probabilities(working.image[None])[0],
                                              classes)
            if smoother is not None:
                probability = smoother(probability, working.image)
            _, _, matte, _ = matte_coefficients(working.image, probability, working=working)
            if previous is not None:
                still = still_pixels(previous[0], working.image)
                if still.any():
                    changes.append(float(np.abs(matte - previous[1])[still].mean()))
            previous = (working.image, matte)
    return float(np.mean(changes)) if changes else float("nan")


def flicker_table(model, classes, input_size: int) -> dict:
    clips = sorted((SHARED / "data" / "videos").glob("webcam_*"))
    return {clip.name: {"smoothed": flicker(model, classes, clip, input_size, True),
                        "raw": flicker(model, classes, clip, input_size, False)}
            for clip in clips}


def video_with_sound(model, config: RenderConfig, input_size: int) -> dict:
    """The shared webcam clip with audio through ``process_video``: what comes out."""
    from deeplab.portrait.video_io import video_info

    source = SHARED / "data" / "videos" / "webcam_help_with_audio.mp4"
    with tempfile.TemporaryDirectory() as temp:
        target = Path(temp) / source.name
        result = process_video(source, target, model, config, input_size=input_size)
        before, after = video_info(source), video_info(target)
        import av

        def audio_duration(path: Path) -> float:
            with av.open(str(path)) as container:
                stream = container.streams.audio[0]
                return float(stream.duration * stream.time_base)

        return {"frames_in": before.frame_count, "frames_out": result.frames,
                "fps_in": before.fps, "fps_out": after.fps, "codec_in": before.codec,
                "codec_out": after.codec, "duration_in": before.duration,
                "duration_out": after.duration, "audio_in_s": audio_duration(source),
                "audio_out_s": audio_duration(target), "bytes_in": source.stat().st_size,
                "bytes_out": target.stat().st_size}


def twelve_megapixel_jpeg(folder: Path) -> Path:
    """A 4000x3000 JPEG made from an HD portrait (upscaled: a stand-in for a phone photo)."""
    source = portrait_io.read_photo(SHARED / "data" / "portraits_hd" / "images" /
                                    "p_09ba26b4.jpg").rgb
    big = cv2.resize(source, (4000, 3000), interpolation=cv2.INTER_CUBIC)
    return portrait_io.write_image(folder / "photo12mp.jpg", big, 92)


def median_time(function, runs: int) -> float:
    function()  # warm-up (allocations, lazy tables)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def speed(model, model_path: str | Path, config: RenderConfig, runs: int, video_input_size: int,
          video_frames: int, skip_cold: bool) -> dict:
    results = {}
    with tempfile.TemporaryDirectory() as temp:
        temp = Path(temp)
        jpeg = twelve_megapixel_jpeg(temp)
        photo = portrait_io.read_photo(jpeg).rgb
        working, probabilities = predict(model, photo)
        results["after_model_ms"] = 1000 * median_time(
            lambda: render(photo, config, probabilities=probabilities, working=working), runs)
        results["model_ms"] = 1000 * median_time(
            lambda: model.probabilities(working.image[None]), runs)
        options = PortraitOptions(output_dir=temp / "warm", overwrite=True,
                                  weights=str(model_path))
        results["cli_warm_ms"] = 1000 * median_time(
            lambda: run_portrait([jpeg], options, model=model, progress=False), runs)
        if not skip_cold:
            command = [sys.executable, str(ROOT / "infer.py"), str(jpeg), "--output",
                       str(temp / "cold"), "--weights", str(model_path), "--overwrite", "--quiet"]
            cold = []
            for _ in range(max(1, min(runs, 3))):
                start = time.perf_counter()
                subprocess.run(command, check=True, capture_output=True)
                cold.append(time.perf_counter() - start)
            results["cli_cold_s"] = statistics.median(cold)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import tensorflow"], check=True,
                           capture_output=True)
            results["tensorflow_import_s"] = time.perf_counter() - start
        results.update(video_speed(model, config, temp, video_input_size, video_frames))
    return results


def video_speed(model, config: RenderConfig, temp: Path, input_size: int, frames: int) -> dict:
    """Frames per second on a 640x480 clip cut from the shared street video."""
    source = cv2.VideoCapture(str(SHARED / "data" / "photos" / "vtest.avi"))
    clip = temp / "clip640.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (640, 480))
    for _ in range(frames):
        ok, frame = source.read()
        if not ok:
            break
        writer.write(cv2.resize(frame, (640, 480), interpolation=cv2.INTER_AREA))
    writer.release()
    source.release()
    resize = getattr(model, "for_input_size", None)
    video_model = resize(input_size) if resize else model
    process_video(clip, temp / "warmup.avi", video_model, config, input_size=input_size)
    start = time.perf_counter()
    count = process_video(clip, temp / "out.avi", video_model, config,
                          input_size=input_size).frames
    elapsed = time.perf_counter() - start
    return {"video_fps": count / elapsed, "video_frames": count,
            "video_input_size": input_size,
            "video_model_native_size": resize is not None}


def edge_crop_box(matte: np.ndarray, fraction: float = 0.22) -> tuple[slice, slice]:
    """A square around the top of the subject (hair against background: where edges show)."""
    height, width = matte.shape
    rows = np.nonzero((matte >= 0.5).any(axis=1))[0]
    top = int(rows[0]) if rows.size else height // 2
    cols = np.nonzero(matte[top + max(2, height // 50)] >= 0.5)[0] if top + 2 < height else []
    centre_x = int(np.median(cols)) if len(cols) else width // 2
    side = int(min(height, width) * fraction)
    y0 = int(np.clip(top - side // 3, 0, height - side))
    x0 = int(np.clip(centre_x - side // 2, 0, width - side))
    return slice(y0, y0 + side), slice(x0, x0 + side)


def comparison_picture(photo: np.ndarray, baseline: np.ndarray, ours: np.ndarray,
                       matte: np.ndarray, width: int = 1200, baseline_label: str = "tutorial"
                       ) -> np.ndarray:
    """Baseline | ours on top, the same zoomed edge crop of each below."""
    from deeplab.portrait.composite import side_by_side

    half = (width - 8) // 2
    scale = half / photo.shape[1]
    size = (half, max(1, round(photo.shape[0] * scale)))
    top = side_by_side(cv2.resize(baseline, size, interpolation=cv2.INTER_AREA),
                       cv2.resize(ours, size, interpolation=cv2.INTER_AREA), baseline_label)
    ys, xs = edge_crop_box(matte)
    zoom = (half, half)
    crops = side_by_side(cv2.resize(baseline[ys, xs], zoom, interpolation=cv2.INTER_NEAREST),
                         cv2.resize(ours[ys, xs], zoom, interpolation=cv2.INTER_NEAREST),
                         f"{baseline_label} (zoom)", "ours (zoom)")
    gap = np.full((8, top.shape[1], 3), 255, np.uint8)
    return np.concatenate([top, gap, crops], axis=0)


def make_pictures(model, classes, out_dir: Path, radius_fraction: float = 0.012) -> list[Path]:
    """Side-by-side pictures (tutorial vs ours, same model, same radius) for the README."""
    out_dir.mkdir(parents=True, exist_ok=True)
    photos = [SHARED / "data" / "photos" / "astronaut.png", SHARED / "data" / "photos" /
              "messi5.jpg", SHARED / "data" / "portraits_hd" / "images" / "p_07141906.jpg",
              SHARED / "data" / "portraits_hd" / "images" / "p_51c916fc.jpg"]
    written = []
    for path in photos:
        photo = portrait_io.read_photo(path).rgb
        height, width = photo.shape[:2]
        radius = radius_fraction * np.hypot(height, width)
        config = RenderConfig(subject_classes=classes, bokeh=BokehConfig(radius=radius))
        working, probabilities = predict(model, photo)
        rendered = render(photo, config, probabilities=probabilities, working=working)
        mask = tutorial.tutorial_mask_from_probabilities(probabilities, classes, height, width)
        baseline = tutorial.tutorial_blur(photo, mask, tutorial.tutorial_kernel_size(radius))
        picture = comparison_picture(photo, baseline, rendered.image, rendered.matte)
        written.append(portrait_io.write_image(out_dir / f"portrait_{path.stem}.jpg", picture, 85))
    # Replace mode on messi5: a plain alpha blend vs ours (fringe removed, light wrap).
    from deeplab.portrait.composite import blend, fit_background, replace_composite

    path = SHARED / "data" / "photos" / "messi5.jpg"
    photo = portrait_io.read_photo(path).rgb
    height, width = photo.shape[:2]
    sky = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    new_background = np.broadcast_to((np.array([40, 90, 200]) * (1 - sky)
                                      + np.array([200, 220, 255]) * sky).astype(np.uint8),
                                     (height, width, 3)).copy()
    config = RenderConfig(mode="replace", subject_classes=classes, background=new_background)
    working, probabilities = predict(model, photo)
    rendered = render(photo, config, probabilities=probabilities, working=working)
    naive = blend(photo, fit_background(new_background, height, width), rendered.refined)
    ours = replace_composite(photo, rendered.refined, new_background, working)
    picture = comparison_picture(photo, naive, ours, rendered.matte,
                                 baseline_label="plain blend")
    written.append(portrait_io.write_image(out_dir / "portrait_replace_messi5.jpg", picture, 85))
    # Halo with the reference matte given to both, as in the benchmark: 20 px.
    path = SHARED / "data" / "portraits_hd" / "images" / "p_22fc0130.jpg"
    photo = portrait_io.read_photo(path).rgb
    reference = portrait_io.read_matte(SHARED / "data" / "portraits_hd" / "reference_mattes" /
                                       f"{path.stem}.png", photo.shape[:2])
    ours = blur_composite(photo, reference, BokehConfig(radius=20))
    baseline = tutorial.tutorial_blur(photo, tutorial.tutorial_mask_from_matte(reference),
                                      tutorial.tutorial_kernel_size(20))
    picture = comparison_picture(photo, baseline, ours, reference)
    written.append(portrait_io.write_image(out_dir / "portrait_halo_reference_matte.jpg", picture,
                                           85))
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="person",
                        help="weights source (default: the bundled person model; the old "
                             "default is ../shared/models/portrait_mnv2_dm05)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--video-input-size", type=int, default=VIDEO_INPUT_SIZE)
    parser.add_argument("--video-frames", type=int, default=60)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-cold", action="store_true", help="no cold-process CLI timing")
    parser.add_argument("--backend", choices=("litert", "tensorflow"), default="litert",
                        help="network runtime (litert: converted once and cached)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--pictures", type=Path, metavar="DIR",
                        help="also write the README's side-by-side pictures to DIR")
    args = parse_args(parser, argv)  # --quiet / --verbose; the "converting" line on stderr
    print(f"OpenCV threads: {cv2.getNumThreads()}, CPUs: {os.cpu_count()}, "
          f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    model_path = model_source(args.model)
    model = load_probability_model(model_path, backend=args.backend)
    classes = resolve_classes(model.class_names, "person")
    config = RenderConfig(subject_classes=classes)
    numbers: dict = {"model": str(model_path), "model_adapter": type(model).__name__}
    if args.pictures:
        for path in make_pictures(model, classes, args.pictures):
            print(f"wrote {path} ({path.stat().st_size // 1024} KB)")
    rows = []
    if not args.skip_quality:
        numbers.update(edges_and_iou(model, classes, config))
        numbers["halo"] = halo()
        video_model = getattr(model, "for_input_size", lambda size: model)(args.video_input_size)
        numbers["iou_video_size"] = person_dev_iou(video_model, classes, config,
                                                   args.video_input_size)
        e_ratio = numbers["edge_ours"] / numbers["edge_tutorial"]
        rows += [
            ("edge error, 10-px band, portraits_hd (%d)" % numbers["edge_images"],
             f"{numbers['edge_tutorial']:.4f}", f"{numbers['edge_ours']:.4f}",
             f"ratio {e_ratio:.3f} (goal <= 0.75)"),
            ("IoU, person_dev (%d)" % numbers["iou_images"], f"{numbers['iou_tutorial']:.4f}",
             f"{numbers['iou_ours']:.4f}", "goal: not lower"),
            (f"IoU, person_dev, network at {args.video_input_size} px (video)", "",
             f"{numbers['iou_video_size']:.4f}", "quality cost of the video input size"),
        ]
        for name, by_radius in numbers["halo"].items():
            for radius, h in by_radius.items():
                rows.append((f"halo, {name} ({h['photos']}), {radius} px (luma levels)",
                             f"{h['tutorial']:.3f}", f"{h['ours']:.3f}",
                             f"ratio {h['ours'] / h['tutorial']:.4f} (goal <= {HALO_GOAL})"))
        numbers["flicker"] = flicker_table(video_model, classes, args.video_input_size)
        for clip, f in numbers["flicker"].items():
            rows.append((f"flicker, {clip} (mean abs matte change, still pixels)",
                         f"{f['raw']:.4f} (no smoothing)", f"{f['smoothed']:.4f}",
                         f"{f['raw'] / f['smoothed']:.1f}x steadier"))
        v = numbers["video_with_sound"] = video_with_sound(video_model, config,
                                                          args.video_input_size)
        rows.append(("webcam_help_with_audio.mp4 through infer", f"{v['codec_in']}, "
                     f"{v['frames_in']} frames, {v['fps_in']:.2f} fps, audio {v['audio_in_s']:.3f} s, "
                     f"{v['bytes_in'] / 1024:.0f} KB", f"{v['codec_out']}, {v['frames_out']} frames, "
                     f"{v['fps_out']:.2f} fps, audio {v['audio_out_s']:.3f} s, "
                     f"{v['bytes_out'] / 1024:.0f} KB", "same frames, rate and sound; not bigger"))
    if not args.skip_speed:
        s = speed(model, model_path, config, args.runs, args.video_input_size, args.video_frames,
                  args.skip_cold)
        numbers["speed"] = s
        rows += [
            ("after the model, 12 MP (ms)", "", f"{s['after_model_ms']:.0f}", "goal <= 300"),
            ("model at 513 px (ms)", "", f"{s['model_ms']:.0f}", ""),
            ("CLI per 12-MP JPEG, warm process (ms)", "", f"{s['cli_warm_ms']:.0f}",
             "read + model + render + write"),
        ]
        if "cli_cold_s" in s:
            rows.append(("CLI on a 12-MP JPEG, cold process (s)", "", f"{s['cli_cold_s']:.2f}",
                         f"goal <= 2 (TensorFlow import alone {s['tensorflow_import_s']:.1f} s)"))
        rows.append((f"video 640x480, net at {s['video_input_size']} px (frames/s)", "",
                     f"{s['video_fps']:.1f}", "goal >= 15"))
    print("\n| measure | tutorial | ours | note |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f} (1 min), "
          f"{os.getloadavg()[1]:.2f} (5 min); backend {type(model).__name__}")
    if args.json:
        args.json.write_text(json.dumps(numbers, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
