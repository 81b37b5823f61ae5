"""``import asyncore``/``asynchat`` give compat's modules, ahead of other distributions of them.

pyasyncore, pyasynchat and standard-asyncore install ``asyncore/`` and
``asynchat/`` packages into site-packages, and a package directory beats
compat's ``asyncore.py`` module in the same directory; on 3.9-3.11 the
standard library's deprecated copies come before site-packages. Either way
``asyncore.socket_map`` would silently not be compat's map, and mixed
servers would hang. ``compat-precedence.pth`` (installed with compat, as
setuptools installs ``distutils-precedence.pth``) calls :func:`install` at
interpreter start, which puts :class:`PrecedenceFinder` first on
``sys.meta_path``; on 3.15+ ``compat-precedence.start`` does (PEP 829
entry point; the .pth's import line, deprecated there, is then skipped).

Only modules installed by distributions or the standard library are
overridden: an ``asyncore.py`` of the user's own (in the script's directory,
on PYTHONPATH) still wins, as it would without compat. ``COMPAT_PRECEDENCE=0``
in the environment turns the whole mechanism off.

The two startup files are written at build time by ``compat/_build.py``.
"""
import os
import sys
from typing import Any, List, Optional, Sequence

ENV = "COMPAT_PRECEDENCE"
NAMES = ("asyncore", "asynchat")

_HERE = os.path.dirname(os.path.abspath(__file__))


def enabled() -> bool:
    """Whether the environment leaves precedence on (``COMPAT_PRECEDENCE=0`` turns it off)."""
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "off", "false", "no")


def _distribution_dirs() -> List[str]:
    """site-packages and standard library directories: where other copies get installed."""
    import site
    import sysconfig

    dirs = [p for key, p in sysconfig.get_paths().items() if key in ("stdlib", "platstdlib", "purelib", "platlib")]
    dirs.append(os.path.dirname(os.__file__))
    try:
        dirs.extend(site.getsitepackages())
    except AttributeError:  # some embedded site modules lack it
        pass
    user_site = getattr(site, "ENABLE_USER_SITE", False) and site.getusersitepackages()
    if user_site:
        dirs.append(user_site)
    return [os.path.normcase(os.path.realpath(d)) for d in dirs]


class PrecedenceFinder:
    """Finds compat's ``asyncore``/``asynchat`` modules when a distribution's would be found."""

    @classmethod
    def find_spec(cls, fullname: str, path: Optional[Sequence[str]] = None, target: Any = None) -> Any:
        """compat's module for ``asyncore``/``asynchat`` unless the user's own module is found first."""
        if path is not None or fullname not in NAMES:
            return None
        ours = os.path.join(_HERE, fullname + ".py")
        if not os.path.isfile(ours):
            return None
        from importlib.machinery import PathFinder
        from importlib.util import spec_from_file_location

        found = PathFinder.find_spec(fullname)
        if found is not None and found.origin not in (None, "built-in", "frozen"):
            where = os.path.dirname(found.origin)
            if found.submodule_search_locations is not None:
                where = os.path.dirname(where)
            if os.path.normcase(os.path.realpath(where)) not in _distribution_dirs():
                return None  # the user's own module, as without compat
        return spec_from_file_location(fullname, ours)

    @classmethod
    def invalidate_caches(cls) -> None:
        """Nothing cached."""


def install() -> None:
    """Put :class:`PrecedenceFinder` first on ``sys.meta_path`` unless turned off (idempotent)."""
    if enabled() and PrecedenceFinder not in sys.meta_path:
        sys.meta_path.insert(0, PrecedenceFinder)


def installed() -> bool:
    """Whether :class:`PrecedenceFinder` is on ``sys.meta_path``."""
    return PrecedenceFinder in sys.meta_path
