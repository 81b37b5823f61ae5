"""``compat doctor``: would compat serve this environment's legacy code? What stands in the way.

Reports the interpreter, which ``asyncore``/``asynchat`` a plain import gives
and from where, the distributions that also install those modules, whether
compat's precedence is on, uvloop, and the loops ``asyncore.loop()`` and
``asyncio.run()`` run on (measured by running them). Exit status 1 when an
import would not give compat's modules.
"""
import argparse
import asyncio
import importlib
import importlib.util
import os
import platform
import socket
import sys
import warnings
from typing import Any, Dict, List, Optional, Tuple

NAMES = ("asyncore", "asynchat")
PRECEDENCE_ENV = "COMPAT_PRECEDENCE"

EPILOG = """\
exit status:
  0  import asyncore / import asynchat give compat's modules
  1  they would not (another distribution or the standard library wins, or
     compat's modules are not installed); the report says why and what to do
  2  bad arguments
"""


def _providers(name: str) -> List[Tuple[str, str, str]]:
    """Installed distributions with a top-level module or package *name*: (dist, version, file)."""
    from importlib import metadata

    found = []
    seen = set()
    for dist in metadata.distributions():
        dist_name = dist.metadata["Name"] or "?"
        key = (dist_name.lower(), dist.version)
        for file in dist.files or ():
            parts = file.parts
            if (len(parts) == 1 and parts[0] == name + ".py") or (len(parts) == 2 and parts == (name, "__init__.py")):
                if key not in seen:
                    seen.add(key)
                    found.append((dist_name, dist.version, str(dist.locate_file(file))))
    return sorted(found)


def _loop_of_asyncore() -> str:
    """The loop class ``asyncore.loop()`` dispatches from (one real channel on a socketpair)."""
    import compat.asyncore as asyncore_facade

    seen: Dict[str, str] = {}
    private_map: Dict[int, Any] = {}
    a, b = socket.socketpair()
    try:
        class Probe(asyncore_facade.dispatcher):
            def handle_read(self) -> None:
                self.recv(16)
                loop = asyncio.get_running_loop()
                seen["loop"] = f"{type(loop).__module__}.{type(loop).__qualname__}"
                self.close()

            def writable(self) -> bool:
                return False

        Probe(a, map=private_map)
        b.send(b"x")
        asyncore_facade.loop(timeout=5, map=private_map, count=10)
    finally:
        for channel in list(private_map.values()):
            channel.close()
        a.close()
        b.close()
    return seen.get("loop", "unknown (the probe channel was not served)")


def _loop_of_asyncio_run() -> str:
    async def probe() -> str:
        loop = asyncio.get_running_loop()
        return f"{type(loop).__module__}.{type(loop).__qualname__}"

    return asyncio.run(probe())


def _origin(module: Any) -> str:
    return getattr(module, "__file__", None) or repr(module)


def diagnose() -> Tuple[List[str], List[str]]:
    """(report lines, problems): problems make the exit status 1."""
    import compat

    lines: List[str] = []
    problems: List[str] = []
    lines.append(f"python      {platform.python_implementation()} {platform.python_version()} ({sys.executable})")
    lines.append(f"platform    {platform.platform()}")
    lines.append(f"compat      {compat.__version__} ({os.path.dirname(compat.__file__)})")

    precedence = sys.modules.get("_compat_precedence")
    env_value = os.environ.get(PRECEDENCE_ENV)
    if precedence is not None and precedence.installed():
        state = "on (compat-precedence.pth / .start)"
    elif env_value is not None and precedence is not None and not precedence.enabled():
        state = f"off ({PRECEDENCE_ENV}={env_value})"
    elif env_value is not None and env_value.strip().lower() in ("0", "off", "false", "no"):
        state = f"off ({PRECEDENCE_ENV}={env_value})"
    else:
        state = "not installed (an editable install, or compat used from a checkout)"
    lines.append(f"precedence  {state}")

    for name in NAMES:
        facade = importlib.import_module("compat." + name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 3.10/3.11's stdlib copies warn on import
            try:
                module: Optional[Any] = importlib.import_module(name)
                error = None
            except ImportError as exc:
                module, error = None, exc
        if module is facade:
            lines.append(f"{name:<11} compat's ({_origin(module)})")
        elif module is None:
            lines.append(f"{name:<11} not importable: {error}")
            problems.append(f"`import {name}` fails: install compat with pip (pip install .) "
                            f"or run programs with `compat run`")
        else:
            lines.append(f"{name:<11} NOT compat's: {_origin(module)}")
            why = f"`import {name}` gives {_origin(module)}, not compat's module"
            if env_value is not None and state.startswith("off"):
                why += f"; precedence is turned off by {PRECEDENCE_ENV}={env_value}"
            problems.append(why)
        others = [p for p in _providers(name) if p[0].lower() != "compat"]
        for dist, version, path in others:
            lines.append(f"{'':<11} also installed by {dist} {version}: {path}")
        if sys.version_info < (3, 12):
            stdlib = os.path.join(os.path.dirname(os.__file__), name + ".py")
            if os.path.exists(stdlib) and (module is None or _origin(module) != stdlib):
                lines.append(f"{'':<11} also in the standard library: {stdlib}")

    try:
        import uvloop  # noqa: F401

        lines.append(f"uvloop      {getattr(uvloop, '__version__', 'installed')}")
    except ImportError:
        lines.append("uvloop      not installed (optional: pip install '.[uvloop]')")
    try:
        lines.append(f"loops       asyncore.loop(): {_loop_of_asyncore()}")
    except Exception as exc:  # a broken core is exactly what the doctor must report
        lines.append(f"loops       asyncore.loop() failed: {type(exc).__name__}: {exc}")
        problems.append(f"asyncore.loop() does not run: {type(exc).__name__}: {exc}")
    lines.append(f"{'':<11} asyncio.run(): {_loop_of_asyncio_run()}")
    return lines, problems


def main(argv: List[str], prog: str = "python -m compat") -> int:
    """Print the report; 1 when compat would not serve ``import asyncore``/``asynchat``."""
    parser = argparse.ArgumentParser(
        prog=f"{prog} doctor",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Which asyncore/asynchat an import gives and from where, the distributions\n"
                    "that also install them, the interpreter, uvloop, and the loops asyncore.loop()\n"
                    "and asyncio.run() run on.",
        epilog=EPILOG,
    )
    parser.parse_args(argv)
    lines, problems = diagnose()
    print("\n".join(lines))
    if problems:
        print()
        for problem in problems:
            print(f"PROBLEM: {problem}")
        print("Fix: pip uninstall the distributions listed above, or unset "
              f"{PRECEDENCE_ENV}, or run programs with `{prog} run`, which always serves compat's modules.")
        return 1
    print("\nok: import asyncore / import asynchat give compat's modules")
    return 0
