"""``python -m facewatch.cli``: the ``facewatch`` command (benchmarks start servers so)."""

from facewatch.cli import main

main()
