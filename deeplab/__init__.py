"""DeepLab v3 / v3+ for TensorFlow 2 and Keras 3, faithful to the official releases.

Importing the package registers its Keras layers, so ``keras.saving.load_model`` reads saved
DeepLab models without ``custom_objects``.
"""

from deeplab import layers  # noqa: F401  (registers the serializable layers)
from deeplab.config import ModelConfig

__version__ = "0.1.0"
__all__ = ["ModelConfig", "__version__"]
