"""The ``star`` commands, one module per command (wired by ``star.cli.COMMANDS``).

Each module exposes ``add_arguments(parser)`` and ``run(args) -> int``: it parses arguments, calls the
library and prints. The work itself lives in the library (``star.training``, ``star.features``,
``star.evaluation``, ``star.inference``, ``star.data``, ``star.text``, ``star.skeleton``), which never
imports this package.
"""
