"""What ``train.py`` runs: config + quick-start flags -> training or evaluation, clear errors.

Argument parsing lives in :mod:`deeplab.cli`; this module turns the parsed values into a run.
Every failure a user can cause ends in one message and an exit status (see :mod:`deeplab.cli`),
never a traceback.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from pathlib import Path

from deeplab.data.checks import check_folder_dataset
from deeplab.data.folder import find_list_file
from deeplab.errors import environment_message
from deeplab.interrupts import EXIT_INTERRUPTED, EXIT_TERMINATED
from deeplab.training.config import ExperimentConfig, load_experiment
from deeplab.training.run_lock import LOCK_FILE
from deeplab.weights import WeightsError
from deeplab.weights.run_folder import (EXPERIMENT_FILE, RUN_MARKERS, is_run_folder,
                                        load_run_model)

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_DIVERGED = 1, 2, 3

log = logging.getLogger(__name__)


#: A run folder has one of these from its first moment (train.py writes them at set-up)...
RUN_FOLDER_MARKERS = (EXPERIMENT_FILE, *RUN_MARKERS)
#: ... and may briefly hold only these (TensorBoard logs, other workers' checkpoints).
RUN_FOLDER_EARLY = ("train", "eval", "workers", LOCK_FILE)


def check_model_dir(model_dir: str, program: str = "train", writes: bool = True) -> bool:
    """False (after printing why) when ``--model-dir`` cannot be a run folder: a file, or a
    folder of other things (training would write experiment.yaml, model.keras, ... into it)."""
    path = Path(model_dir).expanduser()
    if path.exists() and not path.is_dir():
        print(f"{program}: --model-dir {model_dir} is a file, not a folder", file=sys.stderr)
        return False
    if not path.is_dir() or not writes:
        return True
    if any((path / name).exists() for name in RUN_FOLDER_MARKERS):
        return True
    others = sorted(p.name for p in path.iterdir()
                    if p.name not in RUN_FOLDER_EARLY and ".before-restart-" not in p.name)
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        print(f"{program}: --model-dir {model_dir} is not a training run folder and holds other "
              f"files ({shown}); give a new or empty folder", file=sys.stderr)
        return False
    return True


def check_config(config: str | None, overrides: list[str], *, weights: str | None = None,
                 data: str | None = None, steps: int | None = None,
                 program: str = "train", announce: bool = True) -> ExperimentConfig | None:
    """The validated experiment, or None after printing the one-line reason (TensorFlow-free).
    ``announce``: log what ``--steps`` changed besides the step count (the warm-up)."""
    notes: list[str] = []
    try:
        experiment = load_experiment(config, quick_start_overrides(weights, data)
                                     + list(overrides), steps=steps, notes=notes)
    except (ValueError, FileNotFoundError) as error:
        print(f"{program}: config error: {error}", file=sys.stderr)
        return None
    for note in notes if announce else ():
        log.info(note)
    return experiment


def quick_start_overrides(weights: str | None, data: str | None) -> list[str]:
    """``--weights/--data`` as config overrides (applied after the config's own values and
    ``--steps``, and before ``--set``, so ``--set`` wins)."""
    overrides = []
    if weights:
        overrides.append(f"model.weights={weights}")
    if data:
        overrides += ["data.kind=folder", f"data.root={data}"]
    return overrides


def evaluate_only(experiment: ExperimentConfig, model_dir: Path) -> dict[str, float]:
    """Score the run folder's latest weights, or the configured weights source (nothing is
    written). ``model.architecture.output_stride`` picks the stride to evaluate at."""
    from deeplab.data.pipeline import eval_dataset
    from deeplab.training.evaluation import evaluate
    from deeplab.training.trainer import model_from_weights

    report = check_folder_dataset(experiment.data, [experiment.data.eval_split])
    report.raise_if_problems()
    if report.checked:
        experiment.data.mask_encoding = report.encoding
    stride = experiment.model.architecture.get("output_stride")
    if is_run_folder(model_dir):
        model, config = load_run_model(model_dir, output_stride=stride)
        origin = str(model_dir)
    elif experiment.model.weights:
        model, config = model_from_weights(experiment)
        origin = experiment.model.weights
    else:
        raise ValueError(f"--eval-only: {model_dir} is not a run folder and no --weights given")
    report.raise_if_problems(config.num_classes, config.class_names)
    if report.checked:
        log.info(report.summary())
    log.info(f"Evaluating {origin} (output stride {config.output_stride}) on "
             f"{experiment.data.eval_split}")
    return evaluate(model, eval_dataset(experiment.data).as_numpy_iterator(), config.num_classes,
                    config.class_names, longer_side=experiment.data.eval_longer_side,
                    scales=experiment.runtime.eval_scales, flip=experiment.runtime.eval_flip)


def run_from_args(*, config: str | None, model_dir: str, overrides: list[str],
                  weights: str | None = None, data: str | None = None, steps: int | None = None,
                  eval_only: bool = False, restart: bool = False,
                  program: str | None = None, announce: bool = True) -> int:
    """Train (or with ``eval_only`` evaluate) as the arguments say; returns the exit status:
    0 done, 1 failed (disk full, unreadable weights), 2 bad config or data, 3 the loss diverged,
    130 / 143 stopped by Ctrl-C / SIGTERM (with a checkpoint to resume from)."""
    program = program or os.path.basename(sys.argv[0]) or "train"
    experiment = check_config(config, overrides, weights=weights, data=data, steps=steps,
                              program=program, announce=announce)
    if experiment is None:
        return EXIT_BAD_INPUT
    from deeplab.training.trainer import CheckpointWriteError, TrainingDiverged

    trainer = None
    try:
        if eval_only:
            from deeplab.training.trainer import format_scores

            print(format_scores(evaluate_only(experiment, Path(model_dir))))
            return 0
        from deeplab.training.trainer import Trainer

        trainer = Trainer(experiment, model_dir, restart=restart)
        result = trainer.train()
        return _report(program, experiment, trainer, result)
    except TrainingDiverged as error:
        print(f"{program}: training diverged: {error}", file=sys.stderr)
        return EXIT_DIVERGED
    except CheckpointWriteError as error:
        print(f"{program}: {error}", file=sys.stderr)
        return EXIT_FAILED
    except (ValueError, FileNotFoundError) as error:
        print(f"{program}: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        if trainer is None:
            print(f"{program}: interrupted before training started; nothing was changed",
                  file=sys.stderr)
        else:
            kept = trainer.manager.latest_checkpoint
            print(f"{program}: interrupted at once; " + (
                f"latest checkpoint {kept} is kept" if kept else "no checkpoint was written"),
                file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as error:  # the machine: read-only folder, full disk, the folder in use
        print(f"{program}: error: {environment_message(error)}", file=sys.stderr)
        return EXIT_FAILED
    except (WeightsError, ImportError) as error:
        print(f"{program}: {error}", file=sys.stderr)
        return EXIT_FAILED


def _report(program: str, experiment: ExperimentConfig, trainer, result) -> int:
    """The end-of-run summary lines; the exit status of a finished or stopped run."""
    if result.stopped_by:
        print(f"{program}: stopped by {result.stopped_by} at step {result.step} of "
              f"{experiment.schedule.steps}; checkpoint {result.checkpoint}; run the same "
              f"command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED if result.stopped_by == "Ctrl-C" else EXIT_TERMINATED
    print(f"Trained steps {result.start_step} -> {result.step}; checkpoint {result.checkpoint}")
    if not math.isnan(result.images_per_second):
        print(f"Throughput {result.images_per_second:.2f} images/s, "
              f"input wait {100 * result.input_wait_fraction:.1f}% of step time")
    if trainer.chief and experiment.runtime.eval_every_steps == 0 and _has_eval(experiment):
        from deeplab.training.trainer import format_scores

        print(format_scores(trainer.evaluate()))
    return 0


def _has_eval(experiment: ExperimentConfig) -> bool:
    """Whether an eval split exists (folder sets without one are skipped quietly)."""
    data = experiment.data
    if data.kind != "folder" or not data.root:
        return True
    if data.val_fraction > 0:
        return True
    return find_list_file(Path(data.root), data.eval_split) is not None
