"""The ``tessera`` command: the group and its shared rules in :mod:`tessera.cli.base`, one module per group of
commands (``db``, ``users``, ``clients``, ``scopes``, ``resources``, ``registration-tokens`` in ``registration``,
``tokens``, ``keys``, ``audit``, and ``serve``/``demo`` in ``run``)."""

from tessera.cli import (  # noqa: F401 - each registers its commands on main
    audit,
    clients,
    db,
    keys,
    registration,
    resources,
    run,
    scopes,
    tokens,
    users,
)
from tessera.cli.base import main

__all__ = ["main"]
