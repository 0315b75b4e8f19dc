"""Command line of portrait mode: ``python infer.py INPUT... --output DIR`` (also installed as
the ``deeplab-infer`` console script).

Thin CLI: parses arguments into :class:`~deeplab.portrait.pipeline.PortraitOptions` and calls
:func:`~deeplab.portrait.pipeline.run_portrait`. Imports no TensorFlow itself (the LiteRT backend
runs without it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deeplab.portrait.composite import MODES
from deeplab.portrait.litert import PRECISIONS
from deeplab.portrait.models import BACKENDS, DEFAULT_WEIGHTS
from deeplab.portrait.pipeline import PortraitOptions, run_portrait


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Portrait mode with DeepLab: subject sharp, background blurred like a lens.")
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="image files, folders (recursive), glob patterns or video files")
    parser.add_argument("--output", "-o", required=True, type=Path, metavar="DIR",
                        help="output folder: DIR/<stem>.<ext>")
    parser.add_argument("--weights", default=DEFAULT_WEIGHTS, metavar="SOURCE",
                        help="registry name, release archive/folder, checkpoint, frozen graph, "
                             ".keras file, .tflite file or exported SavedModel folder "
                             "(default: %(default)s)")
    parser.add_argument("--mode", choices=MODES, default="blur",
                        help="blur (default), replace (--background), cutout (RGBA PNG), matte, "
                             "overlay (class colours), compare (tutorial vs ours)")
    parser.add_argument("--classes", default="person",
                        help="subject classes, comma separated (e.g. person,cat,dog), or 'all' "
                             "for every non-background class (keeps held objects sharp)")
    parser.add_argument("--blur-radius", type=float, default=None, metavar="PX",
                        help="disc radius in pixels (default: 1.2%% of the image diagonal)")
    parser.add_argument("--depth-falloff", type=float, default=0.0, metavar="FRACTION",
                        help="blur grows with distance from the subject, reaching full strength "
                             "at this fraction of the diagonal (0 = uniform blur)")
    parser.add_argument("--background", type=Path, metavar="IMG",
                        help="replacement background for --mode replace")
    parser.add_argument("--matte", type=Path, metavar="PATH",
                        help="use this matte instead of the model: a file (one input) or a "
                             "folder of <stem>.png; resized to the photo when smaller")
    parser.add_argument("--save-matte", action="store_true",
                        help="also write DIR/<stem>_matte.png (8-bit, full resolution)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing output files (even an input)")
    parser.add_argument("--batch-size", type=int, default=4, help="images per network call")
    parser.add_argument("--input-size", type=int, default=513,
                        help="longer side fed to the network for photos (default: %(default)s)")
    parser.add_argument("--video-input-size", type=int, default=257,
                        help="longer side fed to the network for video frames")
    parser.add_argument("--backend", choices=BACKENDS, default="litert",
                        help="litert (default): the network converted once to TFLite, cached, "
                             "run without importing TensorFlow; tensorflow: the Keras model")
    parser.add_argument("--precision", choices=PRECISIONS, default="float32",
                        help="precision of the cached TFLite network (default: %(default)s)")
    parser.add_argument("--no-cache", dest="use_cache", action="store_false",
                        help="convert the network in memory; do not read or write the cache "
                             "($DEEPLAB_CACHE_DIR or ~/.cache/deeplab)")
    parser.add_argument("--jpeg-quality", type=int, default=95)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = PortraitOptions(
        output_dir=args.output, mode=args.mode, weights=args.weights, classes=args.classes,
        blur_radius=args.blur_radius, depth_falloff=args.depth_falloff,
        background=args.background, matte=args.matte, save_matte=args.save_matte,
        overwrite=args.overwrite, batch_size=args.batch_size, input_size=args.input_size,
        video_input_size=args.video_input_size, jpeg_quality=args.jpeg_quality,
        backend=args.backend, precision=args.precision, use_cache=args.use_cache)
    try:
        summary = run_portrait(args.inputs, options, progress=not args.quiet)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(summary.report(), file=sys.stderr)
    return summary.exit_code
