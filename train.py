"""Fine-tune DeepLab: ``python train.py --config configs/NAME.yaml --model-dir DIR``.

Thin CLI: the arguments are parsed and run by :func:`deeplab.cli.train_main` (also installed as
the ``deeplab-train`` console script); ``--help`` lists them.
"""

import sys

from deeplab.cli import train_main as main

if __name__ == "__main__":
    sys.exit(main())
