"""DeepLab v3 / v3+ for TensorFlow 2 and Keras 3, faithful to the official releases.

The package root imports nothing heavy, so TensorFlow-free paths (the LiteRT portrait CLI) start
fast. Importing :mod:`deeplab.layers` (done by :mod:`deeplab.model` and everything that builds a
network) registers the Keras layers, after which ``keras.saving.load_model`` reads saved DeepLab
models without ``custom_objects``.
"""

__version__ = "0.1.0"
