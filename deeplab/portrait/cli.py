"""Command line of portrait mode: ``python infer.py INPUT... --output DIR`` (also installed as
the ``deeplab-infer`` console script).

Thin CLI: parses and checks the arguments (every number finite and in a sensible range, before
any work: one-line error, exit 2), turns them into
:class:`~deeplab.portrait.pipeline.PortraitOptions` and calls
:func:`~deeplab.portrait.pipeline.run_portrait`. Imports no TensorFlow (``--help`` answers in a
fraction of a second) and keeps native libraries' log lines out of the output unless
``--verbose``.

Exit status: 0 all inputs done (or skipped as asked); 1 some inputs failed (each named once in
the summary); 2 nothing could be done (an option, an input or the weights); 130 interrupted
(Ctrl-C: the current file is finished, the summary printed; a second Ctrl-C stops at once).
"""

from __future__ import annotations

import argparse
import math
import signal
import stat
import sys
from pathlib import Path
from typing import Callable

from deeplab.interrupts import EXIT_INTERRUPTED, EXIT_TERMINATED, Terminated, sigterm_raises
from deeplab.errors import environment_message
from deeplab.log import OneLineParser, add_output_flags, configure
from deeplab.portrait.composite import MODES
from deeplab.portrait.litert import CACHE_PRECISIONS
from deeplab.portrait.models import BACKENDS, DEFAULT_WEIGHTS, FAST_WEIGHTS
from deeplab.portrait.presence import IF_EMPTY_CHOICES
from deeplab.portrait.subjects import MAIN_SUBJECT_AREA_FRACTION, SUBJECT_CHOICES
from deeplab.portrait.transparency import ALPHA_CHOICES
from deeplab.portrait.render import VIDEO_INPUT_SIZE
from deeplab.portrait.quiet import quiet_environment
from deeplab.portrait.io import VIDEO_SUFFIXES
from deeplab.portrait.video_io import DEFAULT_CRF, ENCODERS, check_codec, default_codec

MAX_BLUR_RADIUS = 2000.0  # px: beyond a 12-MP photo's diagonal/2, nothing changes
INPUT_SIZE_RANGE = (33, 2049)  # the network: at least a few stride-8 cells, at most ~4 MP
MAX_DEPTH_FALLOFF = 10.0  # fractions of the diagonal
#: Options that only some modes use: refused with the others rather than silently ignored.
MODE_ONLY_OPTIONS = {"background": ("--background", ("replace",)),
                     "blur_radius": ("--blur-radius", ("blur", "compare")),
                     "depth_falloff": ("--depth-falloff", ("blur", "compare"))}


def number(kind: type, low: float, high: float, what: str) -> Callable[[str], float]:
    """An argparse type: a finite ``kind`` value within [low, high]."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a number, got {text!r}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{what} must be finite, got {text}")
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what} must be in {low:g}..{high:g}, got {text}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        description="Portrait mode with DeepLab: subject sharp, background blurred like a lens.",
        epilog="Exit status: 0 done, 1 some inputs failed, 2 bad option/input/weights, "
               "130 interrupted.")
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="image files, folders (recursive), glob patterns or video files")
    parser.add_argument("--output", "-o", required=True, type=Path, metavar="DIR",
                        help="output folder: DIR/<stem>.<ext> (never read back as input)")
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
    parser.add_argument("--subjects", choices=SUBJECT_CHOICES, default="main",
                        help="main (default): the main subject and anyone at least "
                             f"{MAIN_SUBJECT_AREA_FRACTION * 100:.0f}%% of its size stay sharp, "
                             "passers-by are blurred with the background; all: everyone found")
    parser.add_argument("--keep-held", action="store_true",
                        help="also keep sharp what the subject holds or touches (a camera, a "
                             "helmet, a cup): regions the network half-sees attached to the "
                             "subject; may keep a little background beside it sharp too")
    parser.add_argument("--blur-radius", type=number(float, 0.0, MAX_BLUR_RADIUS, "--blur-radius"),
                        default=None, metavar="PX",
                        help=f"disc radius in pixels, 0..{MAX_BLUR_RADIUS:g} (default: 1.2%% of "
                             "the image diagonal)")
    parser.add_argument("--depth-falloff", default=0.0, metavar="FRACTION",
                        type=number(float, 0.0, MAX_DEPTH_FALLOFF, "--depth-falloff"),
                        help="blur grows with distance from the subject, reaching full strength "
                             "at this fraction of the diagonal (0 = uniform blur)")
    parser.add_argument("--if-empty", choices=IF_EMPTY_CHOICES, default="keep",
                        help="when no subject is found (under 0.2%% of the frame): keep = write "
                             "the photo unchanged (default), blur = blur it all, skip = write "
                             "nothing; each such file is named in the summary. Video: the "
                             "effect fades out and back in")
    parser.add_argument("--background", type=Path, metavar="IMG",
                        help="replacement background for --mode replace")
    parser.add_argument("--matte", type=Path, metavar="PATH",
                        help="use this matte instead of the model: a file (one input) or a "
                             "folder of <stem>.png; resized to the photo when smaller")
    parser.add_argument("--save-matte", action="store_true",
                        help="also write DIR/<stem>_matte.png (8-bit, full resolution)")
    parser.add_argument("--if-exists", choices=("number", "skip", "overwrite"), default="number",
                        help="when an output's name is taken: number (default) = write "
                             "<stem>-1.<ext> (the next free number), skip = write nothing for "
                             "that input (resume a batch), overwrite = as --overwrite; the "
                             "summary counts them")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace existing output files (even an input)")
    parser.add_argument("--alpha", choices=ALPHA_CHOICES, default="keep",
                        help="photos with transparency: keep (default) = the output carries "
                             "their alpha (PNG), flatten = composite them onto white first")
    parser.add_argument("--batch-size", type=number(int, 1, 64, "--batch-size"), default=4,
                        help="photos per network call, 1..64 (default: %(default)s)")
    parser.add_argument("--max-megapixels", type=number(float, 0.1, 1000.0, "--max-megapixels"),
                        default=100.0, metavar="MP",
                        help="refuse photos larger than this, before decoding "
                             "(default: %(default)g)")
    parser.add_argument("--input-size", type=number(int, *INPUT_SIZE_RANGE, "--input-size"),
                        default=513,
                        help="longer side fed to the network for photos, %d..%d "
                             "(default: %%(default)s)" % INPUT_SIZE_RANGE)
    parser.add_argument("--video-weights", default=None, metavar="SOURCE",
                        help="model for video frames (default: %s, the fast bundled model, "
                             "when --weights is the default; otherwise --weights)" % FAST_WEIGHTS)
    parser.add_argument("--video-input-size", default=None,
                        type=number(int, *INPUT_SIZE_RANGE, "--video-input-size"),
                        help="longer side fed to the network for video frames (default: the "
                             "video model's own size; %d for models without one)"
                             % VIDEO_INPUT_SIZE)
    parser.add_argument("--video-codec", choices=tuple(ENCODERS), default=None,
                        help="video encoder (default: h264; vp9 for .webm); audio and subtitle "
                             "streams are always copied unchanged")
    parser.add_argument("--crf", type=number(int, 0, 63, "--crf"), default=None,
                        help="constant-quality factor, lower = better and bigger (default: "
                             + ", ".join(f"{k} {v}" for k, v in DEFAULT_CRF.items()) + ")")
    parser.add_argument("--backend", choices=BACKENDS, default="litert",
                        help="litert (default): the network converted once to TFLite, cached, "
                             "run without importing TensorFlow; tensorflow: the Keras model")
    parser.add_argument("--precision", choices=CACHE_PRECISIONS, default="float32",
                        help="precision of the cached TFLite network (default: %(default)s)")
    parser.add_argument("--flip", action="store_true",
                        help="also run the mirrored photo and average (test-time flip: a little "
                             "more accurate, twice the network time)")
    parser.add_argument("--no-object-veto", dest="object_veto", action="store_false",
                        help="with the default photo model, do not ask the fast model whether "
                             "a subject is another object (a cat, a dog: blurred as background)")
    parser.add_argument("--no-cache", dest="use_cache", action="store_false",
                        help="convert the network in memory; do not read or write the cache "
                             "($DEEPLAB_CACHE_DIR or ~/.cache/deeplab)")
    parser.add_argument("--jpeg-quality", type=number(int, 1, 100, "--jpeg-quality"), default=95,
                        metavar="Q", help="quality of JPEG outputs, 1..100 (default: "
                                          "%(default)s)")
    add_output_flags(parser)
    return parser


def _check_output(parser: argparse.ArgumentParser, output: Path) -> None:
    """``--output`` must be a folder or a path where one can be made: not an existing file, nor
    below one."""
    for path in (output, *output.parents):
        if path.is_dir():
            return
        if path.exists() or path.is_symlink():
            where = "" if path == output else f" ({path} is not a folder)"
            parser.error(f"--output {output}: not a folder{where}; --output names the folder "
                         "the results are written to")


def check_paths(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse, before any work, every option that is wrong whatever the inputs: an --output that
    is a file, a --background or --matte that is not a regular file (a FIFO would block
    forever), an option the mode would ignore (--background without --mode replace), an empty
    --classes, a codec the output container cannot hold."""
    _check_output(parser, args.output)
    for dest, (flag, modes) in MODE_ONLY_OPTIONS.items():
        value = getattr(args, dest)
        if value is not None and value != parser.get_default(dest) and args.mode not in modes:
            parser.error(f"{flag} is used only with --mode {' or '.join(modes)} (the mode is "
                         f"{args.mode}); change the mode or leave {flag} out")
    if not [name for name in args.classes.split(",") if name.strip()]:
        parser.error(f"--classes names no class ({args.classes!r}); e.g. --classes person or "
                     "--classes person,dog")
    for option, path in (("--background", args.background), ("--matte", args.matte)):
        if path is None:
            continue
        try:
            mode = path.stat().st_mode
        except OSError as error:
            parser.error(f"{option} {path}: {error.strerror or error}")
        if option == "--matte" and stat.S_ISDIR(mode):
            continue
        if not stat.S_ISREG(mode):
            parser.error(f"{option} {path}: not a regular file")
    if args.mode == "replace" and args.background is None:
        parser.error("--mode replace needs --background IMG")
    for entry in args.inputs:
        suffix = Path(entry).suffix.lower()
        if suffix in VIDEO_SUFFIXES and (args.video_codec or args.crf is not None):
            try:
                check_codec(args.video_codec or default_codec(suffix), suffix, args.crf)
            except ValueError as error:
                parser.error(f"{entry}: {error}")


class StopRequest:
    """SIGINT handler: the first Ctrl-C asks the run to stop after the current file, a second
    one interrupts at once (KeyboardInterrupt)."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum=None, frame=None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nstopping after the current file (Ctrl-C again to stop now)", file=sys.stderr)

    def install(self):
        try:
            return signal.signal(signal.SIGINT, self)
        except ValueError:  # not the main thread (embedded use): keep the default
            return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        check_paths(parser, args)
    except SystemExit as done:  # --help, or a bad argument (already reported in one line)
        return int(done.code or 0)
    configure(quiet=args.quiet, verbose=args.verbose)
    if not args.verbose:
        quiet_environment()
    from deeplab.portrait.pipeline import (ModelUnavailableError, PortraitOptions,
                                           PortraitRunner)

    options = PortraitOptions(
        output_dir=args.output, mode=args.mode, weights=args.weights,
        video_weights=args.video_weights, classes=args.classes,
        subjects=args.subjects, keep_held=args.keep_held,
        blur_radius=args.blur_radius, depth_falloff=args.depth_falloff,
        background=args.background, matte=args.matte, save_matte=args.save_matte,
        overwrite=args.overwrite or args.if_exists == "overwrite",
        if_exists="number" if args.if_exists == "overwrite" else args.if_exists,
        alpha=args.alpha, batch_size=args.batch_size,
        max_pixels=int(args.max_megapixels * 1e6), input_size=args.input_size,
        video_input_size=args.video_input_size, jpeg_quality=args.jpeg_quality,
        backend=args.backend, precision=args.precision, use_cache=args.use_cache,
        flip=args.flip, object_veto=args.object_veto,
        if_empty=args.if_empty, video_codec=args.video_codec, crf=args.crf,
        verbose=args.verbose)
    stop = StopRequest()
    previous = stop.install()
    try:
        with sigterm_raises():  # SIGTERM unwinds like Ctrl-C: temporary outputs are removed
            runner = PortraitRunner(options, progress=not args.quiet,
                                    should_stop=lambda: stop.requested)
            summary = runner.run(args.inputs)
    except (FileNotFoundError, ValueError, ModelUnavailableError) as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # the output folder cannot be made, the disk is full
        print(f"{parser.prog}: error: {environment_message(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print(f"{parser.prog}: terminated; files not finished were removed", file=sys.stderr)
        return EXIT_TERMINATED
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    print(summary.report(), file=sys.stderr)
    return summary.exit_code
