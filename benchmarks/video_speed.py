"""Video frames per second end to end, as ``infer.py`` runs a 640x480 clip, per video model.

    python benchmarks/video_speed.py [--repeats 3] [--models person_fast,person]

Each model renders the shared 640x480 webcam clips (H.264 in, H.264 out, blur mode, the
default temporal smoothing) through portrait mode's own runner, model loaded and warm, in this
one process: decoding, the network, subject selection, matte, lens blur and encoding all count.
``person_fast`` at its own size is what ``infer.py`` uses for video by default; ``person`` at
225 px was the default before it. The figure is total frames over total seconds, best of
``--repeats`` runs (other work on the machine only ever slows a run down).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from deeplab.portrait.pipeline import PortraitOptions, PortraitRunner  # noqa: E402

SHARED = Path(os.environ.get("DEEPLAB_SHARED_DIR", ROOT.parent / "shared"))
CLIPS = ("webcam_again.mkv", "webcam_book.mkv", "webcam_help.mkv", "webcam_thanks.mkv")


def frames_per_second(weights: str, clips: list[Path], repeats: int) -> tuple[float, int]:
    """Best frames/s over ``repeats`` runs of every clip, and the frames per run."""
    best = 0.0
    frames = sum(_frame_count(path) for path in clips)
    with tempfile.TemporaryDirectory() as temp:
        runner = PortraitRunner(PortraitOptions(output_dir=Path(temp), overwrite=True,
                                                video_weights=weights), progress=False)
        runner.run(clips[:1])  # load and warm the model
        for _ in range(repeats):
            start = time.perf_counter()
            summary = runner.run(clips)
            elapsed = time.perf_counter() - start
            if summary.failed:
                raise RuntimeError(f"{weights}: {summary.failed}")
            best = max(best, frames / elapsed)
    return best, frames


def _frame_count(path: Path) -> int:
    from deeplab.portrait.video import video_info

    return video_info(path).frame_count


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="person_fast,person",
                        help="video models, comma-separated (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    clips = [SHARED / "data" / "videos" / name for name in CLIPS]
    if not all(path.is_file() for path in clips):
        print(f"needs the webcam clips under {SHARED / 'data' / 'videos'}", file=sys.stderr)
        return 2
    print("| video model (infer.py --video-weights) | frames/s, 640x480, 2 cores | frames |")
    print("|---|---|---|")
    results = {}
    for weights in args.models.split(","):
        fps, frames = frames_per_second(weights, clips, args.repeats)
        results[weights] = fps
        print(f"| {weights} | {fps:.1f} | {frames} |", flush=True)
    if len(results) > 1:
        first, *rest = results
        for other in rest:
            print(f"{first} is {results[first] / results[other]:.2f}x {other}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
