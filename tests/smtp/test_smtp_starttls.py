"""TLS on the hop's inbound side: STARTTLS discards what was pipelined in cleartext after it
(the STARTTLS command injection of CVE-2011-0411 and its kin), implicit TLS works, and the
Received field names the TLS version and cipher."""

from __future__ import annotations

import asyncio
import socket
import ssl
from pathlib import Path

import aiosmtplib
import pytest
from hop_testbed import HOST, InProcessHop, wait_until
from smtp_peers import Peer

from stack.smtp.server import Inbound, InboundConfig, InboundServer
from stack.smtp.spool import AsyncSpool, Spool
from stack.smtp.tls import LocalAuthority, client_context


@pytest.fixture(scope="module")
def authority() -> LocalAuthority:
    return LocalAuthority()


def read_reply(sock: socket.socket | ssl.SSLSocket) -> bytes:
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed after {data!r}")
        data += chunk
        last = data.rstrip(b"\r\n").rsplit(b"\r\n", 1)[-1]
        if data.endswith(b"\r\n") and last[3:4] == b" ":
            return data


def test_cleartext_pipelined_after_starttls_is_discarded(
    tmp_path: Path, authority: LocalAuthority, peer: Peer
) -> None:
    credentials = authority.issue(["hop.castle.test"])
    hop = InProcessHop(tmp_path, peer.port, tls_context=credentials.server_context())
    try:
        raw = socket.create_connection((HOST, hop.port), timeout=10)
        read_reply(raw)
        raw.sendall(b"EHLO client.test\r\n")
        assert b"250-STARTTLS" in read_reply(raw)
        # The injected commands ride in the same packet as STARTTLS, in cleartext.
        raw.sendall(b"STARTTLS\r\nMAIL FROM:<evil@bad.test>\r\nRCPT TO:<victim@castle.test>\r\n")
        assert read_reply(raw).startswith(b"220 2.0.0")
        context = client_context(ca_pem=authority.certificate_pem)
        tls = context.wrap_socket(raw, server_hostname="hop.castle.test")
        tls.sendall(b"EHLO client.test\r\n")
        ehlo = read_reply(tls)
        assert ehlo.startswith(b"250-hop.castle.test"), ehlo
        assert b"STARTTLS" not in ehlo
        assert b"AUTH" not in ehlo, "a hop takes no logins"
        # Had the injected MAIL been read, this would be "503 nested MAIL command".
        tls.sendall(b"MAIL FROM:<good@client.test>\r\n")
        assert read_reply(tls).startswith(b"250 2.1.0")
        tls.sendall(b"RCPT TO:<ophelia@castle.test>\r\n")
        assert read_reply(tls).startswith(b"250 2.1.5")
        tls.sendall(b"DATA\r\n")
        assert read_reply(tls).startswith(b"354")
        tls.sendall(b"Subject: over tls\r\n\r\nbody\r\n.\r\n")
        assert read_reply(tls).startswith(b"250 2.0.0 OK queued as")
        cipher, _, bits = tls.cipher() or ("", "", 0)
        tls.sendall(b"QUIT\r\n")
        tls.close()
        wait_until(lambda: len(peer.messages) == 1, 20, "the message to be forwarded")
    finally:
        hop.close()
    [message] = peer.messages
    assert message.sender == "good@client.test"
    assert message.recipients == ["ophelia@castle.test"]
    assert b"with ESMTPS id" in message.data
    # The TLS the client used, as the hop's side of the connection saw it.
    assert f"(using TLSv1.3 with cipher {cipher} ({bits}/{bits} bits))".encode() in message.data
    assert bits >= 128


def test_implicit_tls_hop_accepts_and_stamps_esmtps(
    tmp_path: Path, authority: LocalAuthority, peer: Peer
) -> None:
    credentials = authority.issue(["hop.castle.test", HOST])
    hop = InProcessHop(
        tmp_path, peer.port, tls_context=credentials.server_context(), implicit_tls=True
    )
    try:
        asyncio.run(
            aiosmtplib.send(
                b"Subject: implicit\r\n\r\nbody\r\n",
                sender="good@client.test",
                recipients=["ophelia@castle.test"],
                hostname=HOST,
                port=hop.port,
                use_tls=True,
                tls_context=client_context(ca_pem=authority.certificate_pem),
                timeout=10,
            )
        )
        wait_until(lambda: len(peer.messages) == 1, 20, "the message to be forwarded")
    finally:
        hop.close()
    assert b"with ESMTPS id" in peer.messages[0].data


def test_plain_connection_to_implicit_tls_hop_gets_no_smtp(
    tmp_path: Path, authority: LocalAuthority, peer: Peer
) -> None:
    credentials = authority.issue(["hop.castle.test"])
    hop = InProcessHop(
        tmp_path, peer.port, tls_context=credentials.server_context(), implicit_tls=True
    )
    try:
        raw = socket.create_connection((HOST, hop.port), timeout=5)
        raw.sendall(b"EHLO client.test\r\n")
        raw.settimeout(5)
        try:
            answer = raw.recv(100)
        except (ConnectionError, TimeoutError):
            answer = b""
        assert not answer.startswith(b"2")
        raw.close()
    finally:
        hop.close()


def test_an_implicit_tls_hop_does_not_offer_starttls_inside_tls(
    tmp_path: Path, authority: LocalAuthority, peer: Peer
) -> None:
    # RFC 3207 4.2: once TLS is in place, STARTTLS is not offered again (RFC 8314's port
    # 465 has it from the first byte).
    credentials = authority.issue(["hop.castle.test"])
    hop = InProcessHop(
        tmp_path, peer.port, tls_context=credentials.server_context(), implicit_tls=True
    )
    try:
        context = client_context(ca_pem=authority.certificate_pem)
        raw = socket.create_connection((HOST, hop.port), timeout=10)
        with context.wrap_socket(raw, server_hostname="hop.castle.test") as tls:
            assert read_reply(tls).startswith(b"220 ")
            tls.sendall(b"EHLO client.test\r\n")
            ehlo = read_reply(tls)
            tls.sendall(b"QUIT\r\n")
    finally:
        hop.close()
    assert ehlo.startswith(b"250-hop.castle.test")
    assert b"STARTTLS" not in ehlo


def test_a_server_given_only_a_tls_context_offers_starttls(
    tmp_path: Path, authority: LocalAuthority
) -> None:
    # InboundServer: implicit TLS only when asked for; a context alone means STARTTLS.
    context = authority.issue(["hop.castle.test"]).server_context()

    async def greet_and_ehlo() -> bytes:
        spooled = AsyncSpool(Spool(tmp_path))
        inbound = Inbound(InboundConfig(hostname="hop.castle.test"), spooled)
        server = InboundServer(inbound, HOST, 0, tls_context=context)
        try:
            _, port = await server.start()
            reader, writer = await asyncio.open_connection(HOST, port)
            greeting = await reader.readline()
            writer.write(b"EHLO client.test\r\n")
            lines = [await reader.readline()]
            while lines[-1][3:4] == b"-":
                lines.append(await reader.readline())
            writer.close()
            return greeting + b"".join(lines)
        finally:
            await server.stop(grace=0)
            await spooled.aclose()

    answer = asyncio.run(asyncio.wait_for(greet_and_ehlo(), 20))
    assert answer.startswith(b"220 hop.castle.test ")
    assert b"250-STARTTLS\r\n" in answer
