"""Command line of the Beam jobs: ``deeplab-infer-beam``, or
``python -m deeplab.portrait.beam.cli``.

    deeplab-infer-beam --input "photos/**/*.jpg" --output out/ --runner DirectRunner \\
        --direct_num_workers 2 --direct_running_mode multi_processing
    deeplab-infer-beam --evaluate labelled/ --output scores/

Portrait options mean what they mean for ``infer.py``; every option this parser does not know is
one of Beam's pipeline options (``--runner``, ``--direct_num_workers``, ``--project``...) and is
handed to Beam as given; an option Beam does not know either is refused. Thin CLI: Beam is
imported only after the arguments are parsed (``--help`` never imports it), and the work is
:func:`deeplab.portrait.beam.pipeline.run_portrait_job` / ``run_evaluation_job``.

Exit status: 0 every photo done or skipped; 1 some photos failed (listed in the failures file);
2 nothing could be done (an option, an input, the weights, or Beam not installed).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from pathlib import Path
from typing import Iterator

from deeplab.log import add_output_flags, configure
from deeplab.portrait.cli import (INPUT_SIZE_RANGE, MAX_BLUR_RADIUS, MAX_DEPTH_FALLOFF,
                                  OneLineParser, number)
from deeplab.portrait.composite import MODES
from deeplab.portrait.litert import CACHE_PRECISIONS
from deeplab.portrait.models import BACKENDS, DEFAULT_WEIGHTS
from deeplab.portrait.presence import IF_EMPTY_CHOICES
from deeplab.portrait.quiet import quiet_environment
from deeplab.portrait.subjects import SUBJECT_CHOICES

logger = logging.getLogger(__name__)

INSTALL_HINT = 'the Beam jobs need the beam extra: pip install -e ".[beam]"'
#: Beam's own worker logs stay at this level unless --verbose (or the option is given).
QUIET_HARNESS = "--default_sdk_harness_log_level=ERROR"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="deeplab-infer-beam", allow_abbrev=False,  # a Beam option is never one of ours
        description="Portrait mode (or its person-quality evaluation) as an Apache Beam job: "
                    "the network through RunInference, the same outputs as infer.py, on any "
                    "Beam runner.",
        epilog="Any other option is Beam's: --runner DirectRunner|DataflowRunner|FlinkRunner|"
               "SparkRunner, --direct_num_workers N, --direct_running_mode multi_processing, "
               "--project, --region, --temp_location... (see docs/beam.md). Exit status: 0 "
               "done, 1 some photos failed (see the failures file), 2 bad option/input/weights.")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--input", action="append", metavar="PATH", dest="inputs",
                      help="image file, folder (recursive) or glob pattern; repeatable")
    what.add_argument("--input-list", type=Path, metavar="FILE",
                      help="a text file naming the inputs, one path, folder or glob a line")
    what.add_argument("--evaluate", type=Path, metavar="FOLDER",
                      help="score the model instead: person IoU per photo and the mean on a "
                           "labelled folder (FOLDER/images + FOLDER/masks)")
    parser.add_argument("--output", "-o", required=True, type=Path, metavar="DIR",
                        help="output folder (visible to every worker); existing files are "
                             "never replaced, so a re-run finishes a killed job")
    parser.add_argument("--failures", type=Path, metavar="FILE",
                        help="where the failed photos are listed, path<TAB>reason (default: "
                             "DIR/beam_failures.txt; rewritten by each run)")
    parser.add_argument("--weights", default=DEFAULT_WEIGHTS, metavar="SOURCE",
                        help="any weights source infer.py takes: registry name, .keras, "
                             ".tflite, exported SavedModel folder... (default: %(default)s)")
    parser.add_argument("--backend", choices=BACKENDS, default="litert",
                        help="litert (default) or tensorflow, as for infer.py")
    parser.add_argument("--precision", choices=CACHE_PRECISIONS, default="float32",
                        help="precision of the cached TFLite network (default: %(default)s)")
    parser.add_argument("--no-cache", dest="use_cache", action="store_false",
                        help="convert the network in memory on every worker")
    parser.add_argument("--input-size", type=number(int, *INPUT_SIZE_RANGE, "--input-size"),
                        default=513, help="longer side fed to the network (default: 513)")
    parser.add_argument("--flip", action="store_true",
                        help="also run the mirrored photo and average")
    parser.add_argument("--batch-size", type=number(int, 1, 64, "--batch-size"), default=4,
                        help="photos per network call at most, 1..64 (default: %(default)s)")
    parser.add_argument("--max-megapixels", type=number(float, 0.1, 1000.0, "--max-megapixels"),
                        default=100.0, metavar="MP",
                        help="refuse photos larger than this, before decoding "
                             "(default: %(default)g)")
    parser.add_argument("--mode", choices=MODES, default="blur", help="as for infer.py")
    parser.add_argument("--classes", default="person", help="as for infer.py")
    parser.add_argument("--subjects", choices=SUBJECT_CHOICES, default="main",
                        help="as for infer.py")
    parser.add_argument("--blur-radius", type=number(float, 0.0, MAX_BLUR_RADIUS, "--blur-radius"),
                        default=None, metavar="PX", help="as for infer.py")
    parser.add_argument("--depth-falloff", default=0.0, metavar="FRACTION",
                        type=number(float, 0.0, MAX_DEPTH_FALLOFF, "--depth-falloff"),
                        help="as for infer.py")
    parser.add_argument("--if-empty", choices=IF_EMPTY_CHOICES, default="keep",
                        help="as for infer.py")
    parser.add_argument("--background", type=Path, metavar="IMG",
                        help="replacement background for --mode replace")
    parser.add_argument("--save-matte", action="store_true",
                        help="also write DIR/<stem>_matte.png")
    parser.add_argument("--jpeg-quality", type=number(int, 1, 100, "--jpeg-quality"), default=95,
                        metavar="Q", help="quality of JPEG outputs (default: %(default)s)")
    add_output_flags(parser)
    return parser


@contextlib.contextmanager
def beam_logs_quiet(verbose: bool) -> Iterator[None]:
    """Beam's own log records (its import notes, the workers' warnings it forwards) shown only
    with ``--verbose``; errors always. The levels are put back afterwards."""
    loggers = [logging.getLogger(), logging.getLogger("apache_beam")]
    levels = [logger.level for logger in loggers]
    if not verbose:
        for logger_ in loggers:
            logger_.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger_, level in zip(loggers, levels):
            logger_.setLevel(level)


def beam_options(parser: argparse.ArgumentParser, extra: list[str], verbose: bool):
    """Beam's PipelineOptions from the arguments this parser did not know; one that Beam does
    not know either is a usage error."""
    try:
        from apache_beam.options.pipeline_options import PipelineOptions
    except ImportError:
        parser.exit(2, f"{parser.prog}: error: {INSTALL_HINT}\n")
    if not verbose and not any(a.startswith("--default_sdk_harness_log_level") for a in extra):
        extra = [*extra, QUIET_HARNESS]
    options = PipelineOptions(extra)
    known = options.get_all_options()
    unknown = sorted(set(options.get_all_options(retain_unknown_options=True)) - set(known))
    if unknown:
        parser.error(f"unknown option(s): {', '.join('--' + name for name in unknown)}")
    return options


def _portrait_options(args: argparse.Namespace):
    from deeplab.portrait.pipeline import PortraitOptions

    return PortraitOptions(
        output_dir=args.output, mode=args.mode, weights=args.weights, classes=args.classes,
        subjects=args.subjects, blur_radius=args.blur_radius, depth_falloff=args.depth_falloff,
        background=args.background, save_matte=args.save_matte, batch_size=args.batch_size,
        max_pixels=int(args.max_megapixels * 1e6), input_size=args.input_size,
        jpeg_quality=args.jpeg_quality, backend=args.backend, precision=args.precision,
        use_cache=args.use_cache, flip=args.flip, if_empty=args.if_empty, verbose=args.verbose,
        if_exists="skip")  # a re-run skips what an earlier run wrote (no numbered copies)


def _check_model(spec, classes: str) -> None:
    """Load the network once here, so that wrong weights or classes stop the job before it
    starts (``ValueError``) rather than on every worker."""
    from deeplab.portrait.models import resolve_classes

    try:
        model = spec.load()
    except (ImportError, RuntimeError, OSError) as error:
        raise ValueError(f"cannot load weights {spec.weights}: {error}") from error
    resolve_classes(model.class_names, classes)


def main(argv: list[str] | None = None) -> int:
    verbose = "--verbose" in (sys.argv[1:] if argv is None else argv)
    with beam_logs_quiet(verbose):
        return _main(build_parser(), argv)


def _main(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    try:
        args, extra = parser.parse_known_args(argv)
        if args.mode == "replace" and args.background is None:
            parser.error("--mode replace needs --background IMG")
        pipeline_options = beam_options(parser, extra, args.verbose)
    except SystemExit as done:  # --help, or a bad argument (already reported in one line)
        return int(done.code or 0)
    configure(quiet=args.quiet, verbose=args.verbose)
    if not args.verbose:
        quiet_environment()
    from deeplab.portrait.beam import pipeline as jobs
    from deeplab.portrait.beam.handler import ModelSpec

    options = _portrait_options(args)
    spec = ModelSpec.of(options)
    try:
        if args.evaluate is not None:
            examples = jobs.labelled_examples(args.evaluate)
            _check_model(spec, "person")
            table = jobs.run_evaluation_job(examples, spec, args.output, pipeline_options,
                                            batch_size=args.batch_size)
            lines = table.read_text(encoding="utf-8").splitlines()
            logger.info("%s", "; ".join(line.lstrip("# ").replace("\t", " ")
                                        for line in lines[-3:]))
            logger.info("per-photo IoU in %s", table)
            return 0
        jobs.check_options(options)
        inputs = (args.inputs if args.input_list is None
                  else jobs.read_input_list(args.input_list))
        photos, refused = jobs.plan_inputs(inputs, options)
        _check_model(spec, args.classes)
        failures = args.failures or args.output / jobs.FAILURES_NAME
        counts = jobs.run_planned_job(photos, refused, options, pipeline_options, failures)
    except (OSError, ValueError) as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    logger.info("%s", counts.report(str(failures)))
    return 1 if counts.failed else 0


if __name__ == "__main__":
    sys.exit(main())
