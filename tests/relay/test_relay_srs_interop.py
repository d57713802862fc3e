"""Our SRS against Debian's postsrsd (1.x, libsrs2's code): the same addresses both ways.

postsrsd is Postfix's SRS daemon: two TCP lookup tables (Postfix's tcp_table protocol,
``get KEY`` answered by ``200 VALUE`` or ``500 REASON``, both URL-encoded), one forward, one
reverse.  It runs here on 127.0.0.1, in the foreground, with a secrets file of its own.  It has
no option to fix the clock, so our side uses the real clock too, and a comparison made across
midnight UTC accepts the stamp of either day.

postsrsd works on the characters it is given, so for a sender whose local-part must be quoted
on the wire (``x@[192.0.2.1]`` gives ``SRS0=...=[192.0.2.1]=x``, where ``[`` is not atext) it
answers with the unquoted form, and Postfix quotes it when it writes the path.  Our API takes
and gives paths as SMTP writes them, so the comparisons go through :func:`on_the_wire` and
:func:`unquoted`.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stack.relay.srs import Srs, SrsError, SrsFailure

pytestmark = pytest.mark.interop

DOMAIN = "castle.test"
NEW, OLD = b"new tangerine", b"old tangerine"
SENDERS = [
    "alice@example.org",
    "Alice.Smith+tag@Example.ORG",
    "o'brien@mail.example.co.uk",
    "a=b==c@example.org",
    "x@[192.0.2.1]",
    "l" * 64 + "@" + "d" * 60 + ".example",
]
#: Everything printable but space and "%" travels as itself; the rest as %XX, as Postfix sends.
_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%")
#: RFC 5321 Dot-string (4.1.2): what a path may carry without quotes.
_ATEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]"
_DOT_STRING = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")


def on_the_wire(address: str) -> str:
    """``address`` with its local-part quoted if it is not a dot-string, as Postfix writes it."""
    local, _, domain = address.rpartition("@")
    if local.startswith('"') or _DOT_STRING.fullmatch(local):
        return address
    escaped = local.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"@{domain}'


def unquoted(address: str) -> str:
    """``address`` with the quotes of its local-part taken off, as Postfix looks it up."""
    local, _, domain = address.rpartition("@")
    if not local.startswith('"'):
        return address
    return re.sub(r"\\(.)", r"\1", local[1:-1]) + "@" + domain


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Postsrsd:
    forward_port: int
    reverse_port: int

    def forward(self, address: str) -> str:
        return self._get(self.forward_port, address)

    def reverse(self, address: str) -> str:
        return self._get(self.reverse_port, address)

    def _get(self, port: int, key: str) -> str:
        """The value, or ``"500 REASON"`` when postsrsd refuses."""
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            connection.sendall(f"get {urllib.parse.quote(key, safe=_SAFE)}\n".encode())
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = connection.recv(4096)
                if not chunk:
                    break
                reply += chunk
        code, _, value = reply.decode().rstrip("\n").partition(" ")
        return urllib.parse.unquote(value) if code == "200" else f"{code} {value}"


@pytest.fixture(scope="module")
def postsrsd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postsrsd]:
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])
    binary = shutil.which("postsrsd", path=search)
    if binary is None:
        pytest.skip(
            "postsrsd not installed (Debian package postsrsd; see DEBIAN_PACKAGES in .ci/run)"
        )
    secrets = Path(tmp_path_factory.mktemp("postsrsd")) / "secrets"
    secrets.write_bytes(NEW + b"\n" + OLD + b"\n")  # the first signs, all verify
    peer = Postsrsd(_free_port(), _free_port())
    argv = [binary, f"-s{secrets}", f"-d{DOMAIN}", "-l127.0.0.1", "-4"]
    argv += [f"-f{peer.forward_port}", f"-r{peer.reverse_port}"]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            if process.poll() is not None:
                _, error = process.communicate()
                pytest.skip(f"postsrsd did not start: {error.decode(errors='replace').strip()}")
            try:
                socket.create_connection(("127.0.0.1", peer.reverse_port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield peer
    finally:
        process.terminate()
        process.wait(timeout=10)


def ours(*secrets: bytes) -> Srs:
    return Srs(secrets or (NEW, OLD), DOMAIN)


@pytest.mark.parametrize("sender", SENDERS)
def test_we_write_what_postsrsd_writes(postsrsd: Postsrsd, sender: str) -> None:
    before = ours().forward(sender)
    theirs = on_the_wire(postsrsd.forward(sender))
    after = ours().forward(sender)
    assert theirs in (before, after)


@pytest.mark.parametrize("sender", SENDERS)
def test_each_side_reverses_the_others_addresses(postsrsd: Postsrsd, sender: str) -> None:
    assert postsrsd.reverse(unquoted(ours().forward(sender))) == sender
    assert ours().reverse(on_the_wire(postsrsd.forward(sender))) == sender


@pytest.mark.parametrize("sender", SENDERS)
def test_both_sides_ignore_a_change_of_case(postsrsd: Postsrsd, sender: str) -> None:
    assert postsrsd.reverse(unquoted(ours().forward(sender)).upper()) == sender.upper()
    assert ours().reverse(on_the_wire(postsrsd.forward(sender)).lower()) == sender.lower()


def test_we_re_sign_an_srs0_address_of_another_forwarder_as_postsrsd_does(
    postsrsd: Postsrsd,
) -> None:
    first = Srs([b"first"], "first.test").forward("alice@example.org")
    srs1 = postsrsd.forward(first)
    assert srs1.startswith("SRS1=")
    assert srs1 == ours().forward(first)  # no stamp in SRS1: no day to straddle
    again = Srs([b"third"], "third.test").forward(srs1)
    assert postsrsd.forward(again) == ours().forward(again)
    assert postsrsd.reverse(srs1) == ours().reverse(srs1) == first


def test_both_sides_verify_with_the_old_secret_after_rotation(postsrsd: Postsrsd) -> None:
    signed_with_old = ours(OLD).forward("alice@example.org")
    assert postsrsd.reverse(signed_with_old) == "alice@example.org"
    assert ours().reverse(signed_with_old) == "alice@example.org"


def test_both_sides_refuse_a_foreign_secret_and_an_expired_stamp(postsrsd: Postsrsd) -> None:
    foreign = ours(b"someone else").forward("alice@example.org")
    assert postsrsd.reverse(foreign).startswith("500 ")
    with pytest.raises(SrsError) as caught:
        ours().reverse(foreign)
    assert caught.value.failure is SrsFailure.BAD_HASH

    month_ago = Srs([NEW], DOMAIN, clock=lambda: time.time() - 30 * 86_400)
    expired = month_ago.forward("alice@example.org")
    assert postsrsd.reverse(expired).startswith("500 ")
    with pytest.raises(SrsError) as caught:
        ours().reverse(expired)
    assert caught.value.failure is SrsFailure.EXPIRED


def test_neither_side_rewrites_a_sender_of_our_domain(postsrsd: Postsrsd) -> None:
    assert postsrsd.forward("bob@castle.test") == ours().forward("bob@castle.test")
