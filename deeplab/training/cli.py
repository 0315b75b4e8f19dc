"""What ``train.py`` runs: config + quick-start flags -> training or evaluation, clear errors.

Argument parsing lives in :mod:`deeplab.cli`; this module turns the parsed values into a run.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

from deeplab.training.config import ExperimentConfig, load_experiment


def quick_start_overrides(weights: str | None, data: str | None, steps: int | None) -> list[str]:
    """``--weights/--data/--steps`` as config overrides (applied after the config's own values
    and before ``--set``, so ``--set`` wins)."""
    overrides = []
    if weights:
        overrides.append(f"model.weights={weights}")
    if data:
        overrides += ["data.kind=folder", f"data.root={data}"]
    if steps is not None:
        overrides.append(f"schedule.steps={steps}")
    return overrides


def evaluate_only(experiment: ExperimentConfig, model_dir: Path) -> dict[str, float]:
    """Score the run folder's latest weights, or the configured weights source (nothing is
    written). ``model.architecture.output_stride`` picks the stride to evaluate at."""
    from deeplab.data.pipeline import eval_dataset
    from deeplab.training.evaluation import evaluate
    from deeplab.training.run_folder import is_run_folder, load_run_model

    stride = experiment.model.architecture.get("output_stride")
    if is_run_folder(model_dir):
        model, config = load_run_model(model_dir, output_stride=stride)
        origin = str(model_dir)
    elif experiment.model.weights:
        model, config = model_from_weights(experiment)
        origin = experiment.model.weights
    else:
        raise ValueError(f"--eval-only: {model_dir} is not a run folder and no --weights given")
    print(f"Evaluating {origin} (output stride {config.output_stride}) on "
          f"{experiment.data.eval_split}")
    return evaluate(model, eval_dataset(experiment.data).as_numpy_iterator(), config.num_classes,
                    config.class_names, longer_side=experiment.data.eval_longer_side,
                    scales=experiment.runtime.eval_scales, flip=experiment.runtime.eval_flip)


def model_from_weights(experiment: ExperimentConfig):
    """The configured weights as the configured network (head carried over by class name)."""
    from deeplab.training.head_init import initialize_from
    from deeplab.training.trainer import default_builder, default_resolver, target_model_config

    source, source_config = default_resolver(experiment.model.weights)
    config = target_model_config(experiment, source_config)
    if config == source_config:
        return source, config
    model = default_builder(config)
    report = initialize_from(model, source, config.class_names, source_config.class_names,
                             experiment.model.class_mapping, experiment.model.weights)
    print(report.format())
    return model, config


def run_from_args(*, config: str | None, model_dir: str, overrides: list[str],
                  weights: str | None = None, data: str | None = None, steps: int | None = None,
                  eval_only: bool = False) -> int:
    """Train (or with ``eval_only`` evaluate) as the arguments say; returns the exit status:
    0 done, 2 bad config or input, 3 the loss diverged."""
    from deeplab.training.trainer import Trainer, TrainingDiverged, format_scores

    program = os.path.basename(sys.argv[0]) or "train"
    try:
        experiment = load_experiment(
            config, quick_start_overrides(weights, data, steps) + list(overrides))
    except (ValueError, FileNotFoundError) as error:
        print(f"{program}: config error: {error}", file=sys.stderr)
        return 2
    try:
        if eval_only:
            print(format_scores(evaluate_only(experiment, Path(model_dir))))
            return 0
        trainer = Trainer(experiment, model_dir)
        result = trainer.train()
    except TrainingDiverged as error:
        print(f"{program}: training diverged: {error}", file=sys.stderr)
        return 3
    except (ValueError, FileNotFoundError) as error:
        print(f"{program}: {error}", file=sys.stderr)
        return 2
    print(f"Trained steps {result.start_step} -> {result.step}; checkpoint {result.checkpoint}")
    if not math.isnan(result.images_per_second):
        print(f"Throughput {result.images_per_second:.2f} images/s, "
              f"input wait {100 * result.input_wait_fraction:.1f}% of step time")
    if trainer.chief and experiment.runtime.eval_every_steps == 0 and _has_eval(experiment):
        print(format_scores(trainer.evaluate()))
    return 0


def _has_eval(experiment: ExperimentConfig) -> bool:
    """Whether an eval split exists (folder sets without one are skipped quietly)."""
    data = experiment.data
    if data.kind != "folder" or not data.root:
        return True
    if data.val_fraction > 0:
        return True
    from deeplab.data.folder import find_list_file

    return find_list_file(Path(data.root), data.eval_split) is not None
