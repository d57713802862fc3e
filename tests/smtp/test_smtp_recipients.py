"""The MX's recipient policy: our users and postmaster in, every relay trick out.

The replies in :data:`POSTFIX` are what Postfix 3.7.11 answered over SMTP on 127.0.0.1 with
our domains as ``virtual_alias_domains``, ``alice`` and ``jörg`` in ``virtual_alias_maps``,
``reject_unauth_destination``, ``reject_non_fqdn_recipient`` and the defaults for everything
else (``allow_percent_hack``, ``swap_bangpath``, ``resolve_dequoted_address``).  The few
places where we answer otherwise, on purpose, are in :data:`NOT_POSTFIX`, each with why.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import string
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from random import Random

import aiosmtplib
import pytest
from hop_testbed import listening, wait_until
from hypothesis import assume, given
from hypothesis import strategies as st
from smtp_peers import free_port

from harness.strategies import domain_literals, domains, hostile_text, local_parts
from stack.errors import ElsinoreError
from stack.smtp.policy import Limits, Reply, check_address
from stack.smtp.recipients import (
    Accept,
    NotOurDomainError,
    Refuse,
    check_recipient,
    our_domain,
    recipient_policy,
)
from stack.smtp.server import Inbound, InboundConfig, InboundServer
from stack.smtp.spool import AsyncSpool, Spool

OURS = ("castle.test", "bücher.test")
A_LABELS = {"castle.test": "castle.test", "bücher.test": "xn--bcher-kva.test"}
USERS = {"alice", "jörg"}
OK = "250 2.1.5 Ok"

RELAY = "554 5.7.1 <{}>: Relay access denied"
UNKNOWN = "550 5.1.1 <{}>: Recipient address rejected: User unknown in virtual alias table"
SYNTAX = "501 5.1.3 Bad recipient address syntax"
NOT_FQDN = "504 5.5.2 <{}>: Recipient address rejected: need fully-qualified address"

#: Path as the client wrote it, and Postfix's reply.
POSTFIX: list[tuple[str, str]] = [
    # Our users, in any case; the trailing dot that Postfix strips.
    ("<alice@castle.test>", OK),
    ("<ALICE@CASTLE.TEST>", OK),
    ("<Alice@castle.test>", OK),
    ("<alice@castle.test.>", OK),
    ('<"alice"@castle.test>', OK),
    ("alice@castle.test", OK),
    ("<jörg@castle.test>", OK),
    ("<JÖRG@castle.test>", OK),
    ("<alice@xn--bcher-kva.test>", OK),
    ("<alice@XN--BCHER-KVA.TEST>", OK),
    # Postmaster, always, bare or with our domain (RFC 5321 4.5.1).
    ("<postmaster>", OK),
    ("<POSTMASTER>", OK),
    ("<postmaster@castle.test>", OK),
    ("<PostMaster@CASTLE.test>", OK),
    ("<postmaster@other.test>", RELAY.format("postmaster@other.test")),
    # Who the alias map does not know.
    ("<bob@castle.test>", UNKNOWN.format("bob@castle.test")),
    ("<ålice@castle.test>", UNKNOWN.format("ålice@castle.test")),
    ('<"a b"@castle.test>', UNKNOWN.format("a b@castle.test")),
    ("<@castle.test>", UNKNOWN.format("@castle.test")),
    ("<a..b@castle.test>", UNKNOWN.format("a..b@castle.test")),
    ("<.a@castle.test>", UNKNOWN.format(".a@castle.test")),
    # Other domains, subdomains of ours included.
    ("<user@other.test>", RELAY.format("user@other.test")),
    ("<alice@sub.castle.test>", RELAY.format("alice@sub.castle.test")),
    ("<alice@castle>", RELAY.format("alice@castle")),
    ("<user@castle_test>", RELAY.format("user@castle_test")),
    ("<user@[IPv6:::1]>", RELAY.format("user@[IPv6:::1]")),
    # The % hack, to elsewhere and even to ourselves.
    ("<user%other.test@castle.test>", RELAY.format("user%other.test@castle.test")),
    ("<alice%castle.test@castle.test>", RELAY.format("alice%castle.test@castle.test")),
    (
        "<user%other.test%castle.test@castle.test>",
        RELAY.format("user%other.test%castle.test@castle.test"),
    ),
    ('<"user%other.test"@castle.test>', RELAY.format("user%other.test@castle.test")),
    # Bang paths, either way round.
    ("<other.test!user@castle.test>", RELAY.format("other.test!user@castle.test")),
    ("<castle.test!alice@castle.test>", RELAY.format("castle.test!alice@castle.test")),
    ("<user!other.test@castle.test>", RELAY.format("user!other.test@castle.test")),
    ('<"other.test!user"@castle.test>', RELAY.format("other.test!user@castle.test")),
    # An @ hidden in quotes, and a second @.
    ('<"user@other.test"@castle.test>', RELAY.format("user@other.test@castle.test")),
    ('<"alice@castle.test"@castle.test>', RELAY.format("alice@castle.test@castle.test")),
    ("<user@other.test@castle.test>", RELAY.format("user@other.test@castle.test")),
    ("<alice@castle.test@castle.test>", RELAY.format("alice@castle.test@castle.test")),
    ("<user@@castle.test>", RELAY.format("user@@castle.test")),
    # Source routes: dropped, and the mailbox checked (RFC 5321 3.6.1).
    ("<@a.test,@b.test:alice@castle.test>", OK),
    ("<@a.test,@b.test:user@other.test>", RELAY.format("user@other.test")),
    ("<@castle.test:user@other.test>", RELAY.format("user@other.test")),
    # No domain.
    ("<alice>", NOT_FQDN.format("alice")),
    # What cannot be read.
    ("<>", SYNTAX),
    ("<alice@>", SYNTAX),
    ("<alice@castle.test..>", SYNTAX),
    ("<alice@castle..test>", SYNTAX),
    ("<alice@.castle.test>", SYNTAX),
    ("<a b@castle.test>", SYNTAX),
    ("<alice@castle.test", SYNTAX),
    ("<user@-castle.test>", SYNTAX),
    ("<alice@castle.test:25>", SYNTAX),
]

#: Where we answer otherwise than Postfix 3.7, and why.
NOT_POSTFIX: list[tuple[str, str, str]] = [
    # Postfix takes a literal of its own interface as local; the MX is named by its domains.
    ("<alice@[127.0.0.1]>", RELAY.format("alice@[127.0.0.1]"), "250 2.1.5 Ok"),
    # RFC 6531 3.2: a U-label is the same domain as its A-label; Postfix compares the text.
    ("<alice@bücher.test>", OK, RELAY.format("alice@bücher.test")),
    ("<alice@BÜCHER.test>", OK, RELAY.format("alice@BÜCHER.test")),
    ("<alice@bücher.test.>", OK, RELAY.format("alice@bücher.test.")),
    # Full-width letters are not an IDNA 2008 label (no UTS 46 mapping): bad syntax, which is
    # what Postfix says too when the client did not ask for SMTPUTF8.
    ("<alice@ｃａｓｔｌｅ.test>", SYNTAX, RELAY.format("alice@ｃａｓｔｌｅ.test")),
]


def check(path: str, known: set[str] = USERS) -> Accept | Refuse:
    return check_recipient(path, our_domains=OURS, known=known.__contains__)


def answer(path: str) -> str:
    result = check(path)
    return OK if isinstance(result, Accept) else str(result.reply)


def case_id(path: str) -> str:
    """A test id in printable ASCII: pytest escapes any other id again each time it collects
    in one process (as mutmut does), and then cannot find the test by the id it gave."""
    return "".join(c if " " <= c <= "~" and c != "\\" else f"U+{ord(c):04X}" for c in path)


@pytest.mark.parametrize(("path", "reply"), POSTFIX, ids=[case_id(case[0]) for case in POSTFIX])
def test_the_mx_answers_each_recipient_as_postfix_does(path: str, reply: str) -> None:
    assert answer(path) == reply


@pytest.mark.parametrize(
    ("path", "reply", "postfix"), NOT_POSTFIX, ids=[case_id(case[0]) for case in NOT_POSTFIX]
)
def test_where_the_mx_answers_otherwise_than_postfix(path: str, reply: str, postfix: str) -> None:
    assert answer(path) == reply != postfix


def test_an_accepted_recipient_is_unquoted_case_folded_and_in_a_labels() -> None:
    assert check('<@a.test:"ALICE"@Bücher.Test.>') == Accept("alice", "xn--bcher-kva.test")
    assert check("<PostMaster>") == Accept("postmaster", None)
    assert Accept("postmaster", None).address == "postmaster"
    assert Accept("alice", "castle.test").address == "alice@castle.test"
    assert check("<Postmaster@CASTLE.test>") == Accept("postmaster", "castle.test")


def test_the_alias_map_is_asked_only_about_our_domains_and_in_lower_case() -> None:
    asked: list[str] = []

    def known(local: str) -> bool:
        asked.append(local)
        return True

    for path in ("<Bob@other.test>", "<x%y@castle.test>", "<Bob@[127.0.0.1]>", "<bob>"):
        assert isinstance(check_recipient(path, our_domains=OURS, known=known), Refuse)
    assert check_recipient("<postmaster@castle.test>", our_domains=OURS, known=known) == (
        Accept("postmaster", "castle.test")
    )
    assert asked == []
    assert check_recipient("<Bob@CASTLE.test>", our_domains=OURS, known=known) == (
        Accept("bob", "castle.test")
    )
    assert asked == ["bob"]


def test_a_refusal_for_the_log_says_where_the_address_went_wrong() -> None:
    result = check("<a\x00b@castle.test>")
    assert isinstance(result, Refuse)
    assert result.reason == "U+0000 outside a quoted local part at character 2"
    result = check("<alice@ｃａｓｔｌｅ.test>")
    assert isinstance(result, Refuse)
    assert result.reason == "not an IDNA 2008 label at character 7"


def test_a_path_over_the_limit_is_refused_before_it_is_read() -> None:
    result = check("<" + "a" * 250 + "@castle.test>")
    assert isinstance(result, Refuse)
    assert result.reply == Reply(501, "5.1.3", "Bad recipient address syntax")
    assert "longer than 256 octets" in result.reason


def test_the_path_limit_counts_the_angle_brackets_whether_or_not_they_are_there() -> None:
    # RFC 5321 4.5.3.1.3: 256 octets with the punctuation; aiosmtpd hands the path without.
    longest = "a" * (254 - len("@castle.test")) + "@castle.test"
    assert check(longest, known={longest.partition("@")[0]}) == Accept(
        longest.partition("@")[0], "castle.test"
    )
    assert isinstance(check(f"<{longest}>", known={longest.partition("@")[0]}), Accept)
    everyone = {"a" + longest.partition("@")[0]}
    assert check("a" + longest, known=everyone) == check(f"<a{longest}>", known=everyone)
    assert isinstance(check("a" + longest, known=everyone), Refuse)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("[127.0.0.1]", "a domain literal: the MX is named by its domains at 0"),
        ("castle..test", "not a host name label at 7"),
        ("ｃａｓｔｌｅ.test", "not an IDNA 2008 label at 0"),
        ("", "not a host name label at 0"),
    ],
)
def test_a_domain_of_ours_that_is_not_one_is_a_configuration_error(name: str, reason: str) -> None:
    with pytest.raises(NotOurDomainError) as raised:
        recipient_policy([*OURS, name], USERS.__contains__)
    assert str(raised.value).endswith(f"cannot be one of our domains: {reason}")
    assert isinstance(raised.value, ElsinoreError)


def test_our_domains_are_compared_in_a_labels_however_they_are_configured() -> None:
    assert our_domain("Bücher.Test.") == "xn--bcher-kva.test"
    assert our_domain("XN--BCHER-KVA.test") == "xn--bcher-kva.test"
    policy = recipient_policy(["BÜCHER.TEST"], USERS.__contains__)
    assert policy("alice@xn--bcher-kva.test") is None
    assert policy("alice@bücher.test") is None


# -- properties -----------------------------------------------------------------------------

DOT_STRING_TEXT = set(string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~")


def as_path_local(local: str) -> str:
    """``local`` as a client writes it in a path: a dot-string when it is one, else a
    quoted-string (RFC 5321 4.1.2)."""
    atoms = local.split(".")
    if all(atom and all(c in DOT_STRING_TEXT or not c.isascii() for c in atom) for atom in atoms):
        return local
    return '"' + local.replace("\\", "\\\\").replace('"', '\\"') + '"'


def host_name(domain: str) -> bool:
    labels = domain.removesuffix(".").split(".")
    return all(
        label
        and len(label) <= 63
        and label[0] != "-"
        and label[-1] != "-"
        and all(c in string.ascii_letters + string.digits + "-_" for c in label)
        for label in labels
    )


@given(local_parts(), st.one_of(domains(), domain_literals()))
def test_no_address_in_a_foreign_domain_is_ever_accepted(local: str, domain: str) -> None:
    assume(domain.lower().removesuffix(".") not in {*OURS, *A_LABELS.values()})
    # The alias map knows everyone: only the domain can keep the address out.
    result = check_recipient(
        f"<{as_path_local(local)}@{domain}>", our_domains=OURS, known=lambda _: True
    )
    assert isinstance(result, Refuse), result
    if host_name(domain):
        assert result.reply.enhanced == "5.7.1", result
        assert result.reply.code == 554
    else:
        assert result.reply.enhanced in ("5.7.1", "5.1.3"), result


@given(
    local_parts().filter(lambda local: not set(local) & set("@%!")),
    st.sampled_from(OURS),
    st.randoms(use_true_random=False),
    st.booleans(),
)
def test_every_known_user_of_ours_is_accepted_in_any_case(
    local: str, domain: str, random: Random, trailing_dot: bool
) -> None:
    def scramble(text: str) -> str:
        # ASCII letters only: another script's case pairs are not always one another's
        # (dotless i upper-cases to I, which folds to i), and that address is another user.
        return "".join(
            (c.upper() if random.random() < 0.5 else c.lower()) if c.isascii() else c for c in text
        )

    written = f"<{scramble(as_path_local(local))}@{scramble(domain)}{'.' * trailing_dot}>"
    result = check_recipient(written, our_domains=OURS, known={local.casefold()}.__contains__)
    assert result == Accept(local.casefold(), A_LABELS[domain]), written


@given(hostile_text())
def test_hostile_text_is_refused_with_one_line_never_an_exception(text: str) -> None:
    result = check_recipient(text, our_domains=OURS, known=lambda _: False)
    if isinstance(result, Accept):
        assert result.local == "postmaster"
        return
    line = str(result.reply)
    assert line.isprintable()
    assert len(line.encode("utf-8", "surrogatepass")) <= 510  # RFC 5321 4.5.3.1.5
    assert result.reply.code in (501, 504, 550, 554)


# -- in front of a real server --------------------------------------------------------------


def test_the_hop_refuses_relay_tricks_at_rcpt_over_a_real_socket(tmp_path: Path) -> None:
    async def session() -> list[tuple[str, int, str]]:
        config = InboundConfig(
            hostname="mx.castle.test",
            recipients=recipient_policy(OURS, USERS.__contains__),
        )
        server = InboundServer(Inbound(config, AsyncSpool(Spool(tmp_path))), "127.0.0.1", 0)
        _, port = await server.start()
        replies = []
        try:
            client = aiosmtplib.SMTP(
                hostname="127.0.0.1", port=port, start_tls=False, local_hostname="client.test"
            )
            await client.connect()
            await client.ehlo()
            for path in (
                "alice@castle.test",
                "user%other.test@castle.test",
                "@a.test,@b.test:user@other.test",
                "other.test!user@castle.test",
                '"user@other.test"@castle.test',
                "user@[127.0.0.1]",
                "bob@castle.test",
                "Postmaster",
            ):
                await client.mail("someone@sender.test")
                response = await client.execute_command(b"RCPT", f"TO:<{path}>".encode())
                replies.append((path, response.code, response.message))
                await client.rset()
            await client.quit()
        finally:
            await server.stop(grace=1)
        return replies

    replies = asyncio.run(session())
    assert replies == [
        ("alice@castle.test", 250, "2.1.5 Recipient OK"),
        (
            "user%other.test@castle.test",
            554,
            "5.7.1 <user%other.test@castle.test>: Relay access denied",
        ),
        ("@a.test,@b.test:user@other.test", 554, "5.7.1 <user@other.test>: Relay access denied"),
        (
            "other.test!user@castle.test",
            554,
            "5.7.1 <other.test!user@castle.test>: Relay access denied",
        ),
        (
            '"user@other.test"@castle.test',
            554,
            "5.7.1 <user@other.test@castle.test>: Relay access denied",
        ),
        ("user@[127.0.0.1]", 554, "5.7.1 <user@[127.0.0.1]>: Relay access denied"),
        (
            "bob@castle.test",
            550,
            "5.1.1 <bob@castle.test>: Recipient address rejected: "
            "User unknown in virtual alias table",
        ),
        ("Postmaster", 250, "2.1.5 Recipient OK"),
    ]


@pytest.mark.parametrize("path", ["postmaster", "Postmaster", "POSTMASTER"])
def test_the_hop_lets_a_bare_postmaster_through_to_the_service(path: str) -> None:
    # RFC 5321 4.5.1: RCPT TO:<Postmaster>, any case, without a domain, must be accepted;
    # the hop's syntax check ran first and refused it for want of an "@".
    assert check_address(path, Limits(), sender=False) is None
    assert check_address(path, Limits(), sender=True) is not None
    assert check_address("alice", Limits(), sender=False) is not None


# -- against Postfix itself ----------------------------------------------------------------

POSTFIX_MAIN = """\
compatibility_level = 3.6
queue_directory = {root}/spool
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.castle.test
mydomain = castle.test
myorigin = castle.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 192.0.2.1/32
virtual_alias_domains = castle.test, xn--bcher-kva.test
virtual_alias_maps = inline:{{ {{alice@castle.test=alice@elsewhere.test}},
    {{postmaster@castle.test=alice@elsewhere.test}},
    {{alice@xn--bcher-kva.test=alice@elsewhere.test}}, {{jörg@castle.test=alice@elsewhere.test}} }}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = reject_non_fqdn_recipient
smtputf8_enable = yes
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
alias_maps =
alias_database =
local_recipient_maps =
relayhost = [127.0.0.1]:9
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
"""

POSTFIX_MASTER = """\
127.0.0.1:{port} inet n - n - - smtpd
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
error unix - - n - - error
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
"""


def rcpt_replies(port: int, paths: list[str]) -> list[str]:
    """Each path's reply to RCPT TO over one SMTP session, the bytes sent as written."""
    replies = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        stream = connection.makefile("rb")

        def reply() -> str:
            while True:
                line = stream.readline().decode("utf-8", "replace").rstrip("\r\n")
                if line[3:4] != "-":
                    return line

        reply()
        connection.sendall(b"EHLO client.test\r\n")
        reply()
        for path in paths:
            connection.sendall(b"MAIL FROM:<someone@sender.test> SMTPUTF8\r\n")
            assert reply().startswith("250")
            connection.sendall(f"RCPT TO:{path}\r\n".encode())
            replies.append(reply())
            connection.sendall(b"RSET\r\n")
            reply()
        connection.sendall(b"QUIT\r\n")
    return replies


@pytest.fixture(scope="module")
def postfix() -> Iterator[int]:
    """A Postfix MX for castle.test on 127.0.0.1, set up as the module docstring says."""
    if shutil.which("postfix") is None or not Path("/usr/lib/postfix/sbin/smtpd").exists():
        pytest.skip("Postfix is not installed (apt-get install postfix)")
    if os.geteuid() != 0:
        pytest.skip("Postfix's master runs as root")
    # Not under pytest's base temporary folder: Postfix's daemons drop to the postfix user,
    # which must be able to walk to the queue, and pytest makes its folders 0700.
    with tempfile.TemporaryDirectory(prefix="elsinore-postfix-") as folder:
        root = Path(folder)
        root.chmod(0o755)
        port = free_port()
        (root / "main.cf").write_text(POSTFIX_MAIN.format(root=root), encoding="utf-8")
        (root / "master.cf").write_text(POSTFIX_MASTER.format(port=port), encoding="utf-8")
        (root / "spool").mkdir()
        (root / "data").mkdir()
        shutil.chown(root / "data", "postfix")
        postfix = ["postfix", "-c", str(root)]
        subprocess.run([*postfix, "start"], capture_output=True, timeout=60, check=False)
        try:
            wait_until(lambda: listening(port), 30, f"Postfix on port {port}")
            yield port
        finally:
            subprocess.run([*postfix, "stop"], capture_output=True, timeout=60, check=False)


@pytest.mark.interop
def test_the_table_is_what_postfix_answers(postfix: int) -> None:
    paths = [path for path, _ in POSTFIX] + [path for path, _, _ in NOT_POSTFIX]
    expected = [reply for _, reply in POSTFIX] + [reply for _, _, reply in NOT_POSTFIX]
    assert dict(zip(paths, rcpt_replies(postfix, paths), strict=True)) == dict(
        zip(paths, expected, strict=True)
    )
