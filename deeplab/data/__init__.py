"""Data for fine-tuning: folder, TFDS and PASCAL VOC sources, augmentation, tf.data pipelines."""

from deeplab.data.config import IGNORE_LABEL, MEAN_PIXEL, AugmentConfig, DataConfig
from deeplab.data.pipeline import eval_dataset, source_dataset, train_dataset

__all__ = ["IGNORE_LABEL", "MEAN_PIXEL", "AugmentConfig", "DataConfig", "eval_dataset",
           "source_dataset", "train_dataset"]
