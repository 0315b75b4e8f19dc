"""Portrait mode and person-quality evaluation as Beam pipelines, stage by stage as ``infer.py``.

Portrait job: input paths -> (skip what an earlier run wrote) -> decode with ``infer.py``'s reader
and pixel budget -> RunInference (:mod:`.handler`) -> matte, composite and write through
:meth:`PortraitRunner.finish_photo <deeplab.portrait.pipeline.PortraitRunner.finish_photo>`, the
function ``infer.py`` writes every photo with (atomic, never replacing a file). Every photo ends
as one :class:`Outcome`; failed ones go to the failures file (``path<TAB>reason``), counted in the
job's metrics, and never stop the job. Re-running the same job skips the photos already written,
so a killed job is finished by running it again.

Evaluation job: a labelled folder (``images/`` + ``masks/``) -> each photo at the scoring size
-> RunInference -> person IoU per photo (:mod:`deeplab.portrait.person_score`) -> a table and the
mean. Paths must be readable by every worker (a shared or mounted file system).
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import apache_beam as beam
import numpy as np
from apache_beam.metrics.metric import Metrics, MetricsFilter
from apache_beam.ml.inference.base import KeyedModelHandler, PredictionResult, RunInference
from apache_beam.options.pipeline_options import PipelineOptions

from deeplab.image_files import Photo, read_photo, read_rgb
from deeplab.portrait import person_score
from deeplab.portrait.beam.handler import ModelSpec, NetworkOutput, PortraitModelHandler
from deeplab.portrait.pipeline import (ITEM_ERRORS, InputItem, PortraitOptions, PortraitRunner,
                                       Summary, existing_output, expand_inputs, output_target,
                                       prepare_alpha)

logger = logging.getLogger(__name__)

METRICS_NAMESPACE = "deeplab_portrait"
#: What can happen to one photo (the job's counters have these names, plus "empty").
STATUSES = ("written", "skipped", "failed")
FAILURES_NAME = "beam_failures.txt"


@dataclass(frozen=True)
class Outcome:
    """What happened to one input: ``status`` (one of :data:`STATUSES`), and the output written
    or the one-line reason it was skipped or failed."""

    status: str
    path: str
    detail: str

    def line(self) -> str:
        """``path<TAB>detail`` on one line (the failures file's format)."""
        return f"{self.path}\t{' '.join(self.detail.split())}"


@dataclass(frozen=True)
class PhotoKey:
    """What travels beside a decoded photo through RunInference: the input and its output."""

    item: InputItem
    target: Path


def _count(status: str, amount: int = 1) -> None:
    Metrics.counter(METRICS_NAMESPACE, status).inc(amount)


def _reason(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


# --- planning, on the machine that launches the job -------------------------------------------

def read_input_list(path: str | Path) -> list[str]:
    """The inputs named in a list file: one path, folder or glob a line; blank lines and lines
    starting with ``#`` are ignored."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def plan_inputs(inputs: Sequence[str | Path], options: PortraitOptions
                ) -> tuple[list[InputItem], list[Outcome]]:
    """The photos to process (expanded exactly as ``infer.py`` expands its inputs), and the
    inputs refused up front: videos (``infer.py`` renders those) and an output name already
    claimed by an earlier input. ``FileNotFoundError`` for an input that matches nothing."""
    photos: list[InputItem] = []
    refused: list[Outcome] = []
    claimed: set[Path] = set()
    ignored: list[Path] = []
    items = expand_inputs(inputs, exclude=options.output_dir, ignored=ignored)
    if ignored:  # as infer.py's summary says it
        logger.info("%d file(s) in the input folders are not images or videos this program "
                    "reads (e.g. %s): not processed", len(ignored), ignored[0])
    for item in items:
        if item.is_video:
            refused.append(Outcome("failed", str(item.path),
                                   "videos are not rendered by the Beam job; use infer.py"))
            continue
        target = output_target(options, item).resolve()
        if target in claimed:
            refused.append(Outcome("failed", str(item.path),
                                   f"output name collides with another input: "
                                   f"{output_target(options, item)}"))
            continue
        claimed.add(target)
        photos.append(item)
    return photos, refused


def job_options(options: PortraitOptions) -> PortraitOptions:
    """The options the job renders with: ``if_exists="skip"`` whatever was given. An output
    that exists is what an earlier run of the job wrote (a killed job is finished by running it
    again), so it is skipped, never written again under a numbered name (``infer.py``'s
    default ``if_exists="number"``), also when another worker publishes the name while this
    one renders."""
    if options.if_exists == "skip":
        return options
    return dataclasses.replace(options, if_exists="skip")


def check_options(options: PortraitOptions) -> None:
    """Refuse what the Beam job does not do (``ValueError``, one line)."""
    if options.matte is not None:
        raise ValueError("--matte is not supported by the Beam job; use infer.py")
    if options.overwrite:
        raise ValueError("the Beam job never overwrites (a re-run skips what exists); "
                         "use infer.py --overwrite")


def remove_stale_temp(text_output: str | Path) -> None:
    """Delete the temporary folders (``beam-temp-<name>-*``) that a killed run of a job left
    beside its text output ``text_output``: a finished run removes its own, a killed one
    cannot."""
    path = Path(text_output)
    for folder in path.parent.glob(f"beam-temp-{path.name}-*"):
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)


# --- the portrait job's stages -----------------------------------------------------------------

class DecodePhoto(beam.DoFn):
    """An input -> (key, decoded photo), or an Outcome (tagged ``outcomes``) when it is skipped
    (already written) or cannot be read. Decoding and the pixel budget are ``infer.py``'s."""

    OUTCOMES = "outcomes"

    def __init__(self, options: PortraitOptions):
        self.options = job_options(options)

    def process(self, item: InputItem) -> Iterator:
        target = output_target(self.options, item)
        why = existing_output(self.options, item, target)
        if why is not None:
            _count("skipped")
            yield beam.pvalue.TaggedOutput(self.OUTCOMES, Outcome("skipped", str(item.path), why))
            return
        try:
            photo = read_photo(item.path, max_pixels=self.options.max_pixels)
            what = prepare_alpha(self.options, photo, target)  # as infer.py, before the network
        except ITEM_ERRORS as error:
            _count("failed")
            yield beam.pvalue.TaggedOutput(self.OUTCOMES,
                                           Outcome("failed", str(item.path), _reason(error)))
            return
        if what is not None:
            logger.info("%s: %s", item.path, what)
        yield PhotoKey(item, target), photo


class RenderPhoto(beam.DoFn):
    """(key, network output) -> Outcomes: matte, composite and write as ``infer.py`` does."""

    def __init__(self, options: PortraitOptions):
        self.options = job_options(options)

    def setup(self) -> None:
        self.runner = PortraitRunner(self.options, progress=False)
        self.configs: dict[tuple[str, ...], object] = {}

    def _config(self, class_names: tuple[str, ...]):
        if class_names not in self.configs:
            self.configs[class_names] = self.runner.render_config(class_names)
        return self.configs[class_names]

    def process(self, element: tuple[PhotoKey, PredictionResult]) -> Iterator[Outcome]:
        key, result = element
        output: NetworkOutput = result.inference
        photo: Photo = result.example
        path = str(key.item.path)
        if output.error is not None:
            _count("failed")
            yield Outcome("failed", path, output.error)
            return
        try:
            config = self._config(output.class_names)
        except ITEM_ERRORS as error:  # the classes asked for are not the model's
            _count("failed")
            yield Outcome("failed", path, _reason(error))
            return
        summary = Summary()
        self.runner.finish_photo(key.item, key.target, photo, None, output.working,
                                 output.probabilities, config, summary)
        yield from outcomes_of(summary)


def outcomes_of(summary: Summary) -> Iterator[Outcome]:
    """The Outcomes of one photo's ``Summary`` (its written files counted once per photo)."""
    if summary.empty:
        _count("empty", len(summary.empty))
        for path, what in summary.empty:
            logger.info("%s", what)
    if summary.written and not summary.failed:
        _count("written")
        yield Outcome("written", str(summary.written[0]), "")
    for path, why in summary.skipped:
        _count("skipped")
        yield Outcome("skipped", str(path), why)
    for path, why in summary.failed:
        _count("failed")
        yield Outcome("failed", str(path), why)


def portrait_transform(photos: beam.PCollection, options: PortraitOptions,
                       handler: PortraitModelHandler | None = None) -> beam.PCollection:
    """InputItems -> Outcomes: decode, RunInference, render and write (see the module doc)."""
    handler = handler or PortraitModelHandler(ModelSpec.of(options),
                                              batch_size=options.batch_size,
                                              batch_pixels=options.batch_pixels)
    decoded = photos | "Decode" >> beam.ParDo(DecodePhoto(options)).with_outputs(
        DecodePhoto.OUTCOMES, main="photos")
    rendered = (decoded.photos
                | "Network" >> RunInference(KeyedModelHandler(handler))
                | "Render" >> beam.ParDo(RenderPhoto(options)))
    return (decoded[DecodePhoto.OUTCOMES], rendered) | "Outcomes" >> beam.Flatten()


def build_portrait_job(pipeline: beam.Pipeline, photos: Sequence[InputItem],
                       refused: Sequence[Outcome], options: PortraitOptions,
                       failures: str, handler: PortraitModelHandler | None = None) -> None:
    """Add the portrait job to ``pipeline``: ``photos`` spread over the workers, every failure
    (``refused`` included) written to the text file ``failures`` (empty when none failed)."""
    items = (pipeline | "Inputs" >> beam.Create(list(photos))
             | "Spread" >> beam.Reshuffle())
    outcomes = portrait_transform(items, options, handler)
    up_front = pipeline | "Refused" >> beam.Create(list(refused))
    if refused:
        _ = up_front | "CountRefused" >> beam.Map(lambda outcome: _count("failed"))
    _ = ((outcomes, up_front) | "All" >> beam.Flatten()
         | "Failed" >> beam.Filter(lambda outcome: outcome.status == "failed")
         | "Lines" >> beam.Map(Outcome.line)
         | "WriteFailures" >> beam.io.WriteToText(failures, shard_name_template="",
                                                   num_shards=1))


@dataclass
class JobCounts:
    """How many photos a finished job wrote, skipped and failed, and how many had no subject."""

    written: int = 0
    skipped: int = 0
    failed: int = 0
    empty: int = 0

    def report(self, failures: str) -> str:
        line = (f"portrait (beam): {self.written} written, {self.skipped} skipped, "
                f"{self.failed} failed")
        if self.empty:
            line += f"; {self.empty} without a subject"
        if self.failed:
            line += f"; failures listed in {failures}"
        return line


def job_counts(result) -> JobCounts:
    """The counters of a finished job (committed values, as every runner reports them)."""
    counts = JobCounts()
    query = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))
    for counter in query["counters"]:
        name = counter.key.metric.name
        if hasattr(counts, name):
            value = counter.committed if counter.committed is not None else counter.attempted
            setattr(counts, name, getattr(counts, name) + int(value or 0))
    return counts


def run_portrait_job(inputs: Sequence[str | Path], options: PortraitOptions,
                     pipeline_options: PipelineOptions | None = None,
                     failures: str | Path | None = None,
                     handler: PortraitModelHandler | None = None) -> JobCounts:
    """Run portrait mode over ``inputs`` on the runner ``pipeline_options`` names (DirectRunner
    by default) and wait for it; failures go to ``failures`` (default: the output folder's
    ``beam_failures.txt``)."""
    check_options(options)
    photos, refused = plan_inputs(inputs, options)
    return run_planned_job(photos, refused, options, pipeline_options, failures, handler)


def run_planned_job(photos: Sequence[InputItem], refused: Sequence[Outcome],
                    options: PortraitOptions, pipeline_options: PipelineOptions | None = None,
                    failures: str | Path | None = None,
                    handler: PortraitModelHandler | None = None) -> JobCounts:
    """:func:`run_portrait_job` for inputs already planned (:func:`plan_inputs`)."""
    failures = str(failures or options.output_dir / FAILURES_NAME)
    Path(options.output_dir).mkdir(parents=True, exist_ok=True)
    remove_stale_temp(failures)
    pipeline = beam.Pipeline(options=pipeline_options or PipelineOptions())
    build_portrait_job(pipeline, photos, refused, options, failures, handler)
    result = pipeline.run()
    result.wait_until_finish()
    return job_counts(result)


# --- the evaluation job ----------------------------------------------------------------------

@dataclass(frozen=True)
class PhotoScore:
    """Person IoU of one labelled photo, with its counts (for the pooled IoU)."""

    name: str
    iou: float
    intersection: int
    union: int


class DecodeExample(beam.DoFn):
    """A labelled example -> (example, photo at the scoring size), as ``person_score`` reads
    it; an unreadable photo -> a failure Outcome (tagged ``outcomes``)."""

    OUTCOMES = "outcomes"

    def process(self, example: person_score.Example) -> Iterator:
        try:
            photo = person_score.working_photo(read_rgb(example.image_path))
        except ITEM_ERRORS as error:
            yield beam.pvalue.TaggedOutput(self.OUTCOMES, Outcome(
                "failed", str(example.image_path), _reason(error)))
            return
        yield example, Photo(photo, None)


class ScorePhoto(beam.DoFn):
    """(example, network output) -> PhotoScore: "person" is the argmax class, scored against
    the reference mask with :meth:`person_score.SetScore.add`; or a failure Outcome."""

    OUTCOMES = "outcomes"

    def process(self, element: tuple[person_score.Example, PredictionResult]) -> Iterator:
        example, result = element
        output: NetworkOutput = result.inference
        try:
            if output.error is not None:
                raise ValueError(output.error)
            names = [name.lower() for name in output.class_names]
            if "person" not in names:
                raise ValueError(f"the model has no 'person' class: {list(output.class_names)}")
            predicted = np.argmax(output.probabilities, axis=-1) == names.index("person")
            reference = person_score.reference_mask(example.mask_path, predicted.shape)
        except ITEM_ERRORS as error:
            yield beam.pvalue.TaggedOutput(self.OUTCOMES, Outcome(
                "failed", str(example.image_path), _reason(error)))
            return
        score = person_score.SetScore()
        iou = score.add(example.name, predicted, reference)
        yield PhotoScore(example.name, iou, score.intersection, score.union)


class CombineScores(beam.CombineFn):
    """PhotoScores -> one :class:`person_score.SetScore` (its mean is the benchmark's figure)."""

    def create_accumulator(self) -> person_score.SetScore:
        return person_score.SetScore()

    def add_input(self, total: person_score.SetScore, score: PhotoScore) -> person_score.SetScore:
        total.per_photo[score.name] = score.iou
        total.intersection += score.intersection
        total.union += score.union
        return total

    def merge_accumulators(self, totals: Iterable[person_score.SetScore]
                           ) -> person_score.SetScore:
        merged = person_score.SetScore()
        for total in totals:
            merged.per_photo.update(total.per_photo)
            merged.intersection += total.intersection
            merged.union += total.union
        return merged

    def extract_output(self, total: person_score.SetScore) -> person_score.SetScore:
        return total


def score_table(score: person_score.SetScore) -> list[str]:
    """The evaluation's text: one ``name<TAB>IoU`` line per photo (sorted), then the mean and
    the pooled IoU."""
    lines = [f"{name}\t{score.per_photo[name]:.6f}" for name in sorted(score.per_photo)]
    lines += [f"# photos\t{len(score.per_photo)}", f"# mean IoU\t{score.mean:.6f}",
              f"# pooled IoU\t{score.pooled:.6f}"]
    return lines


def build_evaluation_job(pipeline: beam.Pipeline, examples: Sequence[person_score.Example],
                         handler: PortraitModelHandler, table: str, failures: str) -> None:
    """Add the evaluation to ``pipeline``: the table (:func:`score_table`) to the text file
    ``table``, unreadable photos and masks to ``failures``."""
    decoded = (pipeline | "Examples" >> beam.Create(list(examples))
               | "Spread" >> beam.Reshuffle()
               | "Decode" >> beam.ParDo(DecodeExample()).with_outputs(DecodeExample.OUTCOMES,
                                                                      main="photos"))
    scored = (decoded.photos
              | "Network" >> RunInference(KeyedModelHandler(handler))
              | "Score" >> beam.ParDo(ScorePhoto()).with_outputs(ScorePhoto.OUTCOMES,
                                                                 main="scores"))
    _ = (scored.scores
         | "Combine" >> beam.CombineGlobally(CombineScores())
         | "Table" >> beam.FlatMap(score_table)
         | "WriteTable" >> beam.io.WriteToText(table, shard_name_template="", num_shards=1))
    failed = (decoded[DecodeExample.OUTCOMES], scored[ScorePhoto.OUTCOMES])
    _ = (failed | "Failures" >> beam.Flatten()
         | "Lines" >> beam.Map(Outcome.line)
         | "WriteFailures" >> beam.io.WriteToText(failures, shard_name_template="",
                                                   num_shards=1))


def labelled_examples(folder: str | Path) -> list[person_score.Example]:
    """The photos of a labelled folder that have a mask; ``FileNotFoundError`` when none."""
    folder = Path(folder)
    if not (folder / "images").is_dir() or not (folder / "masks").is_dir():
        raise FileNotFoundError(f"{folder}: a labelled folder holds images/ and masks/")
    examples = person_score.labelled_folder(folder)
    if not examples:
        raise FileNotFoundError(f"no labelled photos in {folder} (one mask in masks/ per photo "
                                "stem in images/)")
    return examples


def run_evaluation_job(examples: Sequence[person_score.Example] | str | Path, spec: ModelSpec,
                       output_dir: str | Path, pipeline_options: PipelineOptions | None = None,
                       batch_size: int = 4, handler: PortraitModelHandler | None = None) -> Path:
    """Score ``spec``'s network on labelled examples (or a labelled folder, see
    :func:`labelled_examples`) and wait; returns the table's path (``person_iou.tsv`` in
    ``output_dir``, failures in ``person_iou_failures.txt`` beside it)."""
    if isinstance(examples, (str, Path)):
        examples = labelled_examples(examples)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    table = output_dir / "person_iou.tsv"
    failures = output_dir / "person_iou_failures.txt"
    for text_output in (table, failures):
        remove_stale_temp(text_output)
    handler = handler or PortraitModelHandler(spec, shrink=False, batch_size=batch_size)
    pipeline = beam.Pipeline(options=pipeline_options or PipelineOptions())
    build_evaluation_job(pipeline, examples, handler, str(table), str(failures))
    pipeline.run().wait_until_finish()
    return table
