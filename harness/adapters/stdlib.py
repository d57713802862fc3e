"""CPython's ``email`` package under its two policies, read the way their users read it.

``compat32`` hands back header values as written: its users decode them with
``email.header.decode_header``/``make_header`` and ``email.utils.getaddresses``, and bodies
with ``get_payload(decode=True)`` and the part's charset, so the adapter does the same.
``policy.default`` decodes by itself: ``str(msg[name])``, ``msg[name].addresses``,
``msg[name].params`` and ``get_content()``.
"""

from __future__ import annotations

import email
import io
import re
from email import policy as policies
from email.generator import BytesGenerator
from email.header import decode_header, make_header
from email.message import Message
from email.policy import Policy
from email.utils import collapse_rfc2231_value, getaddresses, unquote

from harness.adapters.base import (
    ADDRESS_FIELDS,
    OPAQUE_TYPES,
    Mailboxes,
    Node,
    View,
    sorted_params,
    text_lines,
)
from stack.mime.model import Kind, kind_of

_FOLD = re.compile(r"\r?\n(?=[ \t])")


def _linesep(data: bytes) -> str:
    end = data.find(b"\n")
    return "\r\n" if end > 0 and data[end - 1 : end] == b"\r" else "\n"


def _split_addr(addr: str) -> tuple[str, str]:
    local, _, domain = addr.rpartition("@")
    if local.startswith('"') and local.endswith('"') and len(local) >= 2:
        local = unquote(local)
    return local, domain


class _Stdlib:
    name = ""
    policy: Policy = policies.compat32

    def parse(self, data: bytes) -> Message:
        return email.message_from_bytes(data, policy=self.policy)

    def view(self, data: bytes) -> View:
        message = self.parse(data)
        unstructured = tuple(
            (name.lower(), self.unstructured(value))
            for name, value in message.items()
            if kind_of(name) is Kind.UNSTRUCTURED
        )
        addresses = tuple(
            (name, self.mailboxes(message, name))
            for name in ADDRESS_FIELDS
            if message.get(name) is not None
        )
        nodes: list[Node] = []
        self.node(message, "", nodes)
        return View(unstructured, addresses, tuple(nodes))

    def unstructured(self, value: object) -> str:
        raise NotImplementedError

    def mailboxes(self, message: Message, name: str) -> Mailboxes:
        raise NotImplementedError

    def params(self, message: Message) -> tuple[tuple[str, str, str], ...]:
        raise NotImplementedError

    def body(self, message: Message) -> str | bytes:
        raise NotImplementedError

    def node(self, message: Message, path: str, out: list[Node]) -> None:
        mime_type = message.get_content_type()
        children = message.get_payload() if message.is_multipart() else None
        body: str | bytes | None = None
        if children is None and mime_type not in OPAQUE_TYPES:
            body = self.body(message)
        out.append(Node(path, mime_type, self.params(message), body))
        if mime_type in OPAQUE_TYPES or not isinstance(children, list):
            return
        parts = [child for child in children if isinstance(child, Message)]
        if mime_type == "message/rfc822":
            for child in parts:
                self.node(child, f"{path}.m" if path else "m", out)
            return
        for index, child in enumerate(parts, 1):
            self.node(child, f"{path}.{index}" if path else str(index), out)

    def round_trip(self, data: bytes) -> bytes | None:
        message = self.parse(data)
        out = io.BytesIO()
        policy = self.policy.clone(linesep=_linesep(data))
        # A leading mbox From_ line is kept by the parser as the "unixfrom"; write it back.
        unixfrom = message.get_unixfrom() is not None
        BytesGenerator(out, mangle_from_=False, policy=policy).flatten(message, unixfrom=unixfrom)
        return out.getvalue()


class Compat32Adapter(_Stdlib):
    """``email.message_from_bytes(data, policy=compat32)``, the default of the email API."""

    name = "stdlib-compat32"
    policy = policies.compat32

    def unstructured(self, value: object) -> str:
        text = _FOLD.sub("", str(value))
        return str(make_header(decode_header(text))).strip()

    def mailboxes(self, message: Message, name: str) -> Mailboxes:
        raw = _FOLD.sub("", str(message.get(name)))
        found = []
        for display, addr in getaddresses([raw]):
            local, domain = _split_addr(addr)
            found.append((str(make_header(decode_header(display))), local, domain))
        return tuple(found)

    def params(self, message: Message) -> tuple[tuple[str, str, str], ...]:
        groups: list[tuple[str, tuple[tuple[str, str], ...]]] = []
        for header in ("content-type", "content-disposition"):
            if message.get(header) is None:
                groups.append((header, ()))
                continue
            pairs = message.get_params(header=header) or []
            values = tuple(
                (name, collapse_rfc2231_value(value)) for name, value in pairs[1:] if name
            )
            groups.append((header, values))
        return sorted_params(*groups)

    def body(self, message: Message) -> str | bytes:
        payload = message.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if message.get_content_maintype() == "text":
            charset = message.get_content_charset() or "us-ascii"
            return text_lines(data.decode(charset, "replace"))
        return data


class DefaultPolicyAdapter(_Stdlib):
    """``email.message_from_bytes(data, policy=policy.default)``, the modern API."""

    name = "stdlib-default"
    policy = policies.default

    def unstructured(self, value: object) -> str:
        return str(value)

    def mailboxes(self, message: Message, name: str) -> Mailboxes:
        header = message[name]
        return tuple(
            (address.display_name, address.username, address.domain)
            for address in getattr(header, "addresses", ())
        )

    def params(self, message: Message) -> tuple[tuple[str, str, str], ...]:
        groups = []
        for name in ("content-type", "content-disposition"):
            header = message[name]
            params = getattr(header, "params", {}) if header is not None else {}
            groups.append((name, tuple(params.items())))
        return sorted_params(*groups)

    def body(self, message: Message) -> str | bytes:
        content = message.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return text_lines(content)
        if isinstance(content, bytes):
            return content
        return b""
