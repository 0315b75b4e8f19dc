"""Former home of :mod:`deeplab.contract_tf`; kept only until ``deeplab/data/pipeline.py`` and
``deeplab/training/evaluation.py`` import from there (issue 13, then deleted)."""

from deeplab.contract_tf import pad_and_normalize, resize_to_crop, to_model_range  # noqa: F401
