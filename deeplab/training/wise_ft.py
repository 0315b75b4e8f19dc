"""Weight-space ensembling of a fine-tuned run with its own starting point (WiSE-FT).

Fine-tuning on one narrow data set (CCP: full-body street-fashion photos) moves the network
away from what made its starting point general (PASCAL: people of every size, indoors and out).
Averaging the weights, ``alpha * trained + (1 - alpha) * start``, keeps most of the fine-tuned
gain on the new data and gives back the starting point's robustness elsewhere (Wortsman et al.,
"Robust fine-tuning of zero-shot models", CVPR 2022). It is exact to do here because both ends
share one architecture and the batch-norm statistics stay frozen during fine-tuning.

The starting point is rebuilt from the run's own ``experiment.yaml`` (its weights source and
head initialisation), so the result is reproducible from the run folder alone::

    python -m deeplab.training.wise_ft runs/person --alpha 0.5 --output person.keras
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from deeplab.log import parse_args
from deeplab.training.config import load_experiment
from deeplab.weights.run_folder import EXPERIMENT_FILE, load_run_model


def interpolate_weights(start: list[np.ndarray], trained: list[np.ndarray], alpha: float
                        ) -> list[np.ndarray]:
    """``alpha * trained + (1 - alpha) * start``, weight by weight (same architecture)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if len(start) != len(trained) or any(a.shape != b.shape for a, b in zip(start, trained)):
        raise ValueError("the run and its starting point have different architectures")
    return [(alpha * b + (1.0 - alpha) * a).astype(b.dtype) for a, b in zip(start, trained)]


def share_residual_decoder_hidden(start, trained) -> None:
    """Give ``start``'s residual decoder the trained hidden weights. A starting point's
    residual decoder outputs zero whatever its hidden layers hold (its last layer is zero), so
    this changes nothing it predicts; the average then scales the trained correction by alpha
    instead of mixing its hidden layers with random ones."""
    from deeplab.layers import RESIDUAL_DECODER_OUTPUT

    names = [layer.name for layer in start.layers if layer.name.startswith("residual_decoder.")]
    if not names:
        return
    if any(np.any(np.asarray(w)) for w in start.get_layer(RESIDUAL_DECODER_OUTPUT).weights):
        raise ValueError("the starting point's residual decoder is not a pass-through "
                         "(its last layer is not zero)")
    for name in names:
        if name != RESIDUAL_DECODER_OUTPUT:
            start.get_layer(name).set_weights(trained.get_layer(name).get_weights())


def wise_ft_model(run_dir: str | Path, alpha: float, output_stride: int | None = None):
    """(model, config): the run's newest good weights averaged with its starting point."""
    from deeplab.model import build_deeplab, rebuild_at_output_stride
    from deeplab.training.trainer import model_from_weights

    run_dir = Path(run_dir)
    experiment = load_experiment(run_dir / EXPERIMENT_FILE)
    if not experiment.model.weights:
        raise ValueError(f"{run_dir} was trained from a random start: there is no starting "
                         "point to average with")
    trained, config = load_run_model(run_dir)
    start, start_config = model_from_weights(experiment)
    if start_config != config:
        raise ValueError(f"{run_dir}: the starting point rebuilt from {EXPERIMENT_FILE} "
                         f"({start_config}) differs from the trained network ({config})")
    share_residual_decoder_hidden(start, trained)
    model = build_deeplab(config)
    model.set_weights(interpolate_weights(start.get_weights(), trained.get_weights(), alpha))
    return rebuild_at_output_stride(model, config, output_stride)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="training run folder (train.py --model-dir)")
    parser.add_argument("--alpha", type=float, required=True,
                        help="weight of the trained network, 0 (start) to 1 (trained)")
    parser.add_argument("--output", type=Path, required=True, help="new .keras file")
    parser.add_argument("--output-stride", type=int, choices=(8, 16),
                        help="stride the saved network runs at (default: the run's)")
    args = parse_args(parser, argv)
    if not 0.0 <= args.alpha <= 1.0:
        parser.error(f"--alpha must be in [0, 1], got {args.alpha}")
    if args.output.suffix != ".keras" or args.output.exists():
        parser.error(f"--output must be a new .keras file, got {args.output}")
    from deeplab.model import save_model

    try:
        model, config = wise_ft_model(args.run, args.alpha, args.output_stride)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    save_model(model, config, args.output)
    print(f"wrote {args.output}: {args.alpha:g} x {args.run} + {1 - args.alpha:g} x its start")
    return 0


if __name__ == "__main__":
    sys.exit(main())
