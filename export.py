"""Export a DeepLab model: ``python export.py --weights SOURCE --output DIR [--format ...]``.

Thin CLI: the arguments are parsed and run by :func:`deeplab.cli.export_main` (also installed as
the ``deeplab-export`` console script); ``--help`` lists the formats and options.
"""

import sys

from deeplab.cli import export_main as main

if __name__ == "__main__":
    sys.exit(main())
