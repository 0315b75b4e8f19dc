"""The one vocabulary of numeric precisions an exported or converted network computes in, and
the label agreement with the float32 Keras model each must reach by default. Plain data (no
TensorFlow), so the CLIs' option checks answer at once."""

from __future__ import annotations

#: Every precision: ``float16`` and ``bfloat16`` compute (or store weights) in 16-bit floats,
#: ``int8`` is full-integer quantisation (it needs calibration images).
PRECISIONS = ("float32", "bfloat16", "float16", "int8")
#: The precisions a Keras network can compute in (Keras mixed precision; no quantisation).
FLOAT_PRECISIONS = tuple(p for p in PRECISIONS if p != "int8")
#: Label agreement with the Keras model an export must reach unless the caller says otherwise.
DEFAULT_MIN_AGREEMENT = {"float32": 0.999, "bfloat16": 0.99, "float16": 0.99, "int8": 0.98}


def check_precision(precision: str, allowed: tuple[str, ...] = PRECISIONS,
                    what: str = "precision") -> None:
    """Raise ValueError unless ``precision`` is one of ``allowed``."""
    if precision not in allowed:
        raise ValueError(f"{what} must be one of {allowed}, got {precision!r}")
