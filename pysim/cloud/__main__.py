"""``python -m pysim.cloud``: the same as ``pysim cloud`` (see :mod:`pysim.cli`)."""

import sys

from pysim.cli import main

sys.exit(main(["cloud", *sys.argv[1:]]))
