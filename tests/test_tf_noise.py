"""Which native log lines the noise filter hides (deeplab/tf_noise.py)."""

from __future__ import annotations

from deeplab.tf_noise import NOISE


def test_the_converter_and_onednn_notes_are_hidden_but_real_errors_are_not():
    hidden = [
        "E0000 00:00:1796396007.445182    6338 util.cc:131] oneDNN supports DT_UINT8 only on "
        "platforms with AVX-512. Falling back to the default Eigen-based implementation if present.",
        "fully_quantize: 0, inference_type: 6, input_inference_type: FLOAT32, "
        "output_inference_type: FLOAT32",
    ]
    shown = ["E0000 00:00:1796396007.445182    6338 util.cc:131] out of memory",
             "export.py: error: fully_quantize failed"]
    assert all(NOISE.match(line) for line in hidden)
    assert not any(NOISE.match(line) for line in shown)
