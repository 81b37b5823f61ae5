"""Build step (setup.cfg's cmdclass): install the startup files of shims/_compat_precedence.py.

Used by setuptools only, never imported at run time. It lives here rather
than in ``_compat_precedence`` because that module is imported at every
interpreter start where compat is installed, and setuptools would reuse that
already-imported (installed, possibly older) copy instead of the sources
being built.
"""
import os
from typing import List

from setuptools.command.build_py import build_py as _base

#: startup files and their one line: the .pth for 3.9-3.14; on 3.15+ (PEP 829)
#: the .start entry point runs and the .pth's import line, deprecated there, is skipped
STARTUP_FILES = {
    "compat-precedence.pth": "import _compat_precedence; _compat_precedence.install()\n",
    "compat-precedence.start": "_compat_precedence:install\n",
}


class build_py(_base):  # type: ignore[misc]
    """setuptools' build_py, plus the startup files next to the top-level modules."""

    def run(self) -> None:
        """Build as usual, then write the startup files where the wheel's root is."""
        super().run()
        target_dir = self.build_lib
        if getattr(self, "editable_mode", False):
            # An editable wheel takes build_lib from the sources; what goes
            # into the wheel itself is install's install_lib (setuptools 64+).
            target_dir = getattr(self.distribution.get_command_obj("install"), "install_lib", None)
            if not (isinstance(target_dir, str) and os.path.isdir(target_dir)):
                return
        for name, line in STARTUP_FILES.items():
            with open(os.path.join(target_dir, name), "w", encoding="utf-8") as f:
                f.write(line)

    def get_outputs(self, include_bytecode: bool = True) -> List[str]:
        """The modules' outputs and the startup files."""
        outputs = list(super().get_outputs(include_bytecode))
        if not getattr(self, "editable_mode", False):
            outputs += [os.path.join(self.build_lib, name) for name in STARTUP_FILES]
        return outputs
