"""The fine-tuning loop: model set-up, distributed training steps, checkpoints, logs, evaluation.

A run lives in one folder (``model_dir``)::

    experiment.yaml      the resolved experiment config
    model_config.json    the trained network's ModelConfig (class names included)
    checkpoints/         tf.train checkpoints ckpt-<step> (model, optimizer, step); last K kept
    history.jsonl        one line per logged step (loss, learning rate, timing)
    eval.jsonl           one line per in-training evaluation (mIoU, per-class IoU, accuracy)
    train/, eval/        TensorBoard logs
    model.keras          the final model (deeplab.model.save_model format)

Running again with the same folder resumes from the latest checkpoint with its step count.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import keras
import tensorflow as tf
from tqdm import tqdm

from deeplab.atomic import write_text_atomic
from deeplab.config import ModelConfig
from deeplab.data.pipeline import eval_dataset, train_dataset
from deeplab.training.config import ExperimentConfig, dump_experiment
from deeplab.training.distribution import is_chief, make_strategy, per_replica_batch, worker_task
from deeplab.training.evaluation import evaluate
from deeplab.training.head_init import InitReport, initialize_from
from deeplab.training.losses import l2_regularization, segmentation_loss
from deeplab.training.run_folder import (CHECKPOINT_DIR, EVAL_FILE, EXPERIMENT_FILE,
                                         HISTORY_FILE, MODEL_CONFIG_FILE, MODEL_FILE,
                                         read_model_config)
from deeplab.training.schedules import make_optimizer
from deeplab.training.summaries import SummaryLogger

ModelBuilder = Callable[[ModelConfig], keras.Model]
WeightsResolver = Callable[[str], "tuple[keras.Model, ModelConfig]"]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the run stopped without saving the broken weights."""


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


def default_builder(config: ModelConfig) -> keras.Model:
    """The DeepLab network of ``config`` (:func:`deeplab.model.build_deeplab`)."""
    from deeplab.model import build_deeplab

    return build_deeplab(config)


def default_resolver(source: str):
    """(model, config) of any weights source (:func:`deeplab.weights.resolve_model`)."""
    from deeplab.weights import resolve_model

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
                 log: Callable[[str], None] = print):
        self.experiment = experiment
        self.model_dir = Path(model_dir)
        self.build_model = build_model
        self.resolve_weights = resolve_weights
        self.log = log
        runtime = experiment.runtime
        self.strategy = make_strategy(runtime.strategy, runtime.tpu)
        self.chief = is_chief(self.strategy)
        self.per_replica_batch = per_replica_batch(experiment.schedule.batch_size, self.strategy)
        self._setup()

    # ----------------------------------------------------------------------------- set-up
    def _checkpoint_dir(self) -> Path:
        if self.chief:
            return self.model_dir / CHECKPOINT_DIR
        task_type, index = worker_task()
        return self.model_dir / "workers" / f"{task_type}_{index}"

    def _setup(self) -> None:
        experiment = self.experiment
        existing = read_model_config(self.model_dir)
        has_checkpoint = tf.train.latest_checkpoint(str(self._checkpoint_dir())) is not None
        source_model = source_config = None
        if existing is not None and has_checkpoint:
            self.model_config = existing
        else:
            if experiment.model.weights:
                source_model, source_config = self.resolve_weights(experiment.model.weights)
            self.model_config = target_model_config(experiment, source_config)
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
        self.checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer,
                                              step=self.step)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(self._checkpoint_dir()),
            max_to_keep=experiment.runtime.keep_checkpoints, checkpoint_name="ckpt")
        self.init_report = None
        if self.manager.latest_checkpoint:
            status = self.checkpoint.restore(self.manager.latest_checkpoint)
            status.assert_existing_objects_matched()
            self.log(f"Resuming from {self.manager.latest_checkpoint} (step {self.current_step()})")
        elif source_model is not None:
            self.init_report = initialize_from(
                self.model, source_model, self.model_config.class_names,
                source_config.class_names, experiment.model.class_mapping,
                experiment.model.weights)
            self.log(self.init_report.format())
        else:
            self.log("No weights given: training from a random start")
        if self.chief:
            write_text_atomic(self.model_dir / EXPERIMENT_FILE, dump_experiment(experiment))
            write_text_atomic(self.model_dir / MODEL_CONFIG_FILE, self.model_config.to_json())
        self.summaries = SummaryLogger(self.model_dir if self.chief else None,
                                       self.model_config.class_names)

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

        def replica_step(images, labels):
            with tf.GradientTape() as tape:
                logits = model(images, training=True)
                data_loss = segmentation_loss(
                    logits, labels, num_classes, class_weights=schedule.class_weights,
                    top_k_percent_pixels=schedule.top_k_percent_pixels,
                    hard_mining_steps=schedule.hard_mining_steps, step=step)
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

    def _save(self) -> str | None:
        path = self.manager.save(checkpoint_number=self.current_step())
        return path

    # ----------------------------------------------------------------------------- loop
    def train(self, steps: int | None = None) -> TrainResult:
        """Train until ``schedule.steps`` (or ``steps`` more steps); checkpoint and log."""
        runtime = self.experiment.runtime
        total_steps = self.experiment.schedule.steps
        start = self.current_step()
        end = total_steps if steps is None else min(total_steps, start + steps)
        result = TrainResult(str(self.model_dir), start, start, init_report=self.init_report)
        if start >= end:
            self.log(f"Nothing to train: step {start} already reached {end}")
            result.checkpoint = self.manager.latest_checkpoint
            return result
        iterator = iter(self._make_dataset())
        train_step = self._make_train_step()
        global_batch = self.experiment.schedule.batch_size
        wait_total = step_total = 0.0
        timed_steps = 0
        window = {"loss": 0.0, "count": 0, "wait": 0.0, "time": 0.0}
        last_saved = self.manager.latest_checkpoint
        bar = tqdm(total=end - start, desc="train", unit="step", disable=not self.chief)
        history_path = self.model_dir / HISTORY_FILE
        while self.current_step() < end:
            began = time.perf_counter()
            images, labels = next(iterator)
            fetched = time.perf_counter()
            data_loss, total_loss = train_step(images, labels)
            loss_value = float(total_loss)
            finished = time.perf_counter()
            current = self.current_step()
            if not math.isfinite(loss_value):
                bar.close()
                raise TrainingDiverged(
                    f"loss became {loss_value} at step {current}; stopped without saving. "
                    f"Last good checkpoint: {last_saved or 'none'} (it is kept). Lower "
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
            bar.set_postfix(loss=f"{loss_value:.4f}")
            if current % runtime.log_every_steps == 0 or current == end:
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
            if current % runtime.checkpoint_every_steps == 0 or current == end:
                last_saved = self._save()
            if runtime.eval_every_steps and current % runtime.eval_every_steps == 0 and self.chief:
                result.eval = self.evaluate(progress=False)
                self.summaries.scalars("eval", current, result.eval)
                with open(self.model_dir / EVAL_FILE, "a") as handle:
                    handle.write(json.dumps({"step": current, **result.eval}) + "\n")
        bar.close()
        result.step = self.current_step()
        result.checkpoint = last_saved
        if timed_steps:
            result.images_per_second = global_batch * timed_steps / step_total
            result.input_wait_fraction = wait_total / step_total
        if self.chief:
            from deeplab.model import save_model

            save_model(self.model, self.model_config, self.model_dir / MODEL_FILE)
        elif not runtime.keep_worker_checkpoints:
            shutil.rmtree(self._checkpoint_dir(), ignore_errors=True)
        self.summaries.flush()
        return result

    def _image_summary(self, images, labels, step: int) -> None:
        if not self.chief:
            return
        local_images = self.strategy.experimental_local_results(images)[0][:2]
        local_labels = self.strategy.experimental_local_results(labels)[0][:2]
        logits = self.model(local_images, training=False)
        self.summaries.images(step, local_images, local_labels, logits)

    def evaluate(self, split: str | None = None, progress: bool = True) -> dict[str, float]:
        """Scores on the eval split (``runtime.eval_scales`` / ``eval_flip``)."""
        data = self.experiment.data
        runtime = self.experiment.runtime
        examples = eval_dataset(data, split).as_numpy_iterator()
        return evaluate(self.model, examples, self.model_config.num_classes,
                        self.model_config.class_names, longer_side=data.eval_longer_side,
                        scales=runtime.eval_scales, flip=runtime.eval_flip, progress=progress)


def format_scores(scores: dict[str, float]) -> str:
    """One readable line per score."""
    return "\n".join(f"  {k:<22} {v:.4f}" if isinstance(v, float) else f"  {k:<22} {v}"
                     for k, v in scores.items())

