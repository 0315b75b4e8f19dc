"""The Beam jobs (deeplab/portrait/beam/): same files as infer.py, failures listed, resumable,
and the evaluation scored as person_score scores."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

beam = pytest.importorskip("apache_beam")

from apache_beam.options.pipeline_options import PipelineOptions  # noqa: E402

from deeplab.image_files import Photo  # noqa: E402
from deeplab.portrait import person_score  # noqa: E402
from deeplab.portrait.beam import cli as beam_cli  # noqa: E402
from deeplab.portrait.beam.handler import (ModelSpec, PhotoWeight,  # noqa: E402
                                           PortraitModelHandler)
from deeplab.portrait.beam.pipeline import (FAILURES_NAME, plan_inputs,  # noqa: E402
                                            read_input_list, remove_stale_temp,
                                            run_evaluation_job, run_portrait_job)
from deeplab.portrait.models import load_probability_model  # noqa: E402
from deeplab.portrait.pipeline import PortraitOptions, run_portrait  # noqa: E402

from beam_fixtures import SMALL_INPUT_SIZE, person_photos, save, small_litert  # noqa: E402
from conftest import PROJECT_ROOT  # noqa: E402
from portrait_fakes import BrightIsPerson, photo  # noqa: E402

MULTI_PROCESS = ["--runner", "DirectRunner", "--direct_num_workers", "2",
                 "--direct_running_mode", "multi_processing"]


class FakeNetworkHandler(PortraitModelHandler):
    """The handler with the tests' fake network (in-process runs only)."""

    def load_model(self):
        return BrightIsPerson()


def photo_folder(root: Path, count: int = 6) -> tuple[Path, list[Path]]:
    """Small photos of people (JPEG, PNG, one in a sub-folder, one RGBA) and three broken files
    (not an image, a truncated JPEG, one over the pixel budget): (folder, broken paths)."""
    folder = root / "photos"
    for i, (stem, rgb, mask) in enumerate(person_photos(count)):
        if i == 1:
            save(folder / "sub" / f"{stem}.png", rgb)
        elif i == 2:
            save(folder / f"{stem}.png", np.dstack([rgb, mask]))
        else:
            save(folder / f"{stem}.jpg", rgb)
    broken = [folder / "notes.png", folder / "cut.jpg", folder / "huge.png"]
    broken[0].write_text("not an image")
    broken[1].write_bytes(next(folder.glob("*.jpg")).read_bytes()[:300])
    save(broken[2], photo(300, 400))
    return folder, broken


def tree(folder: Path) -> dict[str, bytes]:
    """Every visible file under ``folder`` by relative path, the job's failures file aside."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.startswith(".") and p.name != FAILURES_NAME}


def outputs(folder: Path) -> dict[str, bytes]:
    """:func:`tree` without Beam's temporary folders (a running job's text outputs)."""
    if not folder.is_dir():
        return {}
    return {name: data for name, data in tree(folder).items()
            if not name.startswith("beam-temp-")}


def stats(folder: Path) -> dict[str, tuple[int, int]]:
    return {name: (os.stat(folder / name).st_ino, os.stat(folder / name).st_mtime_ns)
            for name in outputs(folder)}


def failures(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    assert all(line.count("\t") == 1 for line in lines)
    return dict(line.split("\t") for line in lines)


CLI_OPTIONS = ["--input-size", str(SMALL_INPUT_SIZE), "--max-megapixels", "0.1",
               "--save-matte"]


def infer_outputs(folder: Path, output: Path) -> dict[str, bytes]:
    """What infer.py writes for ``folder`` with CLI_OPTIONS."""
    options = PortraitOptions(output_dir=output, weights=str(small_litert()),
                              input_size=SMALL_INPUT_SIZE, max_pixels=100_000, save_matte=True)
    summary = run_portrait([folder], options, progress=False)
    assert len(summary.failed) == 3
    return tree(output)


def test_multi_process_job_writes_infer_bytes_lists_broken_and_skips_on_rerun(tmp_path):
    folder, broken = photo_folder(tmp_path)
    expected = infer_outputs(folder, tmp_path / "infer")
    assert len(expected) == 12  # 6 photos and their mattes
    output = tmp_path / "beam"
    args = ["--input", str(folder), "--output", str(output), "--weights", str(small_litert()),
            *CLI_OPTIONS, *MULTI_PROCESS]
    assert beam_cli.main(args) == 1  # some photos failed
    assert tree(output) == expected
    listed = failures(output / FAILURES_NAME)
    assert set(listed) == {str(p) for p in broken}
    assert "too large" in listed[str(broken[2])] or "pixels" in listed[str(broken[2])]
    before = stats(output)
    assert beam_cli.main(args) == 1  # the broken ones still fail; the rest is skipped
    assert stats(output) == before
    assert set(failures(output / FAILURES_NAME)) == {str(p) for p in broken}


SLOW_JOB = """
import sys, time
from pathlib import Path
from apache_beam.options.pipeline_options import PipelineOptions
from deeplab.portrait.beam.handler import ModelSpec, PortraitModelHandler
from deeplab.portrait.beam.pipeline import run_portrait_job
from deeplab.portrait.pipeline import PortraitOptions


class SlowHandler(PortraitModelHandler):
    def run_inference(self, batch, model, inference_args=None):
        time.sleep(1.0)  # slow enough for the test to kill the job half-way
        return super().run_inference(batch, model, inference_args)


folder, output, weights = sys.argv[1:4]
options = PortraitOptions(output_dir=Path(output), weights=weights, input_size=%d,
                          max_pixels=100_000, save_matte=True, batch_size=1)
run_portrait_job([folder], options, PipelineOptions(sys.argv[4:]),
                 handler=SlowHandler(ModelSpec.of(options), batch_size=1))
""" % SMALL_INPUT_SIZE


def test_killed_job_is_finished_by_a_rerun_without_rewriting(tmp_path):
    folder, broken = photo_folder(tmp_path, count=10)
    expected = infer_outputs(folder, tmp_path / "infer")
    output = tmp_path / "beam"
    script = tmp_path / "slow_job.py"
    script.write_text(SLOW_JOB)
    job = subprocess.Popen([sys.executable, str(script), str(folder), str(output),
                            str(small_litert()), *MULTI_PROCESS], cwd=PROJECT_ROOT,
                           start_new_session=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        while job.poll() is None and len(outputs(output)) < 4:
            time.sleep(0.05)
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
    written = outputs(output)
    assert 4 <= len(written) < len(expected), "the job was not killed half-way"
    assert all(expected[name] == data for name, data in written.items())  # whole files only
    before = stats(output)
    args = ["--input", str(folder), "--output", str(output), "--weights", str(small_litert()),
            *CLI_OPTIONS, *MULTI_PROCESS]
    assert beam_cli.main(args) == 1
    assert tree(output) == expected  # the killed run's temporary folders are gone too
    after = stats(output)
    assert {name: after[name] for name in before} == before  # nothing rewritten


@pytest.mark.parametrize("mode", ["cutout", "blur"])
def test_in_process_job_matches_infer_with_a_fake_network(tmp_path, mode):
    folder = tmp_path / "in"
    save(folder / "a.png", np.dstack([photo(), np.full((96, 128), 200, np.uint8)]))
    save(folder / "b.jpg", photo(80, 60))
    save(folder / "empty.jpg", photo(subject=False))
    common = dict(mode=mode, if_empty="skip", save_matte=True)
    run_portrait([folder], PortraitOptions(output_dir=tmp_path / "infer", **common),
                 model=BrightIsPerson(), progress=False)
    options = PortraitOptions(output_dir=tmp_path / "beam", **common)
    counts = run_portrait_job([folder], options,
                              handler=FakeNetworkHandler(ModelSpec.of(options)))
    assert tree(tmp_path / "beam") == tree(tmp_path / "infer")
    assert (counts.written, counts.skipped, counts.failed) == (2, 1, 0)
    assert (tmp_path / "beam" / FAILURES_NAME).read_text() == ""


def test_rerun_skips_what_exists_and_never_writes_numbered_copies(tmp_path, monkeypatch):
    """infer.py's default for a taken name is a numbered copy (a-1.png); the job skips it, also
    when the name is published after the job checked it (another worker, an earlier run)."""
    from deeplab.portrait.beam import pipeline as jobs

    folder = tmp_path / "in"
    save(folder / "a.png", photo())
    save(folder / "b.jpg", photo(80, 60))
    options = PortraitOptions(output_dir=tmp_path / "beam", save_matte=True)
    assert options.if_exists == "number" and jobs.job_options(options).if_exists == "skip"
    first = run_portrait_job([folder], options, handler=FakeNetworkHandler(ModelSpec.of(options)))
    assert (first.written, first.skipped, first.failed) == (2, 0, 0)
    before = tree(tmp_path / "beam")
    assert sorted(before) == ["a.png", "a_matte.png", "b.jpg", "b_matte.png"]
    again = run_portrait_job([folder], options, handler=FakeNetworkHandler(ModelSpec.of(options)))
    assert (again.written, again.skipped, again.failed) == (0, 2, 0)
    monkeypatch.setattr(jobs, "existing_output", lambda *args: None)  # taken after the check
    raced = run_portrait_job([folder], options, handler=FakeNetworkHandler(ModelSpec.of(options)))
    assert (raced.written, raced.skipped, raced.failed) == (0, 2, 0)
    assert tree(tmp_path / "beam") == before


def test_plan_refuses_videos_and_colliding_names_like_infer(tmp_path):
    save(tmp_path / "in" / "a.png", photo())
    save(tmp_path / "in" / "a.bmp", photo())  # also a.png out
    (tmp_path / "in" / "clip.mp4").write_bytes(b"")
    photos, refused = plan_inputs([tmp_path / "in"], PortraitOptions(output_dir=tmp_path / "o"))
    assert [item.path.name for item in photos] == ["a.bmp"]
    assert sorted((Path(o.path).name, o.detail.split(":")[0]) for o in refused) == [
        ("a.png", "output name collides with another input"),
        ("clip.mp4", "videos are not rendered by the Beam job; use infer.py")]


def test_stale_temporary_folders_of_the_same_output_are_removed(tmp_path):
    for name in ("beam-temp-beam_failures.txt-1a2b", "beam-temp-other.txt-1a2b", "photos"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "part").write_text("x")
    remove_stale_temp(tmp_path / FAILURES_NAME)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["beam-temp-other.txt-1a2b", "photos"]


def test_input_list_names_paths_folders_and_globs(tmp_path):
    listed = tmp_path / "list.txt"
    listed.write_text("# photos\n\n  a/b.jpg \nshots/*.png\n")
    assert read_input_list(listed) == ["a/b.jpg", "shots/*.png"]


def test_handler_groups_by_size_and_fails_only_the_group_that_fails():
    class FailsOnWide(BrightIsPerson):
        def probabilities(self, images):
            if images.shape[2] > images.shape[1]:
                raise RuntimeError("network exploded\nsecond line")
            return super().probabilities(images)

    handler = PortraitModelHandler(ModelSpec(input_size=64), batch_size=4)
    batch = [Photo(photo(96, 128), None), Photo(photo(128, 96), None), Photo(photo(48, 64), None)]
    results = list(handler.run_inference(batch, FailsOnWide()))
    assert [r.example for r in results] == batch
    wide, tall, small = (r.inference for r in results)
    assert wide.error == small.error == "network exploded"
    assert tall.error is None and tall.probabilities.shape == (64, 48, 2)
    assert tall.working.image.shape == (64, 48, 3)
    assert tall.class_names == ("background", "person")


def test_photo_weight_caps_batches_by_count_and_pixels():
    weight = PhotoWeight(batch_size=4, batch_pixels=1_000_000)
    small = Photo(np.zeros((10, 10, 3), np.uint8), None)
    half = Photo(np.zeros((500, 1000, 3), np.uint8), None)
    assert weight(small) == 1 and weight(("key", small)) == 1
    assert weight(half) == 2  # two such photos fill a batch of 4
    assert weight(Photo(np.zeros((2000, 2000, 3), np.uint8), None)) == 16  # alone


def test_evaluation_scores_like_person_score(tmp_path):
    root = tmp_path / "labelled"
    for stem, rgb, mask in person_photos(5, side=120):
        save(root / "images" / f"{stem}.jpg", rgb)
        save(root / "masks" / f"{stem}.png", mask)
    (root / "images" / "broken.jpg").write_text("no")
    save(root / "masks" / "broken.png", np.zeros((8, 8), np.uint8))
    table = run_evaluation_job(root, ModelSpec(weights=str(small_litert())), tmp_path / "out",
                               PipelineOptions(MULTI_PROCESS))
    lines = table.read_text().splitlines()
    rows = dict(line.split("\t") for line in lines if not line.startswith("#"))
    model = load_probability_model(small_litert())
    examples = [e for e in person_score.labelled_folder(root) if e.name != "broken"]
    person = list(model.class_names).index("person")
    expected = person_score.score_set(person_score.deeplab_predictor(model, person), examples)
    assert rows == {name: f"{iou:.6f}" for name, iou in expected.per_photo.items()}
    assert f"# mean IoU\t{expected.mean:.6f}" in lines
    assert f"# pooled IoU\t{expected.pooled:.6f}" in lines
    assert 0.3 < expected.mean <= 1.0  # a real network on real people
    listed = failures(tmp_path / "out" / "person_iou_failures.txt")
    assert list(listed) == [str(root / "images" / "broken.jpg")]
