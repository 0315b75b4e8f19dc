#!/usr/bin/env python
"""Portrait mode: blur (or replace, cut out...) the background of photos and videos.

    python infer.py photo.jpg holidays/ "shots/*.png" clip.mp4 --output out/

Thin CLI: the arguments are parsed and run by :func:`deeplab.portrait.cli.main` (also installed
as the ``deeplab-infer`` console script); ``--help`` lists them.
"""

import sys

from deeplab.portrait.cli import main

if __name__ == "__main__":
    sys.exit(main())
