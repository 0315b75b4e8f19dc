"""Write a folder data set's masks with the people a teacher model finds ignored
(:mod:`deeplab.data.unlabelled_people`). Run once before training::

    python -m deeplab.training.teacher_masks ../shared/data/ccp runs/ccp_ignore \\
        --teacher coral_deeplabv3_mnv2_pascal_quant
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import numpy as np

from deeplab.data.unlabelled_people import rewrite_folder
from deeplab.log import parse_args


def teacher_from_source(source: str) -> Callable[[np.ndarray], np.ndarray]:
    """uint8 RGB photo -> bool person mask, from any weights source with a "person" class."""
    from deeplab.runtimes.keras import Segmenter

    segmenter = Segmenter.from_source(source)
    person = [name.lower() for name in segmenter.class_names].index("person")
    return lambda image: segmenter.predict(image).labels == person


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Copy a folder data set with the people a teacher model finds away from the "
                    "labelled subject set to ignore (255) in the masks.")
    parser.add_argument("source", help="folder data set: images/ and masks/ (0/255 or 0/1)")
    parser.add_argument("destination", help="new folder to write (must not exist)")
    parser.add_argument("--teacher", default="coral_deeplabv3_mnv2_pascal_quant",
                        help="weights source with a 'person' class (default: %(default)s)")
    parser.add_argument("--band", type=int, default=2,
                        help="ignored pixels each side of the labelled boundary (0-10)")
    args = parse_args(parser, argv)
    if not 0 <= args.band <= 10:
        parser.error(f"--band must be from 0 to 10 pixels, got {args.band}")
    try:
        summary = rewrite_folder(args.source, args.destination, teacher_from_source(args.teacher),
                                 band=args.band, progress=not args.quiet)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(summary.report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
