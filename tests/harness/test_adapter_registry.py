"""Which parsers can run here, and what a user is told to install when one cannot."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from harness.adapters import ADAPTERS, available, get
from harness.adapters.mailparser import MailParserAdapter
from harness.cli import cli
from stack.cli import run
from stack.errors import ElsinoreError

INSTALL_HINT = "pip install 'elsinore[mailparser]'"


@pytest.fixture
def without_mailparser(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import mailparser`` fails here, as it does where the extra is not installed."""
    monkeypatch.setitem(sys.modules, "mailparser", None)


def test_the_builtin_parsers_are_always_available(without_mailparser: None) -> None:
    assert available() == ["elsinore", "stdlib-compat32", "stdlib-default"]


@pytest.mark.usefixtures("without_mailparser")
def test_a_missing_optional_parser_names_the_extra_that_installs_it() -> None:
    with pytest.raises(ElsinoreError, match=r"mail-parser.*mailparser") as caught:
        get("mail-parser")
    assert INSTALL_HINT in str(caught.value)


@pytest.mark.usefixtures("without_mailparser")
def test_the_mailparser_adapter_alone_says_what_to_install() -> None:
    with pytest.raises(ElsinoreError) as caught:
        MailParserAdapter()
    assert INSTALL_HINT in str(caught.value)


@pytest.mark.usefixtures("without_mailparser")
def test_conformance_with_a_missing_parser_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = tmp_path / "one.eml"
    message.write_bytes(b"Subject: x\r\n\r\nbody\r\n")
    assert run(cli(), ["conformance", "run", "-p", "mail-parser", str(message)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("elsinore: error: ")
    assert INSTALL_HINT in err
    assert err.count("\n") == 1


def test_every_optional_parser_names_an_extra() -> None:
    for name, entry in ADAPTERS.items():
        assert (entry.module is None) == (entry.extra is None), name


def test_the_extra_named_in_the_hint_is_declared_and_installs_the_module() -> None:
    pyproject = Path(__file__).parents[2] / "pyproject.toml"
    extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    entry = ADAPTERS["mail-parser"]
    assert entry.extra in extras
    assert any(requirement.startswith("mail-parser") for requirement in extras[entry.extra])
