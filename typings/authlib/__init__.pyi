"""Type stubs for the part of Authlib Tessera uses, written against Authlib 1.9.10.

They replace Authlib's own (untyped) modules for mypy, so every module imported from ``authlib`` must have a stub
here: see ``typings/README.md``. The ``authlib`` requirement in ``pyproject.toml`` is capped below the next minor
version because these stubs describe exactly one; move both together.
"""

from .consts import author as author
from .consts import homepage as homepage
from .consts import version as version

__version__: str
__homepage__: str
__author__: str
__license__: str
