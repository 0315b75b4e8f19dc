"""Person IoU and latency, side by side, of our person model and the models users pick instead.

    python benchmarks/person_quality.py [--model person] [--pictures docs/images] [--json out.json]

Sets (all from ../shared): person_dev (58 photos, validation only), the CCP photos that
configs/person.yaml holds out (never trained on), and portraits_hd (reference matte > 0.5).
CCP labels only the main subject: ``ccp_val`` leaves out of the score the passers-by the
official Coral PASCAL model finds away from the subject (for every model alike), ``ccp_val_raw``
scores against the masks as they are (finding a passer-by counts as a mistake).
Scoring as DESIGN.md section 6 (deeplab.portrait.person_score): mean of per-photo IoU, pooled
IoU beside it. Models, all measured in this one run:

- ours as ``infer.py --mode matte`` writes it (the mask > 0.5): the fast path, portrait mode's
  subject selection (passers-by go to the background, ``--subjects main``) and its edge-aware
  matte; the same with ``--subjects all``, and at the video working size;
- ours, network labels alone: float (the Keras model through TensorFlow) and the fast path
  (LiteRT, ``--fast-precision``, default float32), plus the agreement of the fast path's labels
  with the float model's; the fast path with test-time flip (``infer.py --flip``) and at the
  video working size (``--video-input-size``, default infer.py's);
- the fast video model (``--fast-model``, default the bundled ``person_fast``): what infer.py
  writes for video frames (its prebuilt LiteRT network at its own size, subject selection,
  matte; no temporal smoothing), its network labels, and the same network in float (TensorFlow)
  to show what quantisation costs;
- the old default (portrait_mnv2_dm05), MediaPipe selfie (256x256; also through our matte
  steps, to show what they add to it), Coral DeepLab MobileNetV2
  1.0 and 0.5 int8 (513x513, PASCAL person) and the TFLite example's DeepLab 257 (float).

Latency: median milliseconds per photo (the photo already at 513 px, model loaded and warm) on
this machine's cores; and, for the fast model beside MediaPipe, the network alone (median of
``invoke()``, same thread count). ``--pictures DIR`` writes the photos of ``--pictures-set`` where the old
default did worst, with its mask and our portrait matte.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from deeplab.image_files import read_rgb  # noqa: E402
from deeplab.portrait import person_score  # noqa: E402
from deeplab.portrait.models import DEFAULT_WEIGHTS, load_probability_model  # noqa: E402
from deeplab.portrait.render import VIDEO_INPUT_SIZE  # noqa: E402
from deeplab.portrait.veto import with_object_veto  # noqa: E402
from deeplab.runtimes.litert import open_interpreter  # noqa: E402

SHARED = Path(os.environ.get("DEEPLAB_SHARED_DIR", ROOT.parent / "shared"))
ANCHORS = SHARED / "models" / "anchors"
#: name -> (examples, whether people the labels leave out are left out of the score too)
SETS = {
    "person_dev": (person_score.person_dev, False),
    "ccp_val": (person_score.ccp_validation, True),
    "ccp_val_raw": (person_score.ccp_validation, False),
    "portraits_hd": (person_score.portraits_hd, False),
}
TEACHER = ANCHORS / "coral_deeplab" / "deeplabv3_mnv2_pascal_quant.tflite"


def person_index(model) -> int:
    return [name.lower() for name in model.class_names].index("person")


def deeplab(source: str, backend: str, precision: str = "float32", input_size: int = 513,
            flip: bool = False):
    model = load_probability_model(source, backend=backend, input_size=input_size,
                                   precision=precision)
    if flip:
        from deeplab.portrait.test_time import FlipAveraged

        model = FlipAveraged(model)
    return person_score.deeplab_predictor(model, person_index(model))


def deeplab_matte(source: str, input_size: int | None = 513, subjects: str = "main"):
    """Ours as ``infer.py --mode matte`` runs it: fast path, subject selection, refined matte.
    ``input_size`` None: the network's own size (a bundled prebuilt network), as infer.py
    runs video frames."""
    model = load_probability_model(source, backend="litert", input_size=input_size or 513)
    if source == DEFAULT_WEIGHTS:  # infer.py asks the fast model whether a subject is a person
        model = with_object_veto(model)
    size = input_size or model.preferred_size or model.crop_size
    return person_score.portrait_predictor(model, person_index(model), size, subjects)


def network_latency_ms(path, repeats: int = 100, threads: int = 2) -> float:
    """Median ms of one ``invoke()`` of a ``.tflite`` file (zeros in; the network alone)."""
    interpreter = open_interpreter(path, threads)
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    for _ in range(10):
        interpreter.invoke()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        interpreter.invoke()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


class MediaPipeProbabilities:
    """MediaPipe selfie as a 2-class probability model (its output resized to the photo), so
    portrait mode's own matte steps can be measured on it too."""

    class_names = ("background", "person")

    def __init__(self):
        self.square = person_score.SquareTFLite(
            ANCHORS / "mediapipe_selfie" / "selfie_segmentation.tflite", "mediapipe")

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        people = [self.square.person_probability(image) for image in images]
        return np.stack([np.dstack([1.0 - person, person]) for person in people])


def anchors() -> dict[str, tuple[str, Callable]]:
    """name -> (what it is, lazy loader) of the models users would pick instead."""
    portrait = SHARED / "models" / "portrait_mnv2_dm05" / "frozen_inference_graph.pb"
    return {
        "portrait_mnv2_dm05 (old default)": (
            "DeepLab MobileNetV2 0.5 selfie model, 513 px",
            lambda: deeplab(str(portrait), "litert")),
        "MediaPipe selfie": (
            "250 KB, 256x256", lambda: person_score.SquareTFLite(
                ANCHORS / "mediapipe_selfie" / "selfie_segmentation.tflite", "mediapipe")),
        "MediaPipe selfie + our matte steps": (
            "its probability through portrait mode's subject selection and matte",
            lambda: person_score.portrait_predictor(MediaPipeProbabilities(), 1)),
        "Coral DeepLab MNv2 1.0 int8": (
            "official PASCAL, 513x513", lambda: person_score.SquareTFLite(
                ANCHORS / "coral_deeplab" / "deeplabv3_mnv2_pascal_quant.tflite", "coral")),
        "Coral DeepLab MNv2 0.5 int8": (
            "official PASCAL, 513x513", lambda: person_score.SquareTFLite(
                ANCHORS / "coral_deeplab" / "deeplabv3_mnv2_dm05_pascal_quant.tflite", "coral")),
        "TFLite DeepLab 257": (
            "official PASCAL MNv2 0.5, float, 257x257", lambda: person_score.SquareTFLite(
                ANCHORS / "tflite_deeplabv3_257" / "deeplabv3_257_mv_gpu.tflite",
                "pascal_logits")),
    }


def measure(predict, examples, photos, ignored) -> tuple[person_score.SetScore, list[float], dict]:
    """Score, per-photo latencies (ms) and the masks, for one model on one set."""
    predict(next(iter(photos.values())))  # warm-up
    score, times, masks = person_score.SetScore(), [], {}
    for example in examples:
        photo = photos[example.name]
        start = time.perf_counter()
        mask = np.asarray(predict(photo), bool)
        times.append((time.perf_counter() - start) * 1000)
        masks[example.name] = mask
        score.add(example.name, mask, person_score.reference_mask(example.mask_path,
                                                                   photo.shape[:2]),
                  ignored.get(example.name))
    return score, times, masks


def overlay(photo: np.ndarray, mask: np.ndarray, colour=(255, 64, 64)) -> np.ndarray:
    tinted = photo.astype(np.float32)
    tinted[mask] = 0.55 * tinted[mask] + 0.45 * np.asarray(colour, np.float32)
    edges = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3)))
    tinted[edges > 0] = colour
    return tinted.astype(np.uint8)


def write_pictures(folder: Path, photos, before, after, labels, count: int = 4):
    """Rows of photo | old default | ours for the photos where the old default did worst."""
    folder.mkdir(parents=True, exist_ok=True)
    worst = sorted(before[0].per_photo, key=before[0].per_photo.get)[:count]
    rows = []
    for name in worst:
        photo = photos[name]
        height = 300
        cells = []
        for picture, text in ((photo, name),
                              (overlay(photo, before[1][name]),
                               f"{labels[0]}: IoU {before[0].per_photo[name]:.2f}"),
                              (overlay(photo, after[1][name], (64, 200, 64)),
                               f"{labels[1]}: IoU {after[0].per_photo[name]:.2f}")):
            scale = height / picture.shape[0]
            cell = cv2.resize(picture, (round(picture.shape[1] * scale), height),
                              interpolation=cv2.INTER_AREA)
            cv2.putText(cell, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 2)
            cv2.putText(cell, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
            cells.append(cell)
        rows.append(np.concatenate(cells, axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255)
            for r in rows]
    path = folder / "person_worst_before_after.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_JPEG_QUALITY, 88])
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="person", help="our weights source (default: the "
                        "bundled person model)")
    parser.add_argument("--fast-precision", default="float32",
                        choices=("float32", "float16", "int8"),
                        help="precision of the LiteRT fast path measured beside the float model")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated subset of "
                        f"{','.join(SETS)}")
    parser.add_argument("--fast-model", default="person_fast",
                        help="the fast video model measured beside (default: %(default)s; "
                             "'' to skip)")
    parser.add_argument("--skip-anchors", action="store_true", help="only our model")
    parser.add_argument("--video-input-size", type=int, default=VIDEO_INPUT_SIZE,
                        help="also score the network at infer.py's video working size (0: no)")
    parser.add_argument("--pictures", type=Path, metavar="DIR",
                        help="write the old default's worst photos beside ours")
    parser.add_argument("--pictures-set", default="ccp_val_raw", choices=tuple(SETS),
                        help="the set the pictures come from (default: CCP's held-out photos, "
                             "Apache-2.0; person_dev has no licence to publish its photos)")
    parser.add_argument("--json", type=Path, help="also write every figure as JSON")
    args = parser.parse_args(argv)
    if not SHARED.is_dir():
        print(f"needs {SHARED} (the project's ../shared folder)", file=sys.stderr)
        return 2

    sets = {name: SETS[name][0](SHARED) for name in args.sets.split(",")}
    photos = {name: {e.name: person_score.working_photo(read_rgb(e.image_path))
                     for e in examples} for name, examples in sets.items()}
    ignored: dict[str, dict] = {name: {} for name in sets}
    for name, examples in sets.items():
        if SETS[name][1]:
            ignore = person_score.unlabelled_people(person_score.SquareTFLite(TEACHER, "coral"))
            for e in examples:
                photo = photos[name][e.name]
                ignored[name][e.name] = ignore(photo, person_score.reference_mask(
                    e.mask_path, photo.shape[:2]))
    models = {"ours, portrait matte (infer.py)": (
                  "what infer.py --mode matte writes (> 0.5): fast path, passers-by left out, "
                  "edge-aware matte", lambda: deeplab_matte(args.model)),
              "ours, portrait matte, --subjects all": (
                  "the same, keeping everyone the network finds",
                  lambda: deeplab_matte(args.model, subjects="all")),
              f"ours, float ({args.model})": ("network labels, TensorFlow, 513 px",
                                              lambda: deeplab(args.model, "tensorflow")),
              f"ours, fast path (LiteRT {args.fast_precision})": (
                  "network labels as infer.py runs the network, 513 px",
                  lambda: deeplab(args.model, "litert", args.fast_precision))}
    models["ours, fast path + --flip"] = (
        "test-time flip (off by default)",
        lambda: deeplab(args.model, "litert", args.fast_precision, flip=True))
    if args.video_input_size:
        models[f"ours, video path ({args.video_input_size} px)"] = (
            "network labels at infer.py's video working size",
            lambda: deeplab(args.model, "litert", args.fast_precision, args.video_input_size))
        models[f"ours, portrait matte, video path ({args.video_input_size} px)"] = (
            "the matte infer.py composites video frames with (no temporal smoothing)",
            lambda: deeplab_matte(args.model, args.video_input_size))
    if args.fast_model:
        fast = load_probability_model(args.fast_model)
        fast_size = fast.preferred_size or fast.crop_size or VIDEO_INPUT_SIZE
        models[f"fast model ({args.fast_model}), portrait matte, video path ({fast_size} px)"] = (
            "what infer.py writes for video frames (no temporal smoothing)",
            lambda: deeplab_matte(args.fast_model, None))
        models[f"fast model ({args.fast_model}), network labels"] = (
            f"its shipped LiteRT network at {fast_size} px",
            lambda: person_score.deeplab_predictor(fast, person_index(fast)))
        models[f"fast model ({args.fast_model}), float network labels"] = (
            "the same weights in float (TensorFlow): what quantising costs",
            lambda: deeplab(args.fast_model, "tensorflow", input_size=fast_size))
    if not args.skip_anchors:
        models.update(anchors())

    results: dict[str, dict] = {}
    kept: dict[tuple[str, str], tuple] = {}
    for label, (what, load) in models.items():
        predict = load()
        results[label] = {"what": what}
        all_times = []
        for set_name, examples in sets.items():
            score, times, masks = measure(predict, examples, photos[set_name], ignored[set_name])
            kept[(label, set_name)] = (score, masks)
            all_times += times
            results[label][set_name] = {"mean_iou": score.mean, "pooled_iou": score.pooled,
                                        "photos": len(examples)}
        results[label]["latency_ms"] = statistics.median(all_times)
        print(f"  measured {label}", file=sys.stderr)

    matte_label, _, float_label, fast_label = list(models)[:4]
    agreement = {}
    for set_name in sets:
        same = total = 0
        for name, mask in kept[(float_label, set_name)][1].items():
            other = kept[(fast_label, set_name)][1][name]
            same += int((mask == other).sum())
            total += mask.size
        agreement[set_name] = same / total
    results[fast_label]["agreement_with_float"] = agreement

    header = "| model | " + " | ".join(f"{s} ({len(e)})" for s, e in sets.items())
    print(header + " | ms / photo |")
    print("|---" * (len(sets) + 2) + "|")
    for label, row in results.items():
        cells = [f"{row[s]['mean_iou']:.3f} ({row[s]['pooled_iou']:.3f})" for s in sets]
        print(f"| {label} | " + " | ".join(cells) + f" | {row['latency_ms']:.0f} |")
    print("\nmean per-photo IoU (pooled IoU); fast path keeps "
          + ", ".join(f"{100 * v:.2f}% of the float model's labels on {s}"
                      for s, v in agreement.items()))
    if args.fast_model and fast.path is not None:
        mediapipe = ANCHORS / "mediapipe_selfie" / "selfie_segmentation.tflite"
        ours, theirs = network_latency_ms(fast.path), network_latency_ms(mediapipe)
        results["network_latency_ms"] = {args.fast_model: ours, "MediaPipe selfie": theirs}
        print(f"network alone, 2 threads: {args.fast_model} {ours:.2f} ms, MediaPipe selfie "
              f"{theirs:.2f} ms ({ours / theirs:.2f}x)")
    shown = args.pictures_set
    if args.pictures and not args.skip_anchors and shown in sets:
        old = "portrait_mnv2_dm05 (old default)"
        path = write_pictures(args.pictures, photos[shown],
                              kept[(old, shown)], kept[(matte_label, shown)],
                              ("old default", "ours"))
        print(f"pictures: {path}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
