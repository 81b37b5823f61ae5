"""``compat run [OPTIONS] SCRIPT|-m MODULE [ARGS...]``: a legacy program, unchanged, as ``python`` runs it.

The command line reads like python's: options first, then the script (or
``-m MODULE``), then the program's own arguments, passed on untouched. To add
an option, append an :class:`Option` to :data:`OPTIONS`; its values land in
``RunArgs.options[option.dest]`` (a list for repeatable options).

Besides ``compat.install()``, the program sees what ``python SCRIPT`` gives
it: ``__file__`` absolute, ``sys.argv[0]`` as typed, the script's directory
(not compat's launcher's) first on ``sys.path``, tracebacks with the
program's frames only, and python's messages and exit statuses. Source that
3.7+ cannot parse (``asyncio.async``) is rewritten as it is compiled, for the
script and the modules imported from its directory (compat.legacy.source).
"""
import atexit
import builtins
import importlib
import importlib.machinery
import importlib.util
import os
import re
import signal
import sys
import textwrap
import traceback
import types
import warnings
from typing import Any, Dict, List, NamedTuple, Optional, Tuple, Type, cast

__all__ = ["OPTIONS", "Option", "RunArgs", "UsageError", "main", "parse", "usage"]

#: environment variable: comma-separated ``-W`` values, applied before the -W options
WARNINGS_ENV = "COMPAT_WARNINGS"


class Option(NamedTuple):
    """One option of ``compat run`` (before the script)."""

    flags: Tuple[str, ...]
    dest: str
    metavar: Optional[str]  # None: a flag without a value
    help: str
    repeat: bool = False


OPTIONS: List[Option] = [
    Option(("-W",), "warnings", "ARG",
           "warning control as python's -W (action:message:category:module:lineno), applied once "
           "compat is importable, so -W error::compat.LegacyWarning works; repeatable, later ones win",
           repeat=True),
]


class RunArgs(NamedTuple):
    """What ``compat run``'s command line asks for."""

    script: Optional[str]  # None with -m
    module: Optional[str]
    args: List[str]  # the program's sys.argv[1:]
    options: Dict[str, object]


class UsageError(Exception):
    """A bad ``compat run`` command line (exit status 2)."""


EXIT_STATUS = """\
exit status (as python's):
  the program's own: 0 when it ends normally, sys.exit()'s code (1 with a message)
  1  uncaught exception or syntax error in the program; -m MODULE or a
     directory's __main__ not found
  2  bad compat run command line, or SCRIPT cannot be opened
  killed by SIGINT after an uncaught KeyboardInterrupt, as python is
"""


def usage(prog: str = "python -m compat") -> str:
    """The one-paragraph usage of ``run``."""
    opts = " ".join(f"[{o.flags[0]} {o.metavar}]" if o.metavar else f"[{o.flags[0]}]" for o in OPTIONS)
    return (f"usage: {prog} run {opts} SCRIPT [ARGS...]\n"
            f"       {prog} run {opts} -m MODULE [ARGS...]\n")


def help_text(prog: str = "python -m compat") -> str:
    """The full ``run --help``."""
    rows = [(", ".join(o.flags) + (f" {o.metavar}" if o.metavar else ""), o.help) for o in OPTIONS]
    rows += [("-m MODULE", "run a module (or a package's __main__) as python -m does; "
                           "what follows is its arguments"),
             ("-h, --help", "show this help and exit")]
    lines = [usage(prog), "Run a legacy program as python would, with compat.install() in effect:",
             "import asyncore/asynchat give compat's facades, the legacy asyncio APIs",
             "are back, and asyncio.async(...) source is rewritten as it is compiled",
             "(files on disk are not changed).", "", "arguments:",
             "  SCRIPT       a .py file, a directory or zip with __main__.py, or - for stdin",
             "  ARGS         the program's arguments (its sys.argv[1:]), passed untouched", "",
             "options (before SCRIPT or -m):"]
    for left, text in rows:
        wrapped = textwrap.wrap(text, 62) or [""]
        lines.append(f"  {left:<12} {wrapped[0]}")
        lines += [" " * 15 + more for more in wrapped[1:]]
    lines += ["", "environment:",
              f"  {WARNINGS_ENV}  comma-separated -W values, applied before the -W options",
              "", EXIT_STATUS]
    return "\n".join(lines)


def parse(argv: List[str]) -> Optional[RunArgs]:
    """Split ``argv`` as python does; None for ``--help``. Raises UsageError."""
    by_flag = {flag: opt for opt in OPTIONS for flag in opt.flags}
    options: Dict[str, object] = {o.dest: ([] if o.repeat else None) for o in OPTIONS}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            return None
        if arg == "--":
            i += 1
            break
        if arg == "-m" or (arg.startswith("-m") and not arg.startswith("--")):
            module = arg[2:] or (argv[i + 1] if i + 1 < len(argv) else "")
            if not module:
                raise UsageError("argument -m: expected a module name")
            rest = argv[i + 1 + (arg == "-m"):]
            return RunArgs(None, module, list(rest), options)
        if not arg.startswith("-") or arg == "-":
            break
        flag, value = arg, None
        if arg.startswith("--") and "=" in arg:
            flag, value = arg.split("=", 1)
        elif not arg.startswith("--") and arg[:2] in by_flag and len(arg) > 2:
            flag, value = arg[:2], arg[2:]  # -Werror, as python takes it
        opt = by_flag.get(flag)
        if opt is None:
            hint = "see --help"
            if not arg.startswith("--"):
                hint = f"python's own options go to python: python {arg} -m compat run ...; see --help"
            raise UsageError(f"unknown option {arg} ({hint})")
        if opt.metavar is None:
            if value is not None:
                raise UsageError(f"option {flag} takes no value")
            value_obj: object = True
        else:
            if value is None:
                i += 1
                if i >= len(argv):
                    raise UsageError(f"option {flag} needs a value ({opt.metavar})")
                value = argv[i]
            value_obj = value
        if opt.repeat:
            cast(List[object], options[opt.dest]).append(value_obj)
        else:
            options[opt.dest] = value_obj
        i += 1
    if i >= len(argv):
        raise UsageError("missing SCRIPT or -m MODULE")
    return RunArgs(argv[i], None, list(argv[i + 1:]), options)


# -- warnings -----------------------------------------------------------------

# In the order python tries them for an abbreviation ("-W e" is "error").
_ACTIONS = ("default", "always", "ignore", "module", "once", "error")


# filterwarnings()' arguments: action, message, category, module, lineno
WarningFilter = Tuple[Any, str, Type[Warning], str, int]


def warning_filter(arg: str) -> WarningFilter:
    """One python ``-W`` value as ``filterwarnings`` arguments; ValueError if invalid."""
    parts = [p.strip() for p in arg.split(":")]
    if len(parts) > 5:
        raise ValueError(f"too many fields (max 5): {arg!r}")
    parts += [""] * (5 - len(parts))
    action, message, category_name, module, lineno_text = parts
    if action == "all":  # python 3.14's spelling of "always"
        action = "always"
    matches = [a for a in _ACTIONS if a.startswith(action)]
    if not matches:
        raise ValueError(f"invalid action: {action!r}")
    category = _warning_category(category_name) if category_name else Warning
    lineno = 0
    if lineno_text:
        try:
            lineno = int(lineno_text)
        except ValueError:
            raise ValueError(f"invalid lineno {lineno_text!r}") from None
        if lineno < 0:
            raise ValueError(f"invalid lineno {lineno_text!r}")
    module_re = re.escape(module) + r"\Z" if module else ""
    return matches[0] if action else "default", re.escape(message), category, module_re, lineno


def _warning_category(name: str) -> Type[Warning]:
    if "." in name:
        module_name, _, attr = name.rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            raise ValueError(f"invalid module name: {module_name!r}") from None
        category = getattr(module, attr, None)
        if category is None:
            raise ValueError(f"unknown warning category: {name!r}")
    else:
        import builtins

        category = getattr(builtins, name, None)
        if category is None:
            raise ValueError(f"unknown warning category: {name!r}")
    if not (isinstance(category, type) and issubclass(category, Warning)):
        raise ValueError(f"invalid warning category: {name!r}")
    return category


def warning_options(cli: List[str]) -> List[str]:
    """The -W values to apply, in order: the environment's, then the command line's.

    Python itself dropped (with "Invalid -W option ignored") any of its own
    -W / PYTHONWARNINGS values naming a compat category, because compat was
    not importable yet: those are applied again here, first.
    """
    env = [v for v in os.environ.get(WARNINGS_ENV, "").split(",") if v.strip()]
    python_own = [v for v in sys.warnoptions if _names_compat_category(v)]
    return python_own + env + list(cli)


def _names_compat_category(value: str) -> bool:
    fields = value.split(":")
    return len(fields) > 2 and fields[2].strip().startswith("compat.")


def apply_warning_options(values: List[str]) -> None:
    """Add the filters for *values* (later ones win, as for python's -W)."""
    for value in values:
        warnings.filterwarnings(*warning_filter(value))


# -- running the program --------------------------------------------------------

_interrupted = False
# What python put first on sys.path for compat's own launcher (python -m
# compat: the working directory; the console script: its bin directory).
_launcher_entries: Tuple[str, ...] = ()


def _die_like_python() -> None:
    # Python ends with SIGINT after an uncaught KeyboardInterrupt, once its
    # exit handlers have run; this handler was registered before the program's.
    if _interrupted and os.name == "posix":
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):
                pass
        os.kill(os.getpid(), signal.SIGINT)


def _fail(prog: str, message: str, status: int) -> int:
    print(f"{prog}: {message}", file=sys.stderr)
    return status


def _fix_sys_path(entry: Optional[str]) -> None:
    """Put *entry* where python puts the script's directory, replacing compat's launcher's."""
    safe_path = getattr(sys.flags, "safe_path", False)
    if not safe_path and sys.path and sys.path[0] in _launcher_entries:
        del sys.path[0]
    if entry is not None and not safe_path:
        sys.path.insert(0, entry)


def _new_main(file: Optional[str], spec: Optional[importlib.machinery.ModuleSpec],
              loader: object) -> types.ModuleType:
    main = types.ModuleType("__main__")
    main.__dict__.update(__builtins__=builtins, __spec__=spec, __loader__=loader,
                         __package__=spec.parent if spec is not None else None)
    if file is not None:
        main.__file__ = file
    main.__dict__["__cached__"] = None
    sys.modules["__main__"] = main
    return main


def _execute(code: types.CodeType, module: types.ModuleType) -> int:
    """Run the program's code; print an uncaught exception as python does, from its own frames."""
    global _interrupted
    try:
        exec(code, module.__dict__)
    except SystemExit:
        raise
    except BaseException as exc:  # the program's uncaught exception, shown as python shows it
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code is not code:
            tb = tb.tb_next
        exc.__traceback__ = tb
        # As python does before it prints: post-mortem tools look here.
        sys.last_type, sys.last_value, sys.last_traceback = type(exc), exc, tb
        if sys.version_info >= (3, 12):
            sys.last_exc = exc
        sys.excepthook(type(exc), exc, tb)
        if isinstance(exc, KeyboardInterrupt):
            _interrupted = True
            # Where SIGINT cannot end the process: Windows' STATUS_CONTROL_C_EXIT.
            return 0xC000013A if os.name == "nt" else 130
        return 1
    return 0


def _run_script(prog: str, script: str) -> int:
    from compat.legacy.source import compile_legacy, install_hook

    if script == "-":
        _fix_sys_path("")
        source: bytes = sys.stdin.buffer.read()
        path = "<stdin>"
        main = _new_main(None, None, importlib.machinery.BuiltinImporter)
        install_hook([os.getcwd()])
        return _compile_and_execute(source, path, main, compile_legacy)
    if os.path.isdir(script) or _is_zip(script):
        entry = os.path.abspath(script)
        _fix_sys_path(entry)
        install_hook([entry])
        spec = importlib.machinery.PathFinder.find_spec("__main__", [entry])
        if spec is None or spec.loader is None:
            return _fail(prog, f"can't find '__main__' module in {entry!r}", 1)
        return _run_spec(prog, spec, set_argv0=False)
    path = os.path.abspath(script)
    try:
        with open(path, "rb") as f:
            source = f.read()
    except OSError as exc:
        return _fail(prog, f"can't open file {path!r}: [Errno {exc.errno}] {exc.strerror}", 2)
    directory = os.path.dirname(os.path.realpath(path))
    _fix_sys_path(directory)
    install_hook([directory])
    main = _new_main(path, None, importlib.machinery.SourceFileLoader("__main__", path))
    return _compile_and_execute(source, path, main, compile_legacy)


def _compile_and_execute(source: bytes, path: str, main: types.ModuleType, compile_legacy: object) -> int:
    try:
        code = compile_legacy(source, path, "__main__")  # type: ignore[operator]
    except (SyntaxError, ValueError, Warning) as exc:
        # Python prints a syntax error in the script without a traceback;
        # ValueError: source with a NUL byte; Warning: a rewrite under -W error.
        sys.stderr.write("".join(traceback.format_exception_only(type(exc), exc)))
        return 1
    return _execute(code, main)


def _is_zip(path: str) -> bool:
    import zipfile

    return os.path.isfile(path) and zipfile.is_zipfile(path)


def _run_module(prog: str, name: str) -> int:
    from compat.legacy.source import install_hook

    _fix_sys_path(os.getcwd())
    install_hook([os.getcwd()])
    if name.startswith("."):
        return _fail(prog, "Relative module names not supported", 1)
    try:
        spec = _find_spec(name)
        if spec is not None and spec.submodule_search_locations is not None:
            main_name = name + ".__main__"
            if main_name in sys.modules:
                del sys.modules[main_name]
            main_spec = _find_spec(main_name)
            if main_spec is None:
                return _fail(prog, f"No module named {main_name}; {name!r} is a package and "
                                   "cannot be directly executed", 1)
            spec = main_spec
    except ImportError as exc:
        if isinstance(exc, ModuleNotFoundError) and exc.name == name:
            return _fail(prog, f"No module named {name}", 1)
        return _fail(prog, f"Error while finding module specification for {name!r} "
                           f"({type(exc).__name__}: {exc})", 1)
    if spec is None:
        return _fail(prog, f"No module named {name}", 1)
    return _run_spec(prog, spec)


def _find_spec(name: str) -> Optional[importlib.machinery.ModuleSpec]:
    # Importing the parents can raise anything; python reports it the same way.
    try:
        return importlib.util.find_spec(name)
    except ImportError:
        raise
    except Exception as exc:
        raise ImportError(str(exc)) from exc


def _run_spec(prog: str, spec: importlib.machinery.ModuleSpec, set_argv0: bool = True) -> int:
    loader = spec.loader
    get_code = getattr(loader, "get_code", None)
    if get_code is None:
        return _fail(prog, f"No code object available for {spec.name}", 1)
    try:
        code = get_code(spec.name)
    except (SyntaxError, Warning) as exc:
        sys.stderr.write("".join(traceback.format_exception_only(type(exc), exc)))
        return 1
    except ImportError as exc:
        return _fail(prog, f"Error while finding module specification for {spec.name!r} "
                           f"({type(exc).__name__}: {exc})", 1)
    if code is None:
        return _fail(prog, f"No code object available for {spec.name}", 1)
    if set_argv0 and spec.origin and spec.has_location:
        sys.argv[0] = spec.origin
    main = _new_main(spec.origin if spec.has_location else None, spec, loader)
    return _execute(code, main)


def main(argv: List[str], prog: str = "python -m compat") -> int:
    """Run ``SCRIPT`` (or ``-m MODULE``) as ``__main__`` with compat installed; python's exit status."""
    from compat.cli import workers

    if workers.requested(argv):
        return workers.main(argv)  # a supervisor; each worker comes back here without --workers
    try:
        args = parse(argv)
    except UsageError as exc:
        sys.stderr.write(usage(prog))
        print(f"{prog} run: error: {exc}", file=sys.stderr)
        return 2
    if args is None:
        print(help_text(prog), end="")
        return 0
    try:
        filters = [warning_filter(v) for v in warning_options(args.options["warnings"])]  # type: ignore[arg-type]
    except ValueError as exc:
        print(f"{prog} run: error: invalid -W option: {exc}", file=sys.stderr)
        return 2
    global _launcher_entries
    _launcher_entries = (os.getcwd(), "", os.path.dirname(os.path.realpath(sys.argv[0] or os.curdir)))
    from compat.legacy import install

    install()
    for f in filters:
        warnings.filterwarnings(*f)
    atexit.register(_die_like_python)
    run_prog = f"{prog} run"
    if args.module is not None:
        sys.argv = ["-m", *args.args]
        return _run_module(run_prog, args.module)
    sys.argv = [args.script, *args.args]  # type: ignore[list-item]
    return _run_script(run_prog, args.script)  # type: ignore[arg-type]
