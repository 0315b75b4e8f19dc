"""Training-curve and example pictures are drawn from a run folder's logs."""

from __future__ import annotations

import json

import cv2
import numpy as np
import tensorflow as tf

from deeplab.training.plots import plot_run, read_scalars
from deeplab.training.summaries import SummaryLogger, overlay_panels


def test_curves_from_history_and_eval_events(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    lines = [json.dumps({"step": s, "loss": 1.0 / s}) for s in range(10, 60, 10)]
    (run / "history.jsonl").write_text("\n".join(lines) + "\n")
    logger = SummaryLogger(run)
    for step, value in ((20, 0.5), (40, 0.7)):
        logger.scalars("eval", step, {"person_iou": value, "miou": value + 0.1})
    logger.flush()
    points = read_scalars(run / "eval")["person_iou"]
    assert [step for step, _ in points] == [20, 40]
    np.testing.assert_allclose([value for _, value in points], [0.5, 0.7], rtol=1e-6)
    path = plot_run(run, tmp_path / "curves.png", extra_eval={"val person IoU": [(0, 0.4)]})
    picture = cv2.imread(str(path))
    assert picture.shape == (420, 1120, 3)
    assert (picture != 255).any(axis=2).mean() > 0.01  # something was drawn


def test_overlay_panels_show_input_truth_prediction():
    images = np.zeros((1, 8, 8, 3), np.float32)
    labels = np.zeros((1, 8, 8, 1), np.uint8)
    labels[:, :, 4:] = 1
    logits = np.zeros((1, 2, 2, 2), np.float32)
    logits[..., 1] = 1.0
    panels = overlay_panels(images, labels, tf.constant(logits))
    assert panels.shape == (1, 8, 24, 3) and panels.dtype == np.uint8
    np.testing.assert_array_equal(panels[0, :, :8], 127)  # the input, back in [0, 255]
    assert not np.array_equal(panels[0, :, 8:12], panels[0, :, 12:16])  # truth has two classes


def test_example_rows_show_photo_truth_and_each_model(tmp_path):
    from training_fixtures import HalvesModel

    from deeplab.training.plots import plot_examples

    image = np.full((30, 40, 3), 255, np.uint8)
    image[:, :20] = 0
    label = np.zeros((30, 40, 1), np.uint8)
    label[:, :20] = 1
    examples = [{"image": image, "label": label}] * 2
    path = plot_examples({"before": HalvesModel(), "after": HalvesModel()}, examples,
                         tmp_path / "examples.png", longer_side=48, height=60)
    picture = cv2.imread(str(path))
    tile_width = 80 + 4  # 4:3 tiles plus a 4-px gap
    assert picture.shape == (28 + 2 * 64, 4 * tile_width, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["examples.png"]
    # the prediction column overlays class colours: it differs from the plain photo column
    row = picture[28:28 + 60]
    assert not np.array_equal(row[:, :tile_width], row[:, 2 * tile_width:3 * tile_width])
