"""``stack.mime`` imports its interface from the submodules on first use, and every name it
exports reads as it did when the package imported them all up front."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from types import FunctionType, ModuleType

import pytest

import stack.mime


def _run(script: str) -> object:
    """What a fresh interpreter prints (as JSON) after running ``script``."""
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


#: What the package exports, by the module each name comes from.
_EXPORTS = {
    "stack.mime.decode": ("decode", "decode_field"),
    "stack.mime.encode": ("encode", "encode_field"),
    "stack.mime.errors": ("Defect", "EncodeError", "ParseError"),
    "stack.mime.fields": (
        "Address", "ContentDisposition", "ContentType", "DateTime", "Group", "Mailbox",
        "MessageId",
    ),
    "stack.mime.lossless": ("Field", "Message", "parse"),
    "stack.mime.model": ("Data", "Header", "Mail", "Malformed", "Nested", "Parts", "Text"),
}  # fmt: skip


def test_the_package_exports_what_it_always_did() -> None:
    assert sorted(stack.mime.__all__) == sorted(n for names in _EXPORTS.values() for n in names)


@pytest.mark.parametrize(
    ("home", "name"), [(home, name) for home, names in _EXPORTS.items() for name in names]
)
def test_every_exported_name_is_its_modules_own(home: str, name: str) -> None:
    assert getattr(stack.mime, name) is getattr(importlib.import_module(home), name)


def test_a_star_import_gives_the_whole_interface() -> None:
    namespace: dict[str, object] = {}
    exec("from stack.mime import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(stack.mime.__all__)


def test_dir_lists_the_interface_before_it_is_imported() -> None:
    listed = _run("import json, stack.mime\nprint(json.dumps(dir(stack.mime)))\n")
    assert isinstance(listed, list)
    assert set(stack.mime.__all__) <= set(listed)


def test_importing_the_package_imports_none_of_the_codec() -> None:
    imported = _run(
        "import json, sys\n"
        "before = set(sys.modules)\n"
        "import stack.mime\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    assert isinstance(imported, list)
    assert [m for m in imported if m.startswith("stack.mime.")] == []


def test_decode_and_encode_stay_functions_after_their_modules_are_imported() -> None:
    # Importing ``stack.mime.decode`` (the module, which imports ``stack.mime.encode``) binds
    # each to the package attribute of its name; the package keeps the functions there.
    kinds = _run(
        "import json, sys\n"
        "import stack.mime.decode\n"
        "from stack.mime import decode, encode\n"
        "print(json.dumps([type(decode).__name__, type(encode).__name__,\n"
        "                  decode is sys.modules['stack.mime.decode'].decode,\n"
        "                  encode is sys.modules['stack.mime.encode'].encode]))\n"
    )
    assert kinds == ["function", "function", True, True]


def test_submodules_import_from_the_package_as_before() -> None:
    from stack.mime import lossless, transfer

    assert isinstance(lossless, ModuleType)
    assert isinstance(transfer, ModuleType)
    assert isinstance(stack.mime.decode, FunctionType)


def test_a_name_the_package_does_not_export_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'decoder'"):
        stack.mime.decoder  # type: ignore[attr-defined]  # noqa: B018 - the lookup is the test
