"""The docs' install and test commands are ones that work from this repository.

``compat`` is not on the package index under that name: every ``pip install``
of compat in the docs is from a checkout (``.``/``'.[extra]'``) or a
``compat @ git+...`` URL. tox finds pyenv's interpreters, skips missing ones
for a user, and CI requires them all.
"""
import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "examples" / "README.md", *sorted((ROOT / "migration_guide").glob("*.md"))]

PIP_INSTALL = re.compile(r"pip install ([^\n`#]*)")


def _config(name):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / name, encoding="utf-8")
    return parser


def test_no_doc_installs_compat_from_the_index():
    bad = []
    for path in DOCS:
        for match in PIP_INSTALL.finditer(path.read_text(encoding="utf-8")):
            words = match.group(1).split()
            for word in words:
                target = word.strip("'\"")
                if re.match(r"compat(\[[\w,]+\])?$", target) and " @ " not in match.group(0):
                    bad.append(f"{path.name}: {match.group(0).strip()}")
    assert bad == []


def test_extras_named_by_the_docs_exist():
    extras = set(_config("setup.cfg")["options.extras_require"])
    named = set()
    for path in DOCS:
        named.update(re.findall(r"\.\[(\w+)\]", path.read_text(encoding="utf-8")))
        named.update(re.findall(r"compat\[(\w+)\] @", path.read_text(encoding="utf-8")))
    assert named and named <= extras, named - extras


def test_tox_skips_missing_interpreters_and_sees_pyenvs():
    tox = _config("tox.ini")
    envs = [e.strip() for e in tox["tox"]["envlist"].split(",")]
    assert envs == ["py39", "py310", "py311", "py312", "py313", "py314", "py315"]
    # One installed Python is enough for a user...
    assert tox["tox"]["skip_missing_interpreters"].strip() == "true"
    # ...and pyenv's shims keep the versions the user made visible.
    passed = tox["testenv"]["pass_env"].split()
    assert "PYENV_VERSION" in passed and "PYENV_ROOT" in passed


def test_ci_requires_every_interpreter():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    tox_lines = [line.strip() for line in ci.splitlines() if re.match(r"\s*tox(\s|$)", line)]
    assert tox_lines, "no tox command in .ci/run"
    for line in tox_lines:
        assert "--skip-missing-interpreters false" in line or "--skip-missing-interpreters=false" in line, (
            f".ci/run runs {line!r}: CI must require every interpreter "
            "(tox.ini skips missing ones for users): `tox --skip-missing-interpreters false`")


def test_readme_test_section_says_how():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Test"):]
    section = section[:section.index("\n## ", 1)]
    assert "pip install tox && tox" in section
    assert "PYENV_VERSION" in section and "skips" in section
