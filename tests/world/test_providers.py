"""The two providers of the simulated internet, on real sockets in a tiny world of their own.

The world: a root name server delegating ``bigmail.test`` and ``outpost.test`` to each
provider's own name server (serving its :meth:`~harness.world.provider.Provider.zone_text`),
and ``elsewhere.test`` plus the reverse zone of the /24 to a third, which also holds every
PTR record (:meth:`~harness.world.provider.Provider.ptr_records`, and one for a stranger
that has a name).  Strangers are clients on addresses of their own: ``mallory`` with a
forward-confirmed name, ``nobody`` without a PTR record.  Both providers run on one event
loop in a thread, so each test waits for it with a bound.
"""

from __future__ import annotations

import asyncio
import email.utils
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiosmtplib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from smtp_peers import DnsThread, free_port, loopback_slash24

from harness.strategies import Entity, hostile_text, wire_messages
from harness.world.provider import (
    BIGMAIL,
    OUTPOST,
    Hosts,
    Provider,
    ProviderError,
    SendAsError,
    find_code,
)
from harness.world.screening import compauth, folder_for, our_results, stamp_microsoft
from stack.auth.dkim import DkimResult
from stack.auth.dmarc import DmarcOutcome
from stack.auth.inbound import Verdict, stamp_tree
from stack.auth.spf import SpfResult
from stack.dns.addresses import Endpoint
from stack.dns.resolver import Resolver
from stack.mime import parse
from stack.smtp.tls import LocalAuthority, client_context

T = TypeVar("T")
PASSWORD = "correct horse battery staple"
#: How long any one step may take: a delivery crosses DNS, TLS and two spools.
STEP = 30.0


@dataclass
class World:
    base: str
    smtp_port: int
    authority: LocalAuthority
    bigmail: Provider
    outpost: Provider
    loop: asyncio.AbstractEventLoop

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = STEP) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    @property
    def mallory(self) -> str:
        return self.base + "41"

    @property
    def nobody(self) -> str:
        return self.base + "42"


def _zones(base: str, bigmail: Provider, outpost: Provider) -> dict[str, dict[str, str]]:
    reverse = ".".join(reversed(base.rstrip(".").split("."))) + ".in-addr.arpa."
    root = "\n".join(
        [
            "$ORIGIN .",
            "@ 300 IN SOA ns.root. hostmaster.root. 1 3600 600 86400 300",
            "@ 300 IN NS ns.root.",
            f"ns.root. 300 IN A {base}1",
            f"bigmail.test. 300 IN NS {bigmail.ns_name}.",
            f"{bigmail.ns_name}. 300 IN A {bigmail.hosts.ns}",
            f"outpost.test. 300 IN NS {outpost.ns_name}.",
            f"{outpost.ns_name}. 300 IN A {outpost.hosts.ns}",
            "elsewhere.test. 300 IN NS ns.elsewhere.test.",
            f"ns.elsewhere.test. 300 IN A {base}2",
            f"{reverse} 300 IN NS ns.elsewhere.test.",
        ]
    )
    pointers = {
        **bigmail.ptr_records(),
        **outpost.ptr_records(),
        base + "41": "mallory.elsewhere.test",
    }
    reverse_zone = "\n".join(
        [
            f"$ORIGIN {reverse}",
            "@ 300 IN SOA ns.elsewhere.test. hostmaster.elsewhere.test. 1 3600 600 86400 300",
            "@ 300 IN NS ns.elsewhere.test.",
            *(
                f"{address.rsplit('.', 1)[1]} 300 IN PTR {name}."
                for address, name in pointers.items()
            ),
        ]
    )
    elsewhere = "\n".join(
        [
            "$ORIGIN elsewhere.test.",
            "@ 300 IN SOA ns hostmaster 1 3600 600 86400 300",
            "@ 300 IN NS ns",
            f"ns 300 IN A {base}2",
            f"mallory 300 IN A {base}41",
        ]
    )
    return {
        base + "1": {".": root + "\n"},
        base + "2": {"elsewhere.test": elsewhere + "\n", reverse: reverse_zone + "\n"},
        bigmail.hosts.ns: {"bigmail.test": bigmail.zone_text()},
        outpost.hosts.ns: {"outpost.test": outpost.zone_text()},
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("providers")
    base = loopback_slash24(str(tmp))
    dns_port = free_port(base + "1")
    smtp_port = free_port(base + "22")
    resolver = Resolver(roots=[base + "1"], port=dns_port)
    authority = LocalAuthority("world CA")
    ports = {"smtp_port": smtp_port, "submission_port": free_port(base + "23")}
    ports["submissions_port"] = free_port(base + "23")
    bigmail = Provider(
        "bigmail.test",
        BIGMAIL,
        Hosts(ns=base + "21", mx=base + "22", smtp=base + "23", out=base + "24"),
        resolver=resolver,
        authority=authority,
        directory=tmp / "bigmail",
        **ports,
    )
    outpost = Provider(
        "outpost.test",
        OUTPOST,
        Hosts(ns=base + "31", mx=base + "32", smtp=base + "33", out=base + "34"),
        resolver=resolver,
        authority=authority,
        directory=tmp / "outpost",
        **ports,
    )
    servers = [
        DnsThread(zones, address, dns_port)
        for address, zones in _zones(base, bigmail, outpost).items()
    ]
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    built = World(base, smtp_port, authority, bigmail, outpost, loop)
    try:
        built.run(bigmail.start())
        built.run(outpost.start())
        for provider, user in ((bigmail, "alice"), (outpost, "carol"), (bigmail, "bob")):
            provider.add_user(user, PASSWORD)
        yield built
    finally:
        built.run(bigmail.stop(), 60)
        built.run(outpost.stop(), 60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        for server in servers:
            server.close()


def _message(sender: str, recipient: str, subject: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: {recipient}\r\nSubject: {subject}\r\n"
        f"Date: {email.utils.formatdate()}\r\nMessage-ID: <{time.time_ns()}@test>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Hello across the simulated internet.\r\n"
    ).encode()


async def _from_stranger(
    world: World,
    address: str,
    helo: str,
    sender: str,
    recipient: str,
    data: bytes,
    mx: str | None = None,
) -> None:
    """What a host outside both providers sends to an MX (bigmail's unless told), from its
    own address."""
    client = aiosmtplib.SMTP(
        hostname=mx or world.bigmail.hosts.mx,
        port=world.smtp_port,
        local_hostname=helo,
        source_address=(address, 0),
        start_tls=True,
        tls_context=client_context(ca_pem=world.authority.certificate_pem),
        timeout=STEP,
    )
    async with client:
        await client.sendmail(sender, [recipient], data)


def _head(message: bytes) -> str:
    return message.split(b"\r\n\r\n", 1)[0].decode()


def _results(message: bytes, authserv_id: str) -> dict[str, tuple[str, dict[str, str]]]:
    """Each method's first result in our Authentication-Results, with its properties."""
    found: dict[str, tuple[str, dict[str, str]]] = {}
    for result in our_results(message, authserv_id):
        properties = {f"{p.type}.{p.name}": str(p.value) for p in result.properties}
        if result.reason:
            properties["reason"] = str(result.reason)
        found.setdefault(str(result.method), (str(result.result), properties))
    return found


def test_bigmail_to_outpost_passes_spf_dkim_dmarc_with_compauth(world: World) -> None:
    data = _message("alice@bigmail.test", "carol@outpost.test", "hello outpost")
    before = len(world.outpost.folder("carol"))
    world.run(world.bigmail.send("alice", PASSWORD, ["carol@outpost.test"], data))
    arrived = world.run(world.outpost.wait_for_mail("carol", count=before + 1))[-1]
    head = _head(arrived)
    # Fields on top, in the order the MX prepended them; the submitted bytes below, whole.
    assert head.startswith("Authentication-Results: mx.outpost.test;")
    assert arrived.endswith(data)
    results = head.split("Received-SPF:")[0]
    assert "spf=pass (sender IP is " + world.bigmail.hosts.out + ")" in results
    assert "smtp.mailfrom=bigmail.test" in results
    assert "dkim=pass (signature was verified)\r\n header.d=bigmail.test" in results
    assert "dmarc=pass action=none\r\n header.from=bigmail.test" in results
    assert "compauth=pass reason=100" in results
    assert (
        "Received-SPF: Pass (mx.outpost.test: domain of bigmail.test designates "
        f"{world.bigmail.hosts.out} as permitted sender)\r\n receiver=mx.outpost.test;"
        f" client-ip={world.bigmail.hosts.out}; helo=out.bigmail.test;"
    ) in head
    assert "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=bigmail.test" in head


def test_outpost_to_bigmail_is_stamped_and_filed_in_inbox(world: World) -> None:
    data = _message("carol@outpost.test", "alice@bigmail.test", "hello bigmail")
    before = len(world.bigmail.folder("alice"))
    world.run(world.outpost.send("carol", PASSWORD, ["alice@bigmail.test"], data))
    arrived = world.run(world.bigmail.wait_for_mail("alice", count=before + 1))[-1]
    head = _head(arrived)
    assert head.startswith("Authentication-Results: mx.bigmail.test;")
    found = _results(arrived, "mx.bigmail.test")
    assert found["spf"] == ("pass", {"smtp.mailfrom": "carol@outpost.test"})
    assert found["dkim"][0] == "pass" and found["dkim"][1]["header.d"] == "outpost.test"
    assert found["dmarc"][0] == "pass" and found["dmarc"][1]["header.from"] == "outpost.test"
    assert "Received-SPF: pass (mx.bigmail.test: domain of carol@outpost.test" in head
    assert arrived.endswith(data)


def test_bigmail_refuses_a_client_without_ptr(world: World) -> None:
    data = _message("nobody@elsewhere.test", "alice@bigmail.test", "no name")
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        world.run(
            _from_stranger(
                world,
                world.nobody,
                "nobody.elsewhere.test",
                "nobody@elsewhere.test",
                "alice@bigmail.test",
                data,
            )
        )
    assert refused.value.code == 550
    assert refused.value.message.startswith(f"5.7.25 [{world.nobody}] The IP address sending")
    assert "does not have a PTR record setup" in refused.value.message


def test_bigmail_refuses_a_spoofed_from_of_a_reject_domain_with_5_7_26(world: World) -> None:
    data = _message("alice@bigmail.test", "bob@bigmail.test", "it is me, really")
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        world.run(
            _from_stranger(
                world,
                world.mallory,
                "mallory.elsewhere.test",
                "mallory@elsewhere.test",
                "bob@bigmail.test",
                data,
            )
        )
    assert refused.value.code == 550
    assert refused.value.message.startswith(
        "5.7.26 Unauthenticated email from bigmail.test is not accepted due to domain's DMARC"
    )


def test_bigmail_files_a_dmarc_fail_under_quarantine_in_spam(world: World) -> None:
    data = _message("carol@outpost.test", "bob@bigmail.test", "from carol, supposedly")
    spam = len(world.bigmail.folder("bob", "Spam"))
    inbox = len(world.bigmail.folder("bob", "INBOX"))
    world.run(
        _from_stranger(
            world,
            world.mallory,
            "mallory.elsewhere.test",
            "mallory@elsewhere.test",
            "bob@bigmail.test",
            data,
        )
    )
    filed = world.run(world.bigmail.wait_for_mail("bob", "Spam", count=spam + 1))[-1]
    dmarc = _results(filed, "mx.bigmail.test")["dmarc"]
    assert dmarc[0] == "fail" and dmarc[1]["policy.dmarc"] == "quarantine"
    assert filed.endswith(data)
    assert len(world.bigmail.folder("bob", "INBOX")) == inbox


def test_send_as_with_a_wrong_password_raises_535_and_keeps_nothing(world: World) -> None:
    server = Endpoint(world.outpost.hosts.smtp, world.outpost.submission_port)
    with pytest.raises(SendAsError) as refused:
        world.run(
            world.bigmail.begin_send_as(
                "alice", "carol@outpost.test", server, "carol", "not the password"
            )
        )
    assert (refused.value.code, refused.value.enhanced) == (535, "5.7.8")
    with pytest.raises(SendAsError, match="not pending"):
        world.bigmail.confirm_send_as("alice", "carol@outpost.test", "000000000")


def test_send_as_confirms_with_the_mailed_code_and_sends_through_the_identity(
    world: World,
) -> None:
    bigmail, outpost = world.bigmail, world.outpost
    server = Endpoint(outpost.hosts.smtp, outpost.submissions_port)
    before = len(outpost.folder("carol"))
    world.run(
        bigmail.begin_send_as("alice", "carol@outpost.test", server, "carol", PASSWORD, "implicit")
    )
    confirmation = world.run(outpost.wait_for_mail("carol", count=before + 1))[-1]
    head = _head(confirmation)
    assert "Subject: Bigmail Confirmation - Send Mail as carol@outpost.test" in head
    assert "From: Bigmail Team <forwarding-noreply@bigmail.test>" in head
    assert "compauth=pass reason=100" in head  # signed by bigmail, sent from its outbound
    code = find_code(confirmation)
    assert len(code) == 9 and code.isdigit()
    with pytest.raises(SendAsError, match="send as"):
        world.run(bigmail.send_as("alice", "carol@outpost.test", ["bob@bigmail.test"], b""))
    wrong = "000000000" if code != "000000000" else "111111111"
    with pytest.raises(SendAsError, match="wrong confirmation code"):
        bigmail.confirm_send_as("alice", "carol@outpost.test", wrong)
    bigmail.confirm_send_as("alice", "carol@outpost.test", code)
    data = _message("carol@outpost.test", "bob@bigmail.test", "sent as carol")
    inbox = len(bigmail.folder("bob"))
    world.run(bigmail.send_as("alice", "carol@outpost.test", ["bob@bigmail.test"], data))
    arrived = world.run(bigmail.wait_for_mail("bob", count=inbox + 1))[-1]
    found = _results(arrived, "mx.bigmail.test")
    # Through outpost's submission server: its address, its signature, so DMARC passes.
    assert found["spf"] == ("pass", {"smtp.mailfrom": "carol@outpost.test"})
    assert found["dkim"][0] == "pass" and found["dkim"][1]["header.d"] == "outpost.test"
    assert found["dmarc"][0] == "pass"
    assert arrived.endswith(data)


def test_find_code_refuses_a_message_without_one() -> None:
    with pytest.raises(ProviderError, match="no confirmation code"):
        find_code(_message("a@b.test", "c@d.test", "nothing here"))


def test_a_provider_refuses_addresses_outside_loopback(tmp_path: Path) -> None:
    with pytest.raises(ProviderError, match=r"not an address in 127\.0\.0\.0/8"):
        Hosts(ns="127.0.0.2", mx="10.0.0.1", smtp="127.0.0.3", out="127.0.0.4")


def test_bigmail_files_an_spf_fail_without_a_signature_in_spam(world: World) -> None:
    # Mallory's own From domain has no DMARC record; the envelope claims outpost.test,
    # whose SPF names only outpost's outbound address.
    data = _message("mallory@elsewhere.test", "bob@bigmail.test", "an invoice")
    spam = len(world.bigmail.folder("bob", "Spam"))
    world.run(
        _from_stranger(
            world,
            world.mallory,
            "mallory.elsewhere.test",
            "billing@outpost.test",
            "bob@bigmail.test",
            data,
        )
    )
    filed = world.run(world.bigmail.wait_for_mail("bob", "Spam", count=spam + 1))[-1]
    found = _results(filed, "mx.bigmail.test")
    assert found["spf"][0] == "fail" and "dkim" not in found
    assert found["dmarc"][0] == "none"


def test_outpost_files_a_spoofed_quarantine_domain_as_junk_with_compauth_fail(
    world: World,
) -> None:
    data = _message("carol@outpost.test", "carol@outpost.test", "note to self")
    spam = len(world.outpost.folder("carol", "Spam"))
    world.run(
        _from_stranger(
            world,
            world.mallory,
            "mallory.elsewhere.test",
            "mallory@elsewhere.test",
            "carol@outpost.test",
            data,
            mx=world.outpost.hosts.mx,
        )
    )
    filed = world.run(world.outpost.wait_for_mail("carol", "Spam", count=spam + 1))[-1]
    found = _results(filed, "mx.outpost.test")
    assert found["dmarc"][0] == "fail"
    assert found["compauth"] == ("fail", {"reason": "000"})
    assert "spf=none (sender IP is " + world.mallory + ")" in _head(filed)
    assert filed.endswith(data)


def test_outpost_refuses_a_spoofed_reject_domain_with_5_7_509(world: World) -> None:
    data = _message("alice@bigmail.test", "carol@outpost.test", "it is alice")
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        world.run(
            _from_stranger(
                world,
                world.nobody,  # outpost asks for no PTR record
                "nobody.elsewhere.test",
                "nobody@elsewhere.test",
                "carol@outpost.test",
                data,
                mx=world.outpost.hosts.mx,
            )
        )
    assert refused.value.code == 550
    assert refused.value.message.startswith(
        "5.7.509 Access denied, sending domain bigmail.test does not pass DMARC verification"
    )


# -- the fields without the sockets ------------------------------------------------------------

_SPF_RESULTS = st.sampled_from(["pass", "fail", "softfail", "neutral", "none"])
_DKIM_RESULTS = st.sampled_from(["pass", "fail", "neutral", "permerror"])


@st.composite
def _verdicts(draw: st.DrawFn) -> Verdict:
    """A verdict whose every sender-chosen value is hostile text."""
    sender_domain, helo, signer, author = (draw(hostile_text()) for _ in range(4))
    spf = SpfResult(
        draw(_SPF_RESULTS), "mailfrom", "127.0.0.9", f"x@{sender_domain}", helo, sender_domain
    )
    signatures = tuple(
        DkimResult(result, signer, "s", "rsa-sha256", f"@{signer}")
        for result in draw(st.lists(_DKIM_RESULTS, max_size=2))
    )
    dmarc_result = draw(st.sampled_from(["pass", "fail", "none"]))
    policy = draw(st.sampled_from(["none", "quarantine", "reject"]))
    outcome = DmarcOutcome(dmarc_result, author, policy, policy)
    return Verdict(spf, signatures, outcome)


@settings(max_examples=60, deadline=None)
@given(entity=wire_messages(), verdict=_verdicts())
def test_outposts_fields_keep_every_byte_and_cannot_be_injected(
    entity: Entity, verdict: Verdict
) -> None:
    stamped = bytes(stamp_microsoft(parse(entity.data), verdict, "mx.outpost.test"))
    fields = parse(stamped).fields
    assert [field.name for field in fields[:2]] == ["Authentication-Results", "Received-SPF"]
    assert stamped.endswith(entity.data), f"bytes changed below the fields: {entity.data!r}"
    found = our_results(stamped, "mx.outpost.test")
    # Whatever the sender chose, our field reads back as the results we wrote, no more.
    expected = ["spf", *(["dkim"] * max(1, len(verdict.dkim))), "dmarc", "compauth"]
    assert [result.method for result in found] == expected
    assert found[0].result == verdict.spf.result
    assert (found[-1].result, found[-1].reason) == compauth(verdict)
    assert folder_for("microsoft", "mx.outpost.test", stamped) == (
        "Spam" if compauth(verdict)[0] == "fail" else "INBOX"
    )


def test_compauth_follows_microsofts_reason_classes() -> None:
    def verdict(spf: str, dkim: str | None, dmarc: str, policy: str | None) -> Verdict:
        signatures = () if dkim is None else (DkimResult(dkim, "a.test", "s", "rsa", ""),)  # type: ignore[arg-type]
        spf_result = SpfResult(spf, "mailfrom", "127.0.0.9", "x@a.test", "h", "a.test")  # type: ignore[arg-type]
        return Verdict(spf_result, signatures, DmarcOutcome(dmarc, "a.test", "none", policy))  # type: ignore[arg-type]

    assert compauth(verdict("pass", "pass", "pass", "reject")) == ("pass", "100")
    assert compauth(verdict("fail", None, "fail", "quarantine")) == ("fail", "000")
    assert compauth(verdict("fail", None, "fail", "reject")) == ("fail", "000")
    assert compauth(verdict("pass", None, "none", None)) == ("softpass", "200")
    assert compauth(verdict("fail", "fail", "fail", "none")) == ("fail", "001")
    assert compauth(verdict("none", None, "none", None)) == ("fail", "001")


def test_bigmail_files_mail_from_a_utf8_domain_by_its_results() -> None:
    # authres refuses UTF-8 in a quoted-string; the folder must not depend on that.
    spf = SpfResult("pass", "mailfrom", "127.0.0.9", "x@xn--fsq.test", "h.test", "xn--fsq.test")
    verdict = Verdict(spf, (), DmarcOutcome("none", "例.test"))
    stamped = bytes(
        stamp_tree(parse(b"From: x@\xe4\xbe\x8b.test\r\n\r\nhi\r\n"), verdict, "mx.bigmail.test")
    )
    assert [r.method for r in our_results(stamped, "mx.bigmail.test")][:1] == ["spf"]
    assert folder_for("gmail", "mx.bigmail.test", stamped) == "INBOX"


def test_a_recipient_refused_at_submission_is_reported_and_the_others_get_the_mail(
    world: World,
) -> None:
    data = _message("alice@bigmail.test", "carol@outpost.test", "one good, one bad")
    before = len(world.outpost.folder("carol"))
    sent = world.run(
        world.bigmail.send("alice", PASSWORD, ["carol@outpost.test", "two@@outpost.test"], data)
    )
    assert list(sent.refused) == ["two@@outpost.test"]
    assert sent.refused["two@@outpost.test"].startswith("5")
    assert world.run(world.outpost.wait_for_mail("carol", count=before + 1))[-1].endswith(data)
