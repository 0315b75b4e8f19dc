"""Command-line entry points: argument parsing only, the work is the library's.

``train_main`` backs ``train.py`` and the ``deeplab-train`` console script, ``export_main``
backs ``export.py`` and ``deeplab-export``. Both take ``argv`` (for tests) and return the exit
status. ``--help`` and every option check run before TensorFlow is imported; ``--quiet`` /
``--verbose`` set how much the library logs (:mod:`deeplab.log`); TensorFlow's start-up noise
is hidden unless ``--verbose`` (:mod:`deeplab.tf_noise`; the C++ stream is filtered only for a
real command line, ``argv=None``, not when a test calls in).

Exit statuses: 0 done; 1 the work failed (export check, unreadable weights, disk full);
2 a bad option, config or data set; 3 training diverged; 130 Ctrl-C; 143 SIGTERM.
"""

from __future__ import annotations

import argparse
import sys

from deeplab.export.formats import FORMATS, KERAS_FILE_MIN_AGREEMENT, PRECISIONS_BY_FORMAT
from deeplab.export.options import ExportOptionError, check_export_options
from deeplab.interrupts import EXIT_INTERRUPTED, EXIT_TERMINATED, Terminated, sigterm_raises
from deeplab.errors import environment_message, environment_problem
from deeplab.log import OneLineParser, add_output_flags, configure
from deeplab.precision import DEFAULT_MIN_AGREEMENT
from deeplab.tf_noise import quiet_python_loggers, quiet_tensorflow

TRAIN_DESCRIPTION = """\
Fine-tune DeepLab: deeplab-train --config configs/NAME.yaml --model-dir DIR
Offline quick start from the bundled model (examples/people, half a minute on a CPU):
    deeplab-train --config configs/quickstart.yaml --model-dir runs/quickstart --steps 20

Quick-start flags override the config: --weights SOURCE (anything deeplab-export accepts),
--data DIR (a folder data set: images/ + masks/), --steps N (caps the warm-up at N/10);
--set key.path=value overrides any config field. Running again with the same --model-dir resumes. --eval-only scores the run's
latest weights (or --weights when the folder has none) on the eval split.

Exit status: 0 done, 1 failed (e.g. disk full), 2 bad option, config or data set (checked
before any work), 3 the loss diverged, 130 Ctrl-C, 143 SIGTERM (a checkpoint is saved first:
run the same command to resume)."""

EXPORT_DESCRIPTION = """\
Export a DeepLab model: SavedModel (default), TFLite, a release-style frozen graph, .keras, ONNX.

    deeplab-export --weights SOURCE --output DIR
    deeplab-export --weights SOURCE --output model.tflite --format tflite --precision int8 \\
        --calibration-dir examples/people/images   (or a few dozen photos like yours)
    deeplab-export --weights SOURCE --output model.tar.gz --format compat

SOURCE is anything deeplab loads: a registry name, release archive or folder, checkpoint prefix,
frozen graph, .keras file or training run folder. Every export checks itself after writing.
--overwrite replaces only an earlier export of the same format.

Exit status: 0 written, 1 the export failed its check or could not be made, 2 a refused option
(checked before any work), 130 Ctrl-C, 143 SIGTERM (no temporary files are left)."""


def _prepare_tensorflow(verbose: bool, real_command_line: bool) -> None:
    """Hide TensorFlow's chatter (unless ``verbose``), then import it."""
    if not verbose:
        if real_command_line:
            quiet_tensorflow()
        quiet_python_loggers()


def unexpected(program: str, error: BaseException) -> str:
    """The one line shown for an error no check anticipated (``--verbose`` shows its traceback)."""
    text = str(error).strip().splitlines()
    detail = f": {text[0]}" if text else ""
    return (f"{program}: unexpected error {type(error).__name__}{detail} (nothing was replaced; "
            f"run with --verbose for the traceback and please report it)")


def train_parser() -> argparse.ArgumentParser:
    """The ``train.py`` / ``deeplab-train`` arguments."""
    parser = OneLineParser(description=TRAIN_DESCRIPTION,
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
    parser.add_argument("--restart", action="store_true",
                        help="start again from step 0 although the run folder has checkpoints "
                             "(they are moved aside to checkpoints.before-restart-*/, not "
                             "deleted)")
    add_output_flags(parser)
    return parser


def _one_line_on_bug(program: str, verbose: bool, work) -> int:
    """``work()``'s exit status; an error no check anticipated still ends in one line and exit 1:
    the machine's condition (full disk, read-only folder, no memory: :mod:`deeplab.errors`)
    named as such, anything else as a bug to report; ``--verbose`` re-raises a bug with its
    traceback."""
    try:
        return work()
    except Exception as error:
        problem = environment_problem(error)
        if problem is not None:
            print(f"{program}: error: {problem}", file=sys.stderr)
            return 1
        if verbose:
            raise
        print(unexpected(program, error), file=sys.stderr)
        return 1


def train_main(argv: list[str] | None = None) -> int:
    """Parse ``train.py`` arguments, check the config (before TensorFlow is imported) and run
    :func:`deeplab.training.cli.run_from_args`."""
    parser = train_parser()
    args = parser.parse_args(argv)
    if args.eval_only and (args.restart or args.steps is not None):
        parser.error(f"{'--restart' if args.restart else '--steps'} does nothing with "
                     "--eval-only (nothing is trained)")
    configure(quiet=args.quiet, verbose=args.verbose)
    from deeplab.training.cli import check_config, check_model_dir

    experiment = check_config(args.config, args.overrides, weights=args.weights, data=args.data,
                              steps=args.steps, program=parser.prog)
    if experiment is None or not check_model_dir(args.model_dir, parser.prog,
                                                 writes=not args.eval_only):
        return 2
    try:
        with sigterm_raises():  # training itself turns the signals into a graceful stop
            _prepare_tensorflow(args.verbose, argv is None)
            from deeplab.training.cli import run_from_args

            return _one_line_on_bug(parser.prog, args.verbose, lambda: run_from_args(
                config=args.config, model_dir=args.model_dir, overrides=args.overrides,
                weights=args.weights, data=args.data, steps=args.steps,
                eval_only=args.eval_only, restart=args.restart, program=parser.prog,
                announce=False))
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted before training started", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print(f"{parser.prog}: terminated before training started", file=sys.stderr)
        return EXIT_TERMINATED


def export_parser() -> argparse.ArgumentParser:
    """The ``export.py`` / ``deeplab-export`` arguments (formats, precisions from the library)."""
    precisions = sorted({p for values in PRECISIONS_BY_FORMAT.values() for p in values})
    by_format = "; ".join(f"{name}: {'|'.join(values)}"
                          for name, values in PRECISIONS_BY_FORMAT.items())
    parser = OneLineParser(description=EXPORT_DESCRIPTION,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="person",
                        help="weights source (name, archive, folder, checkpoint prefix, frozen "
                             "graph, .tflite, .keras, run folder; default: %(default)s, the "
                             "bundled person model)")
    parser.add_argument("--output", required=True, help="output folder (saved_model) or file")
    parser.add_argument("--format", default="saved_model", choices=FORMATS)
    parser.add_argument("--precision", default="float32", choices=precisions, help=by_format)
    parser.add_argument("--no-fold-batch-norm", dest="fold_batch_norm", action="store_false",
                        help="export the network as built, without the exact inference rewrites "
                             "(default: batch norm folded into the convs, ASPP head simplified, "
                             "native dilated kernels in the SavedModel)")
    parser.add_argument("--jit-compile", action="store_true",
                        help="compile the network with XLA in the SavedModel")
    parser.add_argument("--sample-dir", help="images to check the export on (default: generated)")
    parser.add_argument("--samples", type=int, default=3, help="number of check images")
    parser.add_argument("--calibration-dir", help="representative images for int8 calibration")
    parser.add_argument("--calibration-limit", type=int, default=100,
                        help="at most this many calibration images (default: %(default)s)")
    defaults = ", ".join(f"{value} for {precision}"
                         for precision, value in DEFAULT_MIN_AGREEMENT.items())
    parser.add_argument("--min-agreement", type=float,
                        help=f"required label agreement with the Keras model (0-1; default "
                             f"{defaults}; {KERAS_FILE_MIN_AGREEMENT} for --format keras)")
    parser.add_argument("--output-stride", type=int, choices=(8, 16),
                        help="run the network at this output stride (default: the release's)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing output, only if it is an earlier export of "
                             "the same format (never a folder holding other files, an input, "
                             "or the current directory)")
    add_output_flags(parser)
    return parser


def export_main(argv: list[str] | None = None) -> int:
    """Parse ``export.py`` arguments, check them all (before TensorFlow is imported) and run
    :func:`deeplab.export.export`. Exit 2 for a bad option, 1 for a failed export."""
    parser = export_parser()
    args = parser.parse_args(argv)
    configure(quiet=args.quiet, verbose=args.verbose)
    options = dict(format=args.format, precision=args.precision, samples=args.samples,
                   sample_dir=args.sample_dir, calibration_dir=args.calibration_dir,
                   calibration_limit=args.calibration_limit, min_agreement=args.min_agreement,
                   output_stride=args.output_stride, overwrite=args.overwrite)
    try:
        check_export_options(args.weights, args.output, **options)
    except ExportOptionError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    try:
        with sigterm_raises():
            _prepare_tensorflow(args.verbose, argv is None)
            from deeplab.export import ExportError, export
            from deeplab.weights import WeightsError

            def run() -> int:
                try:
                    export(args.weights, args.output, fold_batch_norm=args.fold_batch_norm,
                           jit_compile=args.jit_compile, **options)
                except (ExportError, WeightsError, ValueError, OSError) as error:
                    print(f"{parser.prog}: error: {environment_message(error)}",
                          file=sys.stderr)
                    return 1
                return 0

            return _one_line_on_bug(parser.prog, args.verbose, run)
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted; {args.output} was not written or changed",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print(f"{parser.prog}: terminated; {args.output} was not written or changed",
              file=sys.stderr)
        return EXIT_TERMINATED
