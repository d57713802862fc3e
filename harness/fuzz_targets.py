"""What the fuzz targets in ``fuzz/targets/`` share: the contracts they check and their entry.

A target is a thin script; the property it asserts lives here, where mypy --strict and the
unit tests see it.  Each check raises (``AssertionError`` or whatever escaped the code under
test) only on a finding, so libFuzzer's "uncaught exception" is exactly "a bug".

The contracts are the ones ``stack.mime`` documents:

- the lossless layer never raises and gives every byte back;
- the decoders raise nothing but :class:`ParseError`, and only in strict mode (a field
  decoder given a defect list may still refuse a value it cannot represent, such as a
  Content-Type without ``type/subtype``);
- what strict mode accepts, lenient mode reads identically, with no defect but the obsolete
  syntax (RFC 5322 section 4) that both modes read and record: the two modes are one grammar,
  not two;
- a value a field decoder reads, its encoder writes on one line, and the decoder reads that
  back as the same value, strictly if the original was strictly valid; only a value read
  past defects may be refused with :class:`EncodeError` (the promises of
  tests/mime/test_field_robustness.py, here with coverage guidance).
"""

from __future__ import annotations

import gc
import shlex
import sys
import types
from collections.abc import Callable
from typing import TypeVar

from stack.mime import EncodeError, ParseError, decode
from stack.mime.errors import Defect
from stack.mime.lossless import parse

T = TypeVar("T")

FieldDecoder = Callable[[str, list[Defect] | None], T]


def field_text(data: bytes) -> str:
    """Fuzzer bytes as a field decoder sees them: ``Field.unfolded`` reads UTF-8 and keeps
    every other byte as a lone surrogate, so the fuzzer reaches exactly that input space."""
    return data.decode("utf-8", "surrogateescape")


def check_lossless(data: bytes) -> None:
    """``parse`` never raises, keeps every byte, and every field of every part unfolds."""
    message = parse(data)
    for part in message.walk():  # forces the lazy multipart split at every level
        for field in part.fields:
            field.unfolded()
        part.all_defects()
    assert bytes(message) == data, "bytes(parse(b)) != b"


def check_decode(data: bytes) -> None:
    """Lenient ``decode`` never raises; strict mode raises only ``ParseError``, and a message it
    accepts is the one lenient mode reads, with the same defects, all of them obsolete syntax."""
    lenient = decode(data)
    try:
        strict = decode(data, strict=True)
    except ParseError:
        return
    found = lenient.all_defects()
    assert all(defect.obsolete for defect in found), f"strict mode accepted: {found}"
    assert strict == lenient, "strict and lenient mode read different messages"
    assert strict.all_defects() == found, "strict and lenient mode found different defects"


def check_field_decoder(
    decode: FieldDecoder[T],
    encode: Callable[[T], str] | None,
    text: str,
) -> None:
    """One field value through a field decoder in both modes, then through its encoder."""
    defects: list[Defect] = []
    try:
        lenient: T | None = decode(text, defects)
    except ParseError:
        lenient = None
    try:
        strict: T | None = decode(text, None)
    except ParseError:
        strict = None
    if strict is not None:
        assert lenient == strict, f"strict read {strict!r}, lenient read {lenient!r}"
        assert not defects, f"strict mode accepted what lenient mode flagged: {defects}"
    if encode is None or lenient is None:
        return
    try:
        wire = encode(lenient)
    except EncodeError as error:
        # Strict mode reports whatever the encoder cannot write, so only a value read past
        # defects may be refused.
        assert strict is None, f"strict mode accepted {strict!r}, which encodes as: {error}"
        return
    assert "\r" not in wire and "\n" not in wire, f"{lenient!r} was written as {wire!r}"
    again = decode(" " + wire, None if strict is not None else [])
    assert again == lenient, f"{lenient!r} was written as {wire!r} and read back as {again!r}"


def atheris_main(
    fuzz_one_input: Callable[[bytes], None], include: tuple[str, ...] = ("stack",)
) -> None:
    """Run ``fuzz_one_input`` under libFuzzer with the command line's flags.

    Only the packages named in ``include`` (and their submodules) are instrumented for
    coverage: ``atheris.instrument_all`` would also instrument the standard library and
    every dependency, which takes half a minute per run and guides the fuzzer by code we do
    not test.  libFuzzer's fork mode (``-fork=N``) starts workers by running ``argv[0]``
    through the shell; a script path alone is not executable, so ``argv[0]`` becomes
    ``python script`` (a frozen ClusterFuzzLite build is its own executable and keeps it).
    """
    import atheris  # noqa: PLC0415  (only the fuzz extra installs it; tests run without it)

    for function in _functions_of(include):
        atheris.instrument_func(function)
    argv = list(sys.argv)
    if not getattr(sys, "frozen", False):
        argv[0] = shlex.join([sys.executable, argv[0]])
    atheris.Setup(argv, fuzz_one_input)
    atheris.Fuzz()


def _functions_of(packages: tuple[str, ...]) -> list[types.FunctionType]:
    """Every Python function (methods and nested functions included) defined so far in
    ``packages``."""
    prefixes = tuple(f"{name}." for name in packages)
    return [
        obj
        for obj in gc.get_objects()
        if isinstance(obj, types.FunctionType)
        and isinstance(obj.__module__, str)
        and (obj.__module__ in packages or obj.__module__.startswith(prefixes))
    ]
