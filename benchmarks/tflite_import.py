"""Official DeepLab TFLite files read back by this project, against the files run by LiteRT.

    python benchmarks/tflite_import.py [--photos 58]

For each file in ../shared/models/anchors (Coral MobileNetV2 1.0 and 0.5 int8, TFLite example
257 float):

- label agreement: the network rebuilt from the file (float, weights dequantised) and the file
  run by its own interpreter, both on the photo resized to the file's square input (nothing
  resized or padded inside);
- person IoU on person_dev (DESIGN.md section 6): the file run as its example runs it (square
  input), and the rebuilt network exported as this project's SavedModel, run the original
  DeepLab way (longer side 513, padded, align-corners upsampling).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from deeplab.image_files import read_rgb  # noqa: E402
from deeplab.portrait import person_score  # noqa: E402

SHARED = Path(os.environ.get("DEEPLAB_SHARED_DIR", ROOT.parent / "shared"))
FILES = {
    "Coral MNv2 1.0 int8": ("coral_deeplab/deeplabv3_mnv2_pascal_quant.tflite", "coral"),
    "Coral MNv2 0.5 int8": ("coral_deeplab/deeplabv3_mnv2_dm05_pascal_quant.tflite", "coral"),
    "TFLite example 257 float": ("tflite_deeplabv3_257/deeplabv3_257_mv_gpu.tflite",
                                 "pascal_logits"),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=58, help="person_dev photos to use")
    args = parser.parse_args(argv)
    import tensorflow as tf

    from deeplab.export.api import export
    from deeplab.layers import resize_bilinear_align_corners
    from deeplab.portrait.models import load_probability_model
    from deeplab.weights import load_release
    from deeplab.model import build_deeplab, assign_original_weights

    examples = person_score.person_dev(SHARED)[: args.photos]
    photos = {e.name: person_score.working_photo(read_rgb(e.image_path)) for e in examples}
    print("| file | labels equal to its interpreter | person IoU: file, square input "
          "| person IoU: our SavedModel, 513 + pad |")
    print("|---|---|---|---|")
    for label, (relative, kind) in FILES.items():
        path = SHARED / "models" / "anchors" / relative
        release = load_release(path)
        network = build_deeplab(release.config)
        assign_original_weights(network, release.weights)
        interpreter = person_score.SquareTFLite(path, kind)
        size = release.config.crop_size  # the file's own input side
        same = total = 0
        for photo in photos.values():
            square = interpreter.square(photo)
            reference = interpreter.run(square)
            if reference.ndim == 3:
                reference = np.argmax(reference, axis=-1)
            logits = network(release.input_convention.to_real(square)[np.newaxis])
            ours = tf.argmax(resize_bilinear_align_corners(logits, [size, size]), -1)[0].numpy()
            same += int((ours == reference).sum())
            total += ours.size
        file_score = person_score.score_set(interpreter, examples)
        with tempfile.TemporaryDirectory() as scratch:
            export(str(path), Path(scratch) / "saved_model", samples=2)
            saved = load_probability_model(Path(scratch) / "saved_model")
            person = [n.lower() for n in saved.class_names].index("person")
            ours_score = person_score.score_set(person_score.deeplab_predictor(saved, person),
                                                examples)
        print(f"| {label} | {100 * same / total:.2f}% | {file_score.mean:.3f} "
              f"| {ours_score.mean:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
