"""Training-curve pictures from a run folder, drawn with OpenCV (no plotting dependency).

``plot_run(run_dir, "curves.png")`` draws the training loss (per logged step) and the eval
scores logged to TensorBoard (``eval/person_iou``, ``eval/miou``) side by side.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

import cv2
import numpy as np

from deeplab.atomic import atomic_path
from deeplab.weights.run_folder import HISTORY_FILE

Series = Sequence[tuple[float, float]]
COLORS = [(200, 90, 30), (40, 140, 230), (60, 170, 60), (180, 60, 180)]  # BGR


def _write_picture(output: str | Path, bgr: np.ndarray) -> Path:
    """Write a BGR picture atomically; the format follows the file extension (``.png``)."""
    output = Path(output)
    with atomic_path(output) as temporary:
        if not cv2.imwrite(str(temporary), bgr):
            raise ValueError(f"cannot write {output}: OpenCV has no encoder for "
                             f"{output.suffix!r} (use .png or .jpg)")
    return output


def read_history(run_dir: str | Path) -> list[dict]:
    """The run's logged training steps (``history.jsonl``), one dict per line."""
    path = Path(run_dir) / HISTORY_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: not a training run folder with logs")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_scalars(log_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """TensorBoard scalars of one writer folder: tag -> [(step, value)], sorted by step."""
    import tensorflow as tf

    scalars: dict[str, list[tuple[int, float]]] = {}
    for events in sorted(Path(log_dir).glob("events.out.tfevents*")):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            for value in event.summary.value:
                if value.HasField("tensor"):
                    number = float(tf.make_ndarray(value.tensor))
                elif value.HasField("simple_value"):
                    number = float(value.simple_value)
                else:
                    continue
                scalars.setdefault(value.tag, []).append((int(event.step), number))
    return {tag: sorted(points) for tag, points in scalars.items()}


def _panel(title: str, series: Mapping[str, Series], size=(420, 560)) -> np.ndarray:
    """One line chart: white canvas, axes with ticks, one coloured line + legend per series."""
    height, width = size
    canvas = np.full((height, width, 3), 255, np.uint8)
    left, right, top, bottom = 70, 20, 40, 50
    points = [p for s in series.values() for p in s]
    if not points:
        return canvas
    xs, ys = np.array([p[0] for p in points]), np.array([p[1] for p in points])
    x0, x1 = float(xs.min()), float(xs.max()) or 1.0
    y0, y1 = float(ys.min()), float(ys.max())
    pad = (y1 - y0) * 0.08 or abs(y1) * 0.05 or 0.05
    y0, y1 = y0 - pad, y1 + pad
    if x1 == x0:
        x1 = x0 + 1

    def to_pixel(x, y):
        px = left + (x - x0) / (x1 - x0) * (width - left - right)
        py = top + (1 - (y - y0) / (y1 - y0)) * (height - top - bottom)
        return int(round(px)), int(round(py))

    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.rectangle(canvas, (left, top), (width - right, height - bottom), (0, 0, 0), 1)
    for tick in np.linspace(y0, y1, 5):
        _, py = to_pixel(x0, tick)
        cv2.line(canvas, (left - 4, py), (left, py), (0, 0, 0), 1)
        cv2.putText(canvas, f"{tick:.3f}", (4, py + 4), font, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    for tick in np.linspace(x0, x1, 5):
        px, _ = to_pixel(tick, y0)
        cv2.line(canvas, (px, height - bottom), (px, height - bottom + 4), (0, 0, 0), 1)
        cv2.putText(canvas, f"{tick:.0f}", (px - 12, height - bottom + 18), font, 0.4,
                    (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(canvas, "step", (width // 2 - 15, height - 12), font, 0.45, (0, 0, 0), 1,
                cv2.LINE_AA)
    cv2.putText(canvas, title, (left, 25), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    for index, (name, data) in enumerate(series.items()):
        color = COLORS[index % len(COLORS)]
        pixels = np.array([to_pixel(x, y) for x, y in data], np.int32)
        if len(pixels) > 1:
            cv2.polylines(canvas, [pixels], False, color, 2, cv2.LINE_AA)
        for px, py in pixels if len(pixels) <= 20 else []:
            cv2.circle(canvas, (int(px), int(py)), 4, color, -1, cv2.LINE_AA)
        ly = top + 18 + 18 * index
        cv2.line(canvas, (width - right - 190, ly - 4), (width - right - 165, ly - 4), color, 2)
        cv2.putText(canvas, name, (width - right - 160, ly), font, 0.42, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return canvas


def plot_run(run_dir: str | Path, output: str | Path,
             extra_eval: Mapping[str, Series] | None = None) -> Path:
    """Write ``output`` (PNG): loss curve | eval scores. ``extra_eval`` adds points measured
    outside the run (e.g. the starting model at step 0)."""
    run_dir = Path(run_dir)
    history = read_history(run_dir)
    loss = {"train loss (mean per log window)": [(h["step"], h["loss"]) for h in history]}
    scores: dict[str, list[tuple[float, float]]] = {}
    eval_dir = run_dir / "eval"
    tags = read_scalars(eval_dir) if eval_dir.is_dir() else {}
    for tag, label in (("person_iou", "val person IoU"), ("miou", "val mIoU")):
        if tag in tags:
            scores[label] = list(tags[tag])
    for label, points in (extra_eval or {}).items():
        scores[label] = sorted(list(scores.get(label, [])) + list(points))
    panels = [_panel("training loss", loss)]
    if scores:
        panels.append(_panel("evaluation (held-out photos)", scores))
    return _write_picture(output, np.concatenate(panels, axis=1))


def plot_examples(models: Mapping[str, object], examples: Sequence[dict], output: str | Path,
                  longer_side: int = 513, height: int = 200) -> Path:
    """One row per example: photo | ground truth | each model's prediction over the photo.

    ``models`` maps a column title to a Keras model (logits output); ``examples`` are decoded
    ``{"image", "label"}`` dicts (uint8). Predictions use the evaluation path of
    :mod:`deeplab.training.evaluation`.
    """
    from deeplab.data.masks import colorize
    from deeplab.training.evaluation import predict_at_label_size

    tile_width = int(round(height * 4 / 3))

    def fit(picture, interpolation=cv2.INTER_AREA):
        """Letterbox into a white ``height`` x ``tile_width`` tile, keeping the aspect."""
        scale = min(height / picture.shape[0], tile_width / picture.shape[1])
        size = (max(int(picture.shape[1] * scale), 1), max(int(picture.shape[0] * scale), 1))
        small = cv2.resize(picture, size, interpolation=interpolation)
        tile = np.full((height, tile_width, 3), 255, np.uint8)
        top, left = (height - size[1]) // 2, (tile_width - size[0]) // 2
        tile[top:top + size[1], left:left + size[0]] = small
        return np.pad(tile, ((0, 4), (0, 4), (0, 0)), constant_values=255)

    rows = []
    for example in examples:
        image = np.asarray(example["image"])
        label = np.asarray(example["label"])[..., 0]
        tiles = [fit(image), fit(colorize(label).astype(np.uint8), cv2.INTER_NEAREST)]
        for model in models.values():
            prediction = predict_at_label_size(model, image, label.shape, longer_side)
            overlay = (0.5 * image + 0.5 * colorize(prediction)).astype(np.uint8)
            tiles.append(fit(overlay))
        rows.append(np.concatenate(tiles, axis=1))
    titles = ["photo", "ground truth", *models]
    header = np.full((28, rows[0].shape[1], 3), 255, np.uint8)
    for index, title in enumerate(titles):
        cv2.putText(header, title, (index * (tile_width + 4) + 6, 20), cv2.FONT_HERSHEY_SIMPLEX,
                    0.5, (0, 0, 0), 1, cv2.LINE_AA)
    picture = np.concatenate([header, *rows], axis=0)
    return _write_picture(output, cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
