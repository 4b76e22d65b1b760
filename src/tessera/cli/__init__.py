"""The ``tessera`` command: the group and its shared rules in :mod:`tessera.cli.base`, one module per group of
commands (``db``, ``users``, ``clients``, ``scopes``, ``resources``, ``registration-tokens`` in ``registration``,
``tokens``, and ``serve``/``demo`` in ``run``)."""

from tessera.cli import clients, db, registration, resources, run, scopes, tokens, users  # noqa: F401 - each registers its commands on main
from tessera.cli.base import main

__all__ = ["main"]
