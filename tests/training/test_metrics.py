"""Metrics: confusion matrix, IoU, ignore label, multi-scale + flip evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from deeplab.training.evaluation import evaluate, multi_scale_probabilities
from deeplab.training.metrics import SegmentationMetrics, confusion_matrix
from training_fixtures import HalvesModel


def test_iou_and_accuracy_by_hand():
    labels = np.array([[0, 0, 1, 1], [1, 1, 255, 255]])
    predictions = np.array([[0, 1, 1, 1], [1, 0, 0, 1]])
    metrics = SegmentationMetrics(2, ("background", "person"))
    metrics.update(labels, predictions)
    np.testing.assert_array_equal(metrics.matrix, [[1, 1], [1, 3]])
    assert metrics.class_iou("background") == pytest.approx(1 / 3)
    assert metrics.class_iou("person") == pytest.approx(3 / 5)
    assert metrics.pixel_accuracy() == pytest.approx(4 / 6)
    summary = metrics.summary()
    assert summary["miou"] == pytest.approx((1 / 3 + 3 / 5) / 2)
    assert summary["person_iou"] == summary["iou/person"]


def test_ignore_label_is_excluded_whatever_is_predicted(rng):
    labels = rng.integers(0, 3, (20, 20))
    labels[:5] = 255
    predictions = rng.integers(0, 3, (20, 20))
    changed = predictions.copy()
    changed[:5] = (changed[:5] + 1) % 3
    assert np.array_equal(confusion_matrix(labels, predictions, 3),
                          confusion_matrix(labels, changed, 3))
    assert confusion_matrix(labels, predictions, 3).sum() == 300


def test_absent_class_is_left_out_of_the_mean():
    metrics = SegmentationMetrics(3)
    metrics.update(np.array([0, 0, 1]), np.array([0, 0, 1]))
    assert np.isnan(metrics.per_class_iou()[2]) and metrics.mean_iou() == 1.0


def test_evaluate_with_scales_and_flip_scores_the_model():
    image = np.full((40, 60, 3), 255, np.uint8)
    image[:, :30] = 0
    label = np.zeros((20, 30, 1), np.uint8)  # annotation at half resolution
    label[:, :15] = 1
    label[0] = 255
    model = HalvesModel()
    plain = evaluate(model, [{"image": image, "label": label}], 2, ("background", "person"),
                     longer_side=64, progress=False)
    multi = evaluate(model, [{"image": image, "label": label}], 2, ("background", "person"),
                     longer_side=64, scales=(0.75, 1.0, 1.25), flip=True, progress=False)
    for scores in (plain, multi):
        assert scores["person_iou"] > 0.85 and scores["pixel_accuracy"] > 0.9
    probs = multi_scale_probabilities(model, np.zeros((1, 17, 17, 3), np.float32),
                                      scales=(0.5, 1.0), flip=True)
    assert probs.shape == (1, 17, 17, 2)
    np.testing.assert_allclose(np.sum(probs, -1), 1.0, atol=1e-5)
