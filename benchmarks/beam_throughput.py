"""Photos per second of portrait mode: ``infer.py`` against the Beam job with 1 and 2 workers.

In one run, on the same photos (person_dev, repeated up to ``--photos``), the same weights and
options, each into a fresh output folder:
  infer.py (PortraitRunner, one process, as the CLI runs it) |
  Beam DirectRunner, multi_processing, 1 worker | the same with 2 workers
Each figure is end to end (the Beam jobs' start-up, worker processes and model loads included),
after one untimed run that fills the LiteRT conversion cache. The Beam outputs are checked
byte-identical to infer.py's. The machine is shared: read the ratios, not the absolute numbers.

    python benchmarks/beam_throughput.py [--photos 58] [--weights person] [--input-size 513]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from apache_beam.options.pipeline_options import PipelineOptions  # noqa: E402

from deeplab.portrait.beam.pipeline import run_portrait_job  # noqa: E402
from deeplab.portrait.beam.cli import QUIET_HARNESS  # noqa: E402
from deeplab.portrait.models import load_probability_model  # noqa: E402
from deeplab.portrait.pipeline import PortraitOptions, run_portrait  # noqa: E402

SHARED = Path(os.environ.get("DEEPLAB_SHARED_DIR", ROOT.parent / "shared"))
PHOTOS = SHARED / "data/person_dev/images"


def photo_folder(folder: Path, count: int) -> Path:
    """``count`` photos: person_dev's, repeated under new names as needed."""
    sources = sorted(PHOTOS.glob("*.jpg"))
    folder.mkdir(parents=True)
    for i in range(count):
        source = sources[i % len(sources)]
        shutil.copyfile(source, folder / f"{i:05d}_{source.name}")
    return folder


def tree(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.glob("*.jp*g")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=58)
    parser.add_argument("--weights", default="person")
    parser.add_argument("--input-size", type=int, default=513)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="beam_throughput_"))
    try:
        photos = photo_folder(work / "photos", args.photos)
        model = load_probability_model(args.weights, input_size=args.input_size)  # fills cache
        print(f"{args.photos} photos from {PHOTOS}, weights {args.weights} "
              f"({type(model.runtime).__name__}, {model.crop_size or args.input_size} px), "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")

        def options(name: str) -> PortraitOptions:
            return PortraitOptions(output_dir=work / name, weights=args.weights,
                                   input_size=args.input_size)

        rows = []
        start = time.perf_counter()
        summary = run_portrait([photos], options("infer"), progress=False)
        rows.append(("infer.py (1 process)", time.perf_counter() - start, len(summary.written)))
        expected = tree(work / "infer")
        for workers in (1, 2):
            name = f"beam{workers}"
            beam_options = PipelineOptions([
                "--runner", "DirectRunner", "--direct_running_mode", "multi_processing",
                "--direct_num_workers", str(workers), QUIET_HARNESS])
            start = time.perf_counter()
            counts = run_portrait_job([photos], options(name), beam_options)
            rows.append((f"Beam DirectRunner, {workers} worker{'s' * (workers > 1)}",
                         time.perf_counter() - start, counts.written))
            if tree(work / name) != expected:
                print(f"MISMATCH: the {name} outputs differ from infer.py's")
                return 1
        print(f"{'path':<32} {'seconds':>8} {'photos/s':>9} {'vs infer.py':>12}")
        for label, seconds, written in rows:
            print(f"{label:<32} {seconds:8.2f} {written / seconds:9.2f} "
                  f"{rows[0][1] / seconds:11.2f}x")
        print("outputs of both Beam jobs byte-identical to infer.py's")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
