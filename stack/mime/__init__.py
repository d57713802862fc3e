"""stack.mime: a lossless, strict and fast RFC 5322/MIME codec.

Three entry points:

- :func:`parse` (lossless, lazy): a concrete syntax tree that keeps every byte and never
  fails; ``bytes(parse(b)) == b``.  Hops edit messages through it.
- :func:`decode` (eager): every header field typed, every body decoded; strict mode raises
  :class:`ParseError`, lenient mode records defects.
- :func:`encode` (canonical): the model back to wire form; ``decode(encode(m)) == m``.

RFCs: 5322 (with its obsolete syntax), 2045, 2046, 2047, 2049, 2183, 2231 and 6532.

The names above are imported from their modules the first time they are used, not with the
package: a program that needs one part of the codec (the spam filter reads
:mod:`stack.mime.lossless` and a few field decoders, never the encoder) does not pay at start-up
for the rest.  ``from stack.mime import decode`` works as it always did.
"""

from __future__ import annotations

import sys
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stack.mime.decode import decode, decode_field
    from stack.mime.encode import encode, encode_field
    from stack.mime.errors import Defect, EncodeError, ParseError
    from stack.mime.fields import (
        Address,
        ContentDisposition,
        ContentType,
        DateTime,
        Group,
        Mailbox,
        MessageId,
    )
    from stack.mime.lossless import Field, Message, parse
    from stack.mime.model import Data, Header, Mail, Malformed, Nested, Parts, Text

#: Where each name of the package's interface lives.
_HOMES: dict[str, str] = {
    **dict.fromkeys(("decode", "decode_field"), "stack.mime.decode"),
    **dict.fromkeys(("encode", "encode_field"), "stack.mime.encode"),
    **dict.fromkeys(("Defect", "EncodeError", "ParseError"), "stack.mime.errors"),
    **dict.fromkeys(
        (
            "Address",
            "ContentDisposition",
            "ContentType",
            "DateTime",
            "Group",
            "Mailbox",
            "MessageId",
        ),
        "stack.mime.fields",
    ),
    **dict.fromkeys(("Field", "Message", "parse"), "stack.mime.lossless"),
    **dict.fromkeys(
        ("Data", "Header", "Mail", "Malformed", "Nested", "Parts", "Text"), "stack.mime.model"
    ),
}

__all__ = [
    "Address",
    "ContentDisposition",
    "ContentType",
    "Data",
    "DateTime",
    "Defect",
    "EncodeError",
    "Field",
    "Group",
    "Header",
    "Mail",
    "Mailbox",
    "Malformed",
    "Message",
    "MessageId",
    "Nested",
    "ParseError",
    "Parts",
    "Text",
    "decode",
    "decode_field",
    "encode",
    "encode_field",
    "parse",
]


# Hidden from type checkers, to which a module ``__getattr__`` would make any misspelt name
# importable from ``stack.mime``; they read the imports above instead.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(import_module(home), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(ModuleType):
    """``stack.mime`` itself, as a module that keeps the functions of its interface.

    The import system binds a submodule, once loaded, to the package attribute of its name,
    and two submodules are named like the functions they define.  Without this, importing the
    module ``stack.mime.decode`` (as ``stack.mime.check`` does) before anyone asked for the
    function would leave the module where ``from stack.mime import decode`` looks.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if (
            name in _HOMES
            and isinstance(value, ModuleType)
            and value.__name__ == f"{self.__name__}.{name}"
        ):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
