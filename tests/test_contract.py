"""The inference contract's twins agree: :mod:`deeplab.contract_np` (no TensorFlow) computes
what :mod:`deeplab.contract_tf` computes, function by function, on the same inputs."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from deeplab import contract_np, contract_tf

TWINS = ("resized_size", "to_batch", "resize_to_crop", "to_model_range", "pad_and_normalize",
         "upsample_and_crop", "resize_from_working_size", "softmax")


def test_both_twins_have_the_same_functions():
    for name in TWINS:
        assert callable(getattr(contract_np, name)) and callable(getattr(contract_tf, name))


@pytest.mark.parametrize("size", [(200, 300), (385, 513), (513, 342), (1, 700), (97, 96),
                                  (3000, 4000), (64, 96)])
@pytest.mark.parametrize("crop_size", [97, 513])
def test_resized_size_is_the_same_whole_number(size, crop_size):
    ours = contract_np.resized_size(*size, crop_size)
    theirs = tuple(int(v) for v in contract_tf.resized_size(*size, crop_size))
    assert ours == theirs and all(isinstance(v, int) for v in ours)


@pytest.mark.parametrize("shape", [(2, 97, 150, 3), (1, 33, 20, 3), (1, 65, 40, 3)])
def test_resize_to_crop_differs_by_at_most_one_code_value(rng, shape):
    images = rng.integers(0, 256, shape, dtype=np.uint8)
    ours = contract_np.resize_to_crop(images, 65)
    theirs = contract_tf.resize_to_crop(tf.constant(images), 65).numpy()
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype == np.uint8
    # PIL's and TensorFlow's antialiased bilinear filters round some pixels differently
    difference = np.abs(ours.astype(int) - theirs.astype(int))
    assert difference.max() <= 1 and difference.mean() < 0.25
    if shape[1:3] == (65, 40):
        assert ours is images  # already at the working size: unchanged


@pytest.mark.parametrize("shape", [(1, 40, 65, 3), (2, 65, 65, 3), (1, 80, 30, 3)])
def test_pad_and_normalize_is_bit_identical(rng, shape):
    images = rng.integers(0, 256, shape, dtype=np.uint8)
    ours = contract_np.pad_and_normalize(images, 65)
    theirs = contract_tf.pad_and_normalize(tf.constant(images), 65).numpy()
    assert ours.dtype == np.float32 and np.array_equal(ours, theirs)
    assert np.array_equal(contract_np.to_model_range(images),
                          contract_tf.to_model_range(tf.constant(images)).numpy())


@pytest.mark.parametrize("source, padded, valid", [
    ((17, 17), (129, 129), (100, 77)),   # crop of the form n * stride + 1
    ((9, 13), (65, 97), (65, 60)),
    ((17, 17), (130, 128), (100, 128)),  # not a whole multiple
])
def test_upsample_and_crop_is_bit_identical(rng, source, padded, valid):
    logits = rng.normal(size=(2, *source, 5)).astype(np.float32)
    ours = contract_np.upsample_and_crop(logits, padded, valid)
    theirs = contract_tf.upsample_and_crop(tf.constant(logits), padded, valid).numpy()
    assert ours.shape == (2, *valid, 5) and np.array_equal(ours, theirs)


@pytest.mark.parametrize("size", [(130, 97), (40, 60), (65, 97)])
def test_resize_from_working_size_and_softmax_agree(rng, size):
    values = rng.normal(size=(1, 65, 97, 6)).astype(np.float32)
    ours = contract_np.resize_from_working_size(values, size)
    theirs = contract_tf.resize_from_working_size(tf.constant(values), size).numpy()
    assert ours.shape == theirs.shape == (1, *size, 6)
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    np.testing.assert_allclose(contract_np.softmax(values),
                               contract_tf.softmax(tf.constant(values)).numpy(), atol=1e-6)


def test_to_batch_accepts_and_refuses_the_same_inputs():
    image = np.zeros((5, 7, 3), np.uint8)
    for to_batch in (contract_np.to_batch, contract_tf.to_batch):
        batch, single = to_batch(image)
        assert tuple(batch.shape) == (1, 5, 7, 3) and single
        assert not to_batch(np.zeros((2, 5, 7, 3), np.uint8))[1]
        with pytest.raises(TypeError, match="uint8"):
            to_batch(image.astype(np.float32))
        with pytest.raises(ValueError, match="RGB"):
            to_batch(np.zeros((5, 7, 4), np.uint8))
