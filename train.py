"""Fine-tune DeepLab: ``python train.py --config configs/NAME.yaml --model-dir DIR``.

Quick-start flags override the config: ``--weights SOURCE`` (anything export.py accepts),
``--data DIR`` (a folder data set: images/ + masks/), ``--steps N``; ``--set key.path=value``
overrides any config field. Running again with the same ``--model-dir`` resumes. ``--eval-only``
scores the run's latest weights (or ``--weights`` when the folder has none) on the eval split.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="YAML experiment config (configs/*.yaml)")
    parser.add_argument("--model-dir", required=True, help="run folder (created or resumed)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="override a config field, e.g. schedule.steps=100")
    parser.add_argument("--weights", help="initial weights: registry name, archive, folder, "
                        "checkpoint prefix, frozen graph, .keras file or run folder")
    parser.add_argument("--data", help="folder data set with images/ and masks/")
    parser.add_argument("--steps", type=int, help="total training steps (schedule.steps)")
    parser.add_argument("--eval-only", action="store_true", help="evaluate, do not train")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from deeplab.training.cli import run_from_args

    return run_from_args(config=args.config, model_dir=args.model_dir, overrides=args.overrides,
                         weights=args.weights, data=args.data, steps=args.steps,
                         eval_only=args.eval_only)


if __name__ == "__main__":
    sys.exit(main())
