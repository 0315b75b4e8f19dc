"""Evaluation as the original eval: optional multi-scale + mirrored inputs, mean of softmaxes.

Each photo is resized so its longer side is ``longer_side`` and padded bottom/right with 127.5 to
a square, exactly as inference prepares it, and for every scale the padded input is resized
(align corners, ``(size - 1) * scale + 1``), run, its logits resized back to the padded size and
softmaxed; mirrored copies are flipped back. The mean probability, cropped to the valid region
and resized to the label's size as inference returns results at the photo's size
(:func:`deeplab.contract_tf.resize_from_working_size`), gives the prediction. Labels are never
resized here, so the score is at the annotation's own resolution.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import tensorflow as tf

from deeplab.contract_tf import pad_and_normalize, resize_from_working_size, resize_to_crop
from deeplab.data.config import IGNORE_LABEL
from deeplab.layers import resize_bilinear_align_corners
from deeplab.progress import progress_bar
from deeplab.training.metrics import SegmentationMetrics


def _scaled(size: int, scale: float) -> int:
    """The original eval's input side at ``scale``: ``(size - 1) * scale + 1`` (align corners)."""
    return int((size - 1) * scale + 1)


def prepare_eval_image(image: np.ndarray | tf.Tensor, longer_side: int | None):
    """uint8 ``[H, W, 3]`` -> (float32 ``[1, S, S, 3]`` in [-1, 1], valid height, valid width).

    Exactly the inference preprocessing (:mod:`deeplab.contract_tf`): resized so the longer
    side is ``longer_side`` (None keeps the size), padded bottom/right with 127.5 to a square.
    """
    batch = tf.convert_to_tensor(image)[tf.newaxis]
    if longer_side:
        batch = resize_to_crop(batch, longer_side)
    height, width = int(batch.shape[1]), int(batch.shape[2])
    return pad_and_normalize(batch, max(height, width)), height, width


def multi_scale_probabilities(model, inputs: tf.Tensor, scales: Sequence[float] = (1.0,),
                              flip: bool = False) -> tf.Tensor:
    """Mean softmax over scales (and mirrored copies) at the input's size ``[B, S, S, C]``.

    ``model`` is called as ``model(x)`` and must run in inference mode (a Keras model called
    directly does, or a function wrapping ``model(x, training=False)``).
    """
    size = tf.shape(inputs)[1:3]
    total, count = None, 0
    for scale in scales:
        scaled = inputs
        if scale != 1.0:
            new_size = [_scaled(int(inputs.shape[1]), scale), _scaled(int(inputs.shape[2]), scale)]
            scaled = resize_bilinear_align_corners(inputs, new_size)
        for mirrored in ((False, True) if flip else (False,)):
            x = tf.reverse(scaled, [2]) if mirrored else scaled
            logits = tf.cast(model(x), tf.float32)
            if mirrored:
                logits = tf.reverse(logits, [2])
            probs = tf.nn.softmax(resize_bilinear_align_corners(logits, size))
            total = probs if total is None else total + probs
            count += 1
    return total / count


def predict_at_label_size(model, image, label_shape: tuple[int, int],
                          longer_side: int | None = 513, scales: Sequence[float] = (1.0,),
                          flip: bool = False) -> np.ndarray:
    """Class ids ``[h, w]`` at the label's size for one uint8 photo."""
    inputs, height, width = prepare_eval_image(image, longer_side)
    probs = multi_scale_probabilities(model, inputs, scales, flip)[:, :height, :width]
    probs = resize_from_working_size(probs, label_shape)
    return tf.argmax(probs[0], axis=-1, output_type=tf.int32).numpy()


def evaluate(model, examples: Iterable[dict], num_classes: int, class_names: Sequence[str] = (),
             *, longer_side: int | None = 513, scales: Sequence[float] = (1.0,),
             flip: bool = False, progress: bool = True, total: int | None = None,
             ignore_label: int = IGNORE_LABEL) -> dict[str, float]:
    """Scores of ``model`` over decoded ``{"image", "label"}`` examples (see module doc);
    ``total``: how many there are, for the progress bar."""
    metrics = SegmentationMetrics(num_classes, tuple(class_names), ignore_label)
    run = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    count = 0
    for example in progress_bar(examples, desc="eval", unit="img", enabled=progress, leave=False,
                                total=total):
        image = np.asarray(example["image"])
        label = np.asarray(example["label"])[..., 0]
        prediction = predict_at_label_size(run, image, label.shape, longer_side, scales, flip)
        metrics.update(label, prediction)
        count += 1
    if count == 0:
        raise ValueError("no examples to evaluate")
    result = metrics.summary()
    result["num_images"] = float(count)
    return result
