"""Make the bundled fast model's files from a training run (how ``person_fast`` was made).

The run's weights are averaged with its starting point (WiSE-FT, ``--alpha``), saved as
``person_fast.keras`` with the working size it is meant to run at, and converted to an int8
LiteRT network with only the logits output (``person_fast_int8.tflite``), calibrated on
``--calibration-dir``. Both files' SHA-256 are printed for the registry entry::

    python -m deeplab.training.release_fast runs/person_fast --alpha 0.4 --size 449 \\
        --calibration-dir calibration/ --output deeplab/models
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deeplab.log import parse_args


def release(run: Path, alpha: float, size: int, calibration_dir: Path, output: Path,
            calibration_limit: int = 100) -> tuple[Path, Path]:
    """Write ``person_fast.keras`` and ``person_fast_int8.tflite`` into ``output``."""
    from deeplab.atomic import write_bytes_atomic
    from deeplab.export.tflite import convert
    from deeplab.export.verify import folder_images
    from deeplab.model import save_model
    from deeplab.rewrites import optimize_for_inference
    from deeplab.training.wise_ft import wise_ft_model

    output.mkdir(parents=True, exist_ok=True)
    model, config = wise_ft_model(run, alpha)
    config = config.replace(crop_size=size)
    keras_path = save_model(model, config, output / "person_fast.keras")
    calibration = folder_images(calibration_dir, calibration_limit, 513)
    network = optimize_for_inference(model)
    litert_path = write_bytes_atomic(output / "person_fast_int8.tflite",
                                     convert(network, size, "int8", calibration, labels=False))
    return keras_path, litert_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Make the bundled fast model's files from a "
                                                 "training run (see the module doc).")
    parser.add_argument("run", type=Path, help="training run folder")
    parser.add_argument("--alpha", type=float, default=0.4, help="WiSE-FT weight of the run")
    parser.add_argument("--size", type=int, default=449, help="working size (network input)")
    parser.add_argument("--calibration-dir", type=Path, required=True)
    parser.add_argument("--output", type=Path, default=Path("deeplab/models"))
    args = parse_args(parser, argv)
    from deeplab.weights.download import file_sha256

    for path in release(args.run, args.alpha, args.size, args.calibration_dir, args.output):
        print(f"{path}  sha256 {file_sha256(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
