"""The fine-tuning loop: model set-up, distributed training steps, checkpoints, logs, evaluation.

A run lives in one folder (``model_dir``)::

    experiment.yaml      the resolved experiment config
    model_config.json    the trained network's ModelConfig (class names included)
    checkpoints/         tf.train checkpoints ckpt-<step> (model, optimizer, step); the newest
                         K of the folder kept, whichever session wrote them
    .train.lock          held while a process trains the run (one at a time)
    history.jsonl        one line per logged step (loss, learning rate, timing)
    eval.jsonl           one line per in-training evaluation (mIoU, per-class IoU, accuracy)
    train/, eval/        TensorBoard logs
    model.keras          the final model (deeplab.model.save_model format)

Running again with the same folder resumes from the newest checkpoint that restores (damaged
ones are skipped and named, :mod:`deeplab.weights.run_checkpoints`) with its step count, and the
logs are trimmed to that step; a config asking for another network (classes, architecture) is
refused, and unfinished saves (``ckpt-<step>_temp``) are removed. Checkpoints are never deleted
except by rotation after a newer one was written; ``restart=True`` moves them aside. Ctrl-C /
SIGTERM stop after the current step with a checkpoint (:mod:`deeplab.training.stop_request`); a
checkpoint that cannot be written (full disk) stops the run with :class:`CheckpointWriteError`,
the previous one kept.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import keras
import tensorflow as tf

from deeplab.atomic import write_text_atomic
from deeplab.config import ModelConfig
from deeplab.data.checks import DatasetReport, check_folder_dataset
from deeplab.data.pipeline import eval_dataset, train_dataset
from deeplab.model import build_deeplab, rebuild_at_output_stride, save_model
from deeplab.progress import progress_bar
from deeplab.training.config import ExperimentConfig, dump_experiment
from deeplab.training.distribution import is_chief, make_strategy, per_replica_batch, worker_task
from deeplab.training.evaluation import evaluate
from deeplab.training.head_init import InitReport, initialize_from
from deeplab.training.losses import (distillation_loss, l2_regularization, label_set_logits,
                                     label_set_loss, label_set_matrix, segmentation_loss)
from deeplab.training.run_lock import RunFolderLock
from deeplab.training.run_logs import move_aside, prune_after
from deeplab.training.schedules import make_optimizer
from deeplab.training.stop_request import StopRequest
from deeplab.training.summaries import SummaryLogger
from deeplab.weights.run_checkpoints import (CHECKPOINT_NAME, NoRestorableCheckpoint,
                                             checkpoints_on_disk, describe_skipped, keep_newest,
                                             newest_restorable, remove_temporary,
                                             rewrite_list_file)
from deeplab.weights import resolve_model
from deeplab.weights.run_folder import (CHECKPOINT_DIR, EVAL_FILE, EXPERIMENT_FILE, HISTORY_FILE,
                                        MODEL_CONFIG_FILE, MODEL_FILE, read_model_config)

ModelBuilder = Callable[[ModelConfig], keras.Model]
WeightsResolver = Callable[[str], "tuple[keras.Model, ModelConfig]"]

log = logging.getLogger(__name__)

#: Steps timed (after the compiling first ones) before the run's remaining time is estimated.
ESTIMATE_AFTER_STEPS = 5


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the run stopped without saving the broken weights."""


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (full disk, permissions); the previous one is kept."""


class IncompatibleRun(ValueError):
    """The run folder holds a network the config would change (classes, architecture)."""


def check_resumable(experiment: ExperimentConfig, existing: ModelConfig, model_dir: Path) -> None:
    """Refuse to resume ``existing`` under a config that asks for another network: the run
    would go on training the old network while its folder claimed the new config."""
    try:
        wanted = target_model_config(experiment, existing)
    except ValueError as error:
        wanted, why = None, str(error)
    if wanted == existing:
        return
    if wanted is None:
        differences = why
    else:
        differences = "; ".join(
            f"{name} {getattr(existing, name)!r} in the folder, {getattr(wanted, name)!r} asked"
            for name in (f.name for f in dataclasses.fields(existing))
            if getattr(existing, name) != getattr(wanted, name))
        differences = differences or "the network config differs"
    raise IncompatibleRun(
        f"{model_dir} holds a run of another network than the config asks for ({differences}); "
        f"nothing was changed. Give a new --model-dir, or pass --restart to train this folder "
        f"again from step 0 (its checkpoints are then moved aside, not deleted)")


@dataclass
class TrainResult:
    """Outcome of :meth:`Trainer.train`: steps run, logged history, throughput measured after
    the compiling first steps, the last evaluation and the last checkpoint written."""

    model_dir: str
    start_step: int
    step: int
    history: list[dict] = field(default_factory=list)
    images_per_second: float = float("nan")
    input_wait_fraction: float = float("nan")
    eval: dict | None = None
    checkpoint: str | None = None
    init_report: InitReport | None = None
    stopped_by: str | None = None  # "Ctrl-C" or "SIGTERM" when a signal ended the run early


def default_builder(config: ModelConfig) -> keras.Model:
    """The DeepLab network of ``config`` (:func:`deeplab.model.build_deeplab`)."""
    return build_deeplab(config)


def default_resolver(source: str):
    """(model, config) of any weights source (:func:`deeplab.weights.resolve_model`)."""
    return resolve_model(source)


def target_model_config(experiment: ExperimentConfig,
                        source_config: ModelConfig | None) -> ModelConfig:
    """The config of the network to train: the source's, changed by architecture/class names.

    A new ``output_stride`` without explicit ``atrous_rates`` rescales the source's ASPP rates
    (Xception-65's 6/12/18 at stride 16 become 12/24/36 at stride 8), as the original does.
    """
    section = experiment.model
    changes = {k: tuple(v) if isinstance(v, list) else v
               for k, v in section.architecture.items()}
    if section.class_names:
        changes["num_classes"] = len(section.class_names)
        changes["class_names"] = tuple(section.class_names)
    if source_config is None:
        return ModelConfig.from_dict(changes)
    if "output_stride" in changes and "atrous_rates" not in changes:
        source_config = source_config.at_output_stride(int(changes.pop("output_stride")))
    return source_config.replace(**changes)


def model_from_weights(experiment: ExperimentConfig) -> tuple[keras.Model, ModelConfig]:
    """The configured weights as the configured network (head carried over by class name; the
    carry-over report is logged)."""
    source, source_config = default_resolver(experiment.model.weights)
    config = target_model_config(experiment, source_config)
    if config == source_config:
        return source, config
    model = default_builder(config)
    report = initialize_from(model, source, config.class_names, source_config.class_names,
                             experiment.model.class_mapping, experiment.model.weights)
    log.info(report.format())
    return model, config


def freeze_batch_norm(model: keras.Model) -> int:
    """Run every batch norm in inference mode with fixed statistics and affine parameters."""
    count = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
            count += 1
    return count


class Trainer:
    """Sets a run up from an experiment config and trains it (see module doc)."""

    def __init__(self, experiment: ExperimentConfig, model_dir: str | Path, *,
                 build_model: ModelBuilder = default_builder,
                 resolve_weights: WeightsResolver = default_resolver,
                 restart: bool = False):
        self.experiment = experiment
        self.model_dir = Path(model_dir)
        self.build_model = build_model
        self.resolve_weights = resolve_weights
        self.restart = restart
        runtime = experiment.runtime
        self.strategy = make_strategy(runtime.strategy, runtime.tpu)
        self.chief = is_chief(self.strategy)
        self.per_replica_batch = per_replica_batch(experiment.schedule.batch_size, self.strategy)
        # one process per run folder: the chief writes its files (workers their own folders)
        self._lock = RunFolderLock(self.model_dir) if self.chief else None
        self._hold_lock()
        try:
            self._setup()
        except BaseException:
            self.close()
            raise

    def _hold_lock(self) -> None:
        if self._lock is not None:
            self._lock.acquire()

    def close(self) -> None:
        """Let another process use the run folder (done at the end of :meth:`train`)."""
        if self._lock is not None:
            self._lock.release()

    # ----------------------------------------------------------------------------- set-up
    def _checkpoint_dir(self) -> Path:
        if self.chief:
            return self.model_dir / CHECKPOINT_DIR
        task_type, index = worker_task()
        return self.model_dir / "workers" / f"{task_type}_{index}"

    def _check_data(self) -> DatasetReport:
        """Every example decoded and checked before any weights are loaded."""
        report = check_folder_dataset(self.experiment.data)
        report.raise_if_problems()
        data, batch = self.experiment.data, self.experiment.schedule.batch_size
        examples = report.counts.get(data.train_split) if report.checked else None
        if examples and batch > examples:
            raise ValueError(
                f"schedule.batch_size {batch} is larger than the {data.train_split} split "
                f"({examples} examples in {data.root}): every batch would repeat the same "
                f"photos; lower schedule.batch_size to at most {examples}")
        if report.checked:
            self.experiment.data.mask_encoding = report.encoding  # as found in all masks
        return report

    def _set_aside_for_restart(self) -> None:
        """``restart``: the old checkpoints and logs renamed (dated), never deleted."""
        paths = [self._checkpoint_dir()]
        if self.chief:
            paths += [self.model_dir / HISTORY_FILE, self.model_dir / EVAL_FILE]
        for old, new in move_aside(paths):
            log.info(f"--restart: moved {old} to {new}")

    def _setup(self) -> None:
        experiment = self.experiment
        self.data_report = self._check_data()
        checkpoint_dir = self._checkpoint_dir()
        removed = remove_temporary(checkpoint_dir)  # left by a save cut short (2 x Ctrl-C)
        if removed:
            log.info(f"Removed {len(removed)} unfinished checkpoint save(s): {', '.join(removed)}")
        if self.restart and checkpoints_on_disk(checkpoint_dir):
            self._set_aside_for_restart()
        has_checkpoint = bool(checkpoints_on_disk(checkpoint_dir))
        existing = read_model_config(self.model_dir) if has_checkpoint else None
        source_model = source_config = None
        if existing is not None:
            check_resumable(experiment, existing, self.model_dir)
            self.model_config = existing
            if experiment.model.weights:
                log.info(f"Resuming: model.weights {experiment.model.weights} is not loaded "
                         f"again (the run's checkpoint holds the weights trained so far)")
        else:
            if experiment.model.weights:
                source_model, source_config = self.resolve_weights(experiment.model.weights)
            self.model_config = target_model_config(experiment, source_config)
        self.label_sets = None
        label_names = experiment.data.label_names
        if label_names:
            self.label_sets = label_set_matrix(label_names, self.model_config.class_names)
            self.data_report.raise_if_problems(len(label_names), tuple(label_names))
        else:
            self.data_report.raise_if_problems(self.model_config.num_classes,
                                               self.model_config.class_names)
        if self.data_report.checked:
            log.info(self.data_report.summary())
        weights = experiment.schedule.class_weights
        if weights is not None and len(weights) != self.model_config.num_classes:
            raise ValueError(f"schedule.class_weights has {len(weights)} weights for "
                             f"{self.model_config.num_classes} classes")
        with self.strategy.scope():
            previous_policy = keras.mixed_precision.dtype_policy()
            keras.mixed_precision.set_dtype_policy(experiment.runtime.precision)
            try:  # layers take the policy when built; restore it so nothing else changes
                self.model = self.build_model(self.model_config)
            finally:
                keras.mixed_precision.set_dtype_policy(previous_policy)
            self.optimizer = make_optimizer(experiment.schedule, experiment.runtime.precision)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step",
                                    aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
            if experiment.model.freeze_batch_norm:
                freeze_batch_norm(self.model)
            self.optimizer.build(self.model.trainable_variables)
        self.teacher = self._teacher()
        self.checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer,
                                              step=self.step)
        restored = self._restore_newest(checkpoint_dir)
        # retention is ours (keep_newest after each save): the manager forgets what an earlier
        # session wrote, so it would let resumed runs grow the folder without bound
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(checkpoint_dir), max_to_keep=None,
            checkpoint_name=CHECKPOINT_NAME)
        self.init_report = None
        if restored is not None:
            log.info(f"Resuming from {restored} (step {self.current_step()})")
        elif source_model is not None:
            self.init_report = initialize_from(
                self.model, source_model, self.model_config.class_names,
                source_config.class_names, experiment.model.class_mapping,
                experiment.model.weights)
            log.info(self.init_report.format())
        else:
            log.info("No weights given: training from a random start")
        if self.chief:
            self._align_logs(self.current_step())
            write_text_atomic(self.model_dir / EXPERIMENT_FILE, dump_experiment(experiment))
            write_text_atomic(self.model_dir / MODEL_CONFIG_FILE, self.model_config.to_json())
        self.summaries = SummaryLogger(self.model_dir if self.chief else None,
                                       tuple(experiment.data.label_names or ())
                                       or self.model_config.class_names)

    def _teacher(self) -> keras.Model | None:
        """``schedule.distill_from`` as a frozen network at the model's output stride, or None."""
        source = self.experiment.schedule.distill_from
        if not source:
            return None
        teacher, config = self.resolve_weights(source)
        if tuple(n.lower() for n in config.class_names) != tuple(
                n.lower() for n in self.model_config.class_names):
            raise ValueError(f"schedule.distill_from {source} has the classes "
                             f"{list(config.class_names)}, the model "
                             f"{list(self.model_config.class_names)}: a teacher needs the same")
        teacher, _ = rebuild_at_output_stride(teacher, config, self.model_config.output_stride)
        teacher.trainable = False
        log.info(f"Distilling from {source} (weight {self.experiment.schedule.distill_weight})")
        return teacher

    def _restore_newest(self, checkpoint_dir: Path) -> str | None:
        """Restore the newest checkpoint that reads and fits; None when there is none."""
        def restore(prefix: str) -> None:
            self.checkpoint.restore(prefix).assert_existing_objects_matched()

        try:
            restored, skipped = newest_restorable(checkpoint_dir, restore)
        except NoRestorableCheckpoint as error:
            raise NoRestorableCheckpoint(
                f"{error}. Nothing was changed: repair or remove them, or pass --restart to "
                f"train again from step 0 (they are then moved aside, not deleted)") from None
        for message in describe_skipped(skipped):
            log.info(message)
        if restored is None:
            return None
        rewrite_list_file(checkpoint_dir, restored)
        return restored.prefix

    def _align_logs(self, step: int) -> None:
        """Resumed at ``step``: drop log lines the steps after it will write again; starting at
        0 over an old history: keep it under a dated name."""
        logs = [self.model_dir / HISTORY_FILE, self.model_dir / EVAL_FILE]
        if step == 0:
            for old, new in move_aside([p for p in logs if p.is_file()]):
                log.info(f"Starting at step 0: kept the earlier {old.name} as {new.name}")
            return
        for path in logs:
            dropped = prune_after(path, step)
            if dropped:
                log.info(f"{path.name}: dropped {dropped} line(s) after step {step} or repeated "
                         f"(they are logged again as training resumes)")

    def current_step(self) -> int:
        """Optimizer steps taken so far (restored on resume)."""
        return int(self.step.numpy())

    # ----------------------------------------------------------------------------- steps
    def _make_dataset(self):
        data = self.experiment.data
        seed = self.experiment.runtime.seed

        def dataset_fn(context: tf.distribute.InputContext):
            batch = context.get_per_replica_batch_size(self.experiment.schedule.batch_size)
            pipeline_seed = seed + self.current_step() + context.input_pipeline_id
            return train_dataset(data, batch, seed=pipeline_seed, input_context=context)

        return self.strategy.distribute_datasets_from_function(dataset_fn)

    def _make_train_step(self):
        schedule = self.experiment.schedule
        num_classes = self.model_config.num_classes
        replicas = self.strategy.num_replicas_in_sync
        model, optimizer, step = self.model, self.optimizer, self.step
        scale_loss = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)

        label_sets, teacher = self.label_sets, self.teacher

        def replica_step(images, labels):
            teacher_logits = None if teacher is None else teacher(images, training=False)
            with tf.GradientTape() as tape:
                logits = model(images, training=True)
                if label_sets is not None:
                    data_loss = label_set_loss(logits, labels, label_sets)
                else:
                    data_loss = segmentation_loss(
                        logits, labels, num_classes, class_weights=schedule.class_weights,
                        top_k_percent_pixels=schedule.top_k_percent_pixels,
                        hard_mining_steps=schedule.hard_mining_steps, step=step)
                if teacher_logits is not None:
                    data_loss += schedule.distill_weight * distillation_loss(
                        logits, teacher_logits, labels, label_sets)
                total = data_loss + l2_regularization(model, schedule.weight_decay)
                scaled = total / replicas
                if scale_loss:
                    scaled = optimizer.scale_loss(scaled)
            variables = model.trainable_variables
            gradients = tape.gradient(scaled, variables)
            optimizer.apply_gradients(zip(gradients, variables))
            return data_loss, total

        @tf.function(jit_compile=self.experiment.runtime.jit_compile or None)
        def train_step(images, labels):
            data_loss, total = self.strategy.run(replica_step, args=(images, labels))
            step.assign_add(1)
            mean = tf.distribute.ReduceOp.MEAN
            return (self.strategy.reduce(mean, data_loss, axis=None),
                    self.strategy.reduce(mean, total, axis=None))

        return train_step

    def _save(self, last_saved: str | None) -> str:
        """Write ``ckpt-<step>``, then keep the newest ``runtime.keep_checkpoints`` of the whole
        folder; on failure remove what this save left and raise :class:`CheckpointWriteError`
        naming the checkpoint that is kept."""
        step = self.current_step()
        directory = self._checkpoint_dir()
        before = set(directory.iterdir()) if directory.is_dir() else set()
        try:
            saved = self.manager.save(checkpoint_number=step)
        except (OSError, tf.errors.OpError) as error:
            for path in set(directory.iterdir()) - before if directory.is_dir() else ():
                if path.name.startswith(f"{CHECKPOINT_NAME}-{step}"):
                    shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink()
            reason = getattr(error, "message", None) or getattr(error, "strerror", None) \
                or str(error)
            raise CheckpointWriteError(
                f"could not write the checkpoint of step {step} in {directory} "
                f"({str(reason).strip().splitlines()[0]}); the previous checkpoint "
                f"{last_saved or '(none)'} is kept. Free some space and run the same command "
                f"to resume from it") from None
        try:
            keep_newest(directory, self.experiment.runtime.keep_checkpoints, step)
        except (OSError, tf.errors.OpError) as error:  # the new one is whole; clean-up failed
            reason = getattr(error, "strerror", None) or getattr(error, "message", None) or error
            log.warning(f"could not delete older checkpoints in {directory} ({reason}); they "
                        f"are deleted after the next save")
        return saved

    # ----------------------------------------------------------------------------- loop
    def train(self, steps: int | None = None) -> TrainResult:
        """Train until ``schedule.steps`` (or ``steps`` more steps); checkpoint and log.

        The first Ctrl-C or SIGTERM ends the run after the current step with a checkpoint
        (``result.stopped_by`` says which); ``model.keras`` is written only by a finished run.
        """
        self._hold_lock()
        try:
            return self._train(steps)
        finally:
            self.close()

    def _train(self, steps: int | None) -> TrainResult:
        """:meth:`train` with the run folder locked."""
        runtime = self.experiment.runtime
        total_steps = self.experiment.schedule.steps
        start = self.current_step()
        end = total_steps if steps is None else min(total_steps, start + steps)
        result = TrainResult(str(self.model_dir), start, start, init_report=self.init_report)
        result.checkpoint = self.manager.latest_checkpoint
        if start >= end:
            log.info(f"Nothing to train: step {start} already reached {end}")
            return result
        bar = progress_bar(total=end - start, desc="train", unit="step", enabled=self.chief)
        try:
            with StopRequest(announce=self.chief) as stop:
                self._loop(start, end, result, bar, stop)
        finally:
            bar.close()
        result.step = self.current_step()
        if stop.requested and result.step < end:  # a stop during the last step changes nothing
            result.stopped_by = "Ctrl-C" if stop.signal == signal.SIGINT else "SIGTERM"
        elif self.chief:
            log.info(f"Writing {self.model_dir / MODEL_FILE}")
            try:
                save_model(self.model, self.model_config, self.model_dir / MODEL_FILE)
            except OSError as error:
                raise CheckpointWriteError(
                    f"could not write {self.model_dir / MODEL_FILE} ({error.strerror or error}); "
                    f"the final checkpoint {result.checkpoint} is kept and the run folder works "
                    f"as a weights source without it") from None
        elif not runtime.keep_worker_checkpoints:
            shutil.rmtree(self._checkpoint_dir(), ignore_errors=True)
        self.summaries.flush()
        return result

    def _loop(self, start: int, end: int, result: TrainResult, bar,
              stop: StopRequest) -> None:
        """Steps ``start`` -> ``end`` (or to a stop request), filling ``result``."""
        runtime = self.experiment.runtime
        global_batch = self.experiment.schedule.batch_size
        iterator = iter(self._make_dataset())
        train_step = self._make_train_step()
        wait_total = step_total = 0.0
        timed_steps = 0
        window = {"loss": 0.0, "count": 0, "wait": 0.0, "time": 0.0}
        history_path = self.model_dir / HISTORY_FILE
        saved_step = start if result.checkpoint else None
        while self.current_step() < end:
            began = time.perf_counter()
            images, labels = next(iterator)
            fetched = time.perf_counter()
            data_loss, total_loss = train_step(images, labels)
            loss_value = float(total_loss)
            finished = time.perf_counter()
            current = self.current_step()
            if not math.isfinite(loss_value):
                raise TrainingDiverged(
                    f"loss became {loss_value} at step {current}; stopped without saving. "
                    f"Last good checkpoint: {result.checkpoint or 'none'} (it is kept). Lower "
                    "schedule.learning_rate, add warm-up, or check the labels (ids must be "
                    "< num_classes or 255).")
            if current > start + 2:  # the first steps trace and compile
                wait_total += fetched - began
                step_total += finished - began
                timed_steps += 1
            window["loss"] += loss_value
            window["count"] += 1
            window["wait"] += fetched - began
            window["time"] += finished - began
            bar.update(1)
            data_value = float(data_loss)
            bar.set_postfix(loss=f"{data_value:.4f}", weight_decay=f"{loss_value - data_value:.4f}")
            if timed_steps == ESTIMATE_AFTER_STEPS and self.chief:
                log.info(self._estimate(step_total / timed_steps, end - current))
            stopping = stop.requested  # read once: a signal after this is the next step's
            last = current == end or stopping
            if current % runtime.log_every_steps == 0 or last:
                record = {
                    "step": current, "loss": window["loss"] / window["count"],
                    "data_loss": float(data_loss),
                    "learning_rate": float(self.optimizer.learning_rate),
                    "images_per_second": global_batch * window["count"] / window["time"],
                    "input_wait_fraction": window["wait"] / window["time"],
                    "time": time.time(),
                }
                result.history.append(record)
                if self.chief:
                    with open(history_path, "a") as handle:
                        handle.write(json.dumps(record) + "\n")
                self.summaries.scalars("train", current, record)
                window = {"loss": 0.0, "count": 0, "wait": 0.0, "time": 0.0}
            every = runtime.image_summary_every_steps
            if every and current % every == 0:
                self._image_summary(images, labels, current)
            if (current % runtime.checkpoint_every_steps == 0 or last) and current != saved_step:
                result.checkpoint = self._save(result.checkpoint)
                saved_step = current
            if runtime.eval_every_steps and current % runtime.eval_every_steps == 0 \
                    and self.chief and not stopping:
                result.eval = self.evaluate()
                self.summaries.scalars("eval", current, result.eval)
                with open(self.model_dir / EVAL_FILE, "a") as handle:
                    handle.write(json.dumps({"step": current, **result.eval}) + "\n")
            result.step = current
            if timed_steps:
                result.images_per_second = global_batch * timed_steps / step_total
                result.input_wait_fraction = wait_total / step_total
            if stopping:  # the checkpoint of this step is written above
                return

    def _estimate(self, seconds_per_step: float, remaining: int) -> str:
        """How long the rest of the run will take at the measured speed (one line)."""
        runtime = self.experiment.runtime
        current = self.current_step()
        evaluations = 0 if not runtime.eval_every_steps else \
            (current + remaining) // runtime.eval_every_steps - current // runtime.eval_every_steps
        text = (f"{1 / seconds_per_step:.2f} steps/s measured: about "
                f"{format_duration(seconds_per_step * remaining)} for the {remaining} steps left")
        if evaluations:
            text += f", plus {evaluations} evaluation(s)"
        return text

    def _image_summary(self, images, labels, step: int) -> None:
        if not self.chief:
            return
        local_images = self.strategy.experimental_local_results(images)[0][:2]
        local_labels = self.strategy.experimental_local_results(labels)[0][:2]
        logits = self.model(local_images, training=False)
        if self.label_sets is not None:  # shown in the data's labels, as they are scored
            logits = label_set_logits(logits, self.label_sets)
        self.summaries.images(step, local_images, local_labels, logits)

    def evaluate(self, split: str | None = None, progress: bool = True) -> dict[str, float]:
        """Scores on the eval split (``runtime.eval_scales`` / ``eval_flip``)."""
        data = self.experiment.data
        runtime = self.experiment.runtime
        examples = eval_dataset(data, split).as_numpy_iterator()
        if self.label_sets is not None:  # scored in the data's labels: P(label) = P(its set)
            def model(x, training=False):
                return label_set_logits(self.model(x, training=training), self.label_sets)

            return evaluate(model, examples, len(data.label_names), tuple(data.label_names),
                            longer_side=data.eval_longer_side, scales=runtime.eval_scales,
                            flip=runtime.eval_flip, progress=progress)
        return evaluate(self.model, examples, self.model_config.num_classes,
                        self.model_config.class_names, longer_side=data.eval_longer_side,
                        scales=runtime.eval_scales, flip=runtime.eval_flip, progress=progress,
                        total=self.data_report.counts.get(split or data.eval_split))


def format_duration(seconds: float) -> str:
    """``42 s``, ``6 min 5 s`` or ``2 h 10 min``: a duration as a person reads it."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def format_scores(scores: dict[str, float]) -> str:
    """One readable line per score."""
    return "\n".join(f"  {k:<22} {v:.4f}" if isinstance(v, float) else f"  {k:<22} {v}"
                     for k, v in scores.items())

