"""compat.install()/uninstall(): idempotent, exact restore, asyncio.coroutine, warnings."""
import asyncio
import importlib.util
import sys
import threading
import warnings

import pytest
from support import COMPAT_WARNINGS_FAIL

import compat
from compat import legacy
from compat.legacy.patch import Patcher
from compat.legacy.warning import LegacyWarning

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), *COMPAT_WARNINGS_FAIL]

TIMEOUT = 10

# Everything install() may touch: the asyncio modules and classes.
MODULES = ("asyncio", "asyncio.events", "asyncio.tasks", "asyncio.locks", "asyncio.queues")
CLASSES = (
    "Task",
    "Future",
    "Lock",
    "Condition",
    "Semaphore",
    "BoundedSemaphore",
    "Event",
    "Queue",
    "PriorityQueue",
    "LifoQueue",
)


def snapshot():
    """Identity of every attribute of asyncio's modules/classes, and the legacy sys.modules."""
    asyncio.get_event_loop_policy()  # made lazily: make it before, not during, install()
    for facade in ("compat.asyncore", "compat.asynchat"):
        if importlib.util.find_spec(facade) is not None:
            importlib.import_module(facade)
    owners = [sys.modules[name] for name in MODULES] + [getattr(asyncio, name) for name in CLASSES]
    attrs = {owner: {key: id(value) for key, value in vars(owner).items()} for owner in owners}
    modules = {name: id(sys.modules.get(name)) for name in ("asyncore", "asynchat")}
    return attrs, modules


@pytest.fixture
def clean():
    """Run with compat uninstalled before and after."""
    compat.uninstall()
    yield
    compat.uninstall()


def test_public_names():
    assert compat.install is legacy.install
    assert compat.uninstall is legacy.uninstall
    assert compat.LegacyWarning is LegacyWarning
    assert issubclass(LegacyWarning, DeprecationWarning)


def test_uninstall_restores_asyncio_attribute_by_attribute(clean):
    before = snapshot()
    compat.install()
    assert snapshot() != before  # it did change something
    compat.uninstall()
    after = snapshot()
    for owner, attrs in before[0].items():
        assert after[0][owner] == attrs, owner
    assert after[1] == before[1]


def test_install_and_uninstall_are_idempotent(clean):
    before = snapshot()
    compat.install()
    installed = snapshot()
    compat.install()
    assert snapshot() == installed
    assert legacy.installed()
    compat.uninstall()
    compat.uninstall()
    assert snapshot() == before
    assert not legacy.installed()


def test_concurrent_install_is_safe(clean):
    before = snapshot()
    threads = [threading.Thread(target=compat.install) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    compat.uninstall()
    assert snapshot() == before


def test_failed_install_leaves_nothing_behind(clean, monkeypatch):
    from compat.legacy import modules as legacy_modules

    def broken(patch):
        raise RuntimeError("boom")

    before = snapshot()
    monkeypatch.setattr(legacy_modules, "install", broken)
    with pytest.raises(RuntimeError, match="boom"):
        compat.install()
    assert not legacy.installed()
    assert snapshot() == before


def test_asyncio_coroutine_is_restored(clean):
    had = hasattr(asyncio, "coroutine")
    compat.install()
    with pytest.warns(LegacyWarning, match="asyncio.coroutine"):

        @asyncio.coroutine
        def legacy_style(x):
            yield from asyncio.sleep(0)
            return x * 2

    assert compat.iscoroutinefunction(legacy_style)  # asyncio.iscoroutinefunction is deprecated in 3.14
    assert "coroutine" in asyncio.__all__
    assert asyncio.run(asyncio.wait_for(legacy_style(21), TIMEOUT)) == 42
    compat.uninstall()
    assert hasattr(asyncio, "coroutine") == had


def test_warning_once_per_call_site_at_the_users_line(clean):
    compat.install()
    loop = asyncio.new_event_loop()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")  # Python's default: once per location
            for _ in range(3):
                getattr(asyncio, "async")(asyncio.sleep(0), loop=loop)  # site A
            getattr(asyncio, "async")(asyncio.sleep(0), loop=loop)  # site B
            loop.run_until_complete(asyncio.sleep(0))
        legacy_warnings = [w for w in caught if issubclass(w.category, LegacyWarning)]
        assert len(legacy_warnings) == 2
        assert {w.filename for w in legacy_warnings} == {__file__}
        assert legacy_warnings[0].lineno + 1 == legacy_warnings[1].lineno
    finally:
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()


def test_legacy_modules_alias_facades(clean):
    found = {
        name: importlib.util.find_spec(f"compat.{name}") is not None for name in ("asyncore", "asynchat")
    }
    before = {name: sys.modules.get(name) for name in found}
    compat.install()
    for name, exists in found.items():
        if exists:
            assert sys.modules[name] is sys.modules[f"compat.{name}"]
        else:  # facade not in this tree: left alone
            assert sys.modules.get(name) is before[name]
    compat.uninstall()
    assert {name: sys.modules.get(name) for name in found} == before


def test_patcher_restores_absent_and_present():
    class Target:
        present = 1

    store = {"kept": 1}
    patch = Patcher()
    assert patch.set_attr(Target, "present", 2) == 1
    assert patch.set_attr(Target, "absent", 3) is None
    patch.set_item(store, "kept", 2)
    patch.set_item(store, "new", 3)
    patch.restore()
    assert Target.present == 1 and not hasattr(Target, "absent")
    assert store == {"kept": 1}


def test_legacy_runtime_uses_no_policy_api_or_private_asyncio_names():
    # 3.16 removes the policy API; asyncio's private names are reached only
    # through compat/core/_asyncio.py, whose contract test checks them.
    import re
    from pathlib import Path

    forbidden = re.compile(
        r"get_event_loop_policy|set_event_loop_policy|DefaultEventLoopPolicy|AbstractEventLoopPolicy"
        r"|asyncio\.iscoroutinefunction|asyncio(\.\w+)*\._(?!_)\w+|\bfrom asyncio(\.\w+)* import _"
    )
    package = Path(compat.__file__).parent
    offenders = []
    for path in sorted((package / "legacy").glob("*.py")) + [package / "coroutines.py"]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if forbidden.search(code) and not code.strip().startswith(('"', "'", "``", "*")):
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_submodule_spellings_of_coroutine_and_async(clean):
    had_coroutine = hasattr(asyncio.coroutines, "coroutine")
    compat.install()
    try:
        from asyncio.coroutines import coroutine

        assert hasattr(asyncio.tasks, "async")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)

            @coroutine
            def legacy_style():
                yield from asyncio.sleep(0)
                return "ok"

        assert asyncio.run(asyncio.wait_for(legacy_style(), TIMEOUT)) == "ok"
    finally:
        compat.uninstall()
    assert hasattr(asyncio.coroutines, "coroutine") == had_coroutine
    assert not hasattr(asyncio.tasks, "async")
