"""Export a DeepLab model: SavedModel (default), TFLite, a release-style frozen graph, .keras, ONNX.

    python export.py --weights SOURCE --output DIR
    python export.py --weights SOURCE --output model.tflite --format tflite --precision int8 \\
        --calibration-dir photos/
    python export.py --weights SOURCE --output model.tar.gz --format compat

SOURCE is anything deeplab loads: a registry name, release archive or folder, checkpoint prefix,
frozen graph, .keras file or training run folder. Every export checks itself after writing.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", required=True, help="weights source (name, archive, folder, "
                        "checkpoint prefix, frozen graph, .keras, run folder)")
    parser.add_argument("--output", required=True, help="output folder (saved_model) or file")
    parser.add_argument("--format", default="saved_model",
                        choices=("saved_model", "tflite", "compat", "keras", "onnx"))
    parser.add_argument("--precision", default="float32",
                        choices=("float32", "bfloat16", "float16", "int8"),
                        help="saved_model: float32|bfloat16; tflite: float32|float16|int8")
    parser.add_argument("--no-fold-batch-norm", dest="fold_batch_norm", action="store_false",
                        help="keep batch norm as separate ops (default: folded into the convs)")
    parser.add_argument("--jit-compile", action="store_true",
                        help="compile the network with XLA in the SavedModel")
    parser.add_argument("--sample-dir", help="images to check the export on (default: generated)")
    parser.add_argument("--samples", type=int, default=3, help="number of check images")
    parser.add_argument("--calibration-dir", help="representative images for int8 calibration")
    parser.add_argument("--calibration-limit", type=int, default=100)
    parser.add_argument("--min-agreement", type=float,
                        help="required label agreement with the Keras model (0-1; default "
                             "0.999 for float32, 0.99 for bfloat16/float16, 0.98 for int8)")
    parser.add_argument("--output-stride", type=int, choices=(8, 16),
                        help="run the network at this output stride (default: the release's)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from deeplab.export import ExportError, export
    from deeplab.weights import WeightsError

    try:
        export(args.weights, args.output, format=args.format, precision=args.precision,
               fold_batch_norm=args.fold_batch_norm, jit_compile=args.jit_compile,
               sample_dir=args.sample_dir, samples=args.samples,
               calibration_dir=args.calibration_dir, calibration_limit=args.calibration_limit,
               min_agreement=args.min_agreement, output_stride=args.output_stride,
               overwrite=args.overwrite)
    except (ExportError, WeightsError, ValueError) as error:
        print(f"export.py: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
