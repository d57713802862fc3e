"""The recipient policy's contract where the Postfix table does not reach: source routes,
quoted local parts and domain literals read as RFC 5321 4.1.2 and 4.1.3 write them, the
253-octet domain, and a refusal whose reason says what went wrong and at which character
(the module's promise: "the reason for the log ... says where the address went wrong")."""

from __future__ import annotations

import pytest

from stack.smtp.policy import Limits
from stack.smtp.recipients import (
    Accept,
    NotOurDomainError,
    Refuse,
    check_recipient,
    our_domain,
    recipient_policy,
)

OURS = ("castle.test",)
USERS = {"alice", "jörg", "alice ", "alice~", "a~b"}


def check(path: str) -> Accept | Refuse:
    return check_recipient(path, our_domains=OURS, known=USERS.__contains__)


@pytest.mark.parametrize(
    ("path", "accepted"),
    [
        # A source route of domains or address literals is dropped (RFC 5321 3.6.1, 4.1.2).
        ("<@[127.0.0.1]:alice@castle.test>", Accept("alice", "castle.test")),
        ("<@[1.2.3.4]:alice@castle.test>", Accept("alice", "castle.test")),
        # The mailbox after a route is read on its own: no '@' of the route is its own.
        ("<@a.test:postmaster>", Accept("postmaster", None)),
        ("<@a.test,@[127.0.0.1]:alice@castle.test>", Accept("alice", "castle.test")),
        # quoted-pairSMTP = "\" %d32-126: any printable character, space and tilde included.
        ('<"al\\ice"@castle.test>', Accept("alice", "castle.test")),
        ('<"alice\\ "@castle.test>', Accept("alice ", "castle.test")),
        ('<"alice\\~"@castle.test>', Accept("alice~", "castle.test")),
        # qtextSMTP runs to "~", and UTF-8 text is allowed in it (RFC 6531 3.3).
        ('<"a~b"@castle.test>', Accept("a~b", "castle.test")),
        ('<"jörg"@castle.test>', Accept("jörg", "castle.test")),
    ],
)
def test_what_rfc_5321_lets_a_client_write_is_read(path: str, accepted: Accept) -> None:
    assert check(path) == accepted


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        # Brackets and the empty path.
        ("<alice@castle.test", "'<' without its '>' at 18"),
        ("<", "'<' without its '>' at 1"),
        ("alice@castle.test>", "'>' without its '<' at 17"),
        ("<>", "an empty path (the null path is for senders only) at 1"),
        ("", "an empty path (the null path is for senders only) at 0"),
        ("<alice@>", "no domain after '@' at 7"),
        # Source routes.
        ("<@a.test,b.test:alice@castle.test>", "a source route hop that is not '@domain' at 9"),
        ("<@a.test,@:alice@castle.test>", "a source route hop that is not '@domain' at 9"),
        ("<@a.test,@b..test:alice@castle.test>", "not a host name label at 12"),
        ("<@a.test,@[1.2.3.999]:alice@castle.test>", "not an address literal at 11"),
        ("<@a.test:>", "a source route and no mailbox at 9"),
        # Quoted local parts.
        ('<"alice@castle.test>', "a quoted local part without its closing '\"' at 19"),
        ('"alice@castle.test', "a quoted local part without its closing '\"' at 18"),
        ('<"alice"x@castle.test>', "text after the quoted local part at 8"),
        ('<"a\\\x01"@castle.test>', "a backslash not followed by a printable character at 4"),
        ('"a\\', "a backslash not followed by a printable character at 3"),
        ('<"a\x01b"@castle.test>', "U+0001 in the quoted local part at 3"),
        # Unquoted local parts: a character outside atext, printed as itself when printable.
        ("<a(b@castle.test>", "'(' outside a quoted local part at 2"),
        ("<a\x85b@castle.test>", "U+0085 outside a quoted local part at 2"),
        ("<a\u2028b@castle.test>", "U+2028 outside a quoted local part at 2"),
        # Domains and domain literals.
        ("<alice@a.b..test>", "not a host name label at 11"),
        ("<alice@[1.2.3.4>", "a domain literal without its ']' at 15"),
        ("<a@[]>", "a domain literal without its ']' at 5"),
        ("<a@[1]>", "not an address literal at 4"),
        ("<alice@[abc]>", "not an address literal at 8"),
        ("<alice@[1.2.3.4.5]>", "not an address literal at 8"),
        ("<alice@[IPv6:not-an-address]>", "not an address literal at 8"),
    ],
)
def test_an_unreadable_path_is_bad_syntax_and_the_reason_points_at_the_fault(
    path: str, reason: str
) -> None:
    result = check(path)
    assert isinstance(result, Refuse), result
    assert (result.reply.code, result.reply.enhanced) == (501, "5.1.3")
    what, _, where = reason.rpartition(" at ")
    assert result.reason == f"{what} at character {where}"


@pytest.mark.parametrize(
    ("path", "why"),
    [
        # Every well-formed address literal (RFC 5321 4.1.3), IPv4, IPv6 in any case, or a
        # general one with a standardized tag, is refused as a relay, never as bad syntax.
        ("<alice@[1.2.3.4]>", "a domain literal is not one of our domains"),
        ("<alice@[ipv6:::1]>", "a domain literal is not one of our domains"),
        ("<alice@[1:2]>", "a domain literal is not one of our domains"),
        ("<alice@[x-tag:stuff]>", "a domain literal is not one of our domains"),
        # The source route ends at its first ':', not at one inside the mailbox's literal.
        ("<@a.test:user@[IPv6:::1]>", "a domain literal is not one of our domains"),
        ("<user@other.test>", "other.test is not one of our domains"),
        ("<a%b@castle.test>", "the local part routes the mail on (sender-specified routing)"),
    ],
)
def test_a_relay_refusal_says_why_for_the_log(path: str, why: str) -> None:
    result = check(path)
    assert isinstance(result, Refuse), result
    assert (result.reply.code, result.reply.enhanced) == (554, "5.7.1")
    assert result.reason == why


def test_a_domain_may_have_253_octets_and_no_more() -> None:
    # RFC 1035 2.3.4: 255 octets on the wire are 253 in text, without the trailing dot.
    longest = ".".join(["a" * 63] * 3 + ["b" * 61])
    assert len(longest) == 253
    assert our_domain(longest) == longest
    assert our_domain(longest + ".") == longest
    with pytest.raises(NotOurDomainError) as raised:
        our_domain(longest + "b")
    assert raised.value.reason == "a domain longer than 253 octets"
    assert raised.value.position == 0
    # A path limit out of the way, so that the domain's own shows.
    result = check_recipient(
        f"<alice@{longest}b>", our_domains=OURS, known=USERS.__contains__, limits=Limits(path=400)
    )
    assert isinstance(result, Refuse) and result.reply.code == 501
    assert result.reason == "a domain longer than 253 octets at character 7"


def test_a_configuration_error_keeps_the_name_the_reason_and_the_position() -> None:
    with pytest.raises(NotOurDomainError) as raised:
        our_domain("castle..test")
    error = raised.value
    assert (error.name, error.reason, error.position) == (
        "castle..test",
        "not a host name label",
        7,
    )


def test_the_policy_applies_the_limits_it_was_given() -> None:
    policy = recipient_policy(OURS, USERS.__contains__, Limits(path=20))
    assert policy("alice@castle.test") is None
    reply = policy("alice@castle.test.test")
    assert reply is not None and reply.code == 501


@pytest.mark.parametrize(
    "path", ["@castle.test", "<@castle.test>", "alice@castle.test", "<alice@castle.test>"]
)
def test_angle_brackets_are_optional_and_change_nothing(path: str) -> None:
    bare = path.removeprefix("<").removesuffix(">")
    assert check(bare) == check(f"<{bare}>")


def test_a_refusal_s_reason_says_why_for_each_reply() -> None:
    too_long = check("<" + "a" * 250 + "@castle.test>")
    assert isinstance(too_long, Refuse)
    assert too_long.reason == "longer than 256 octets at character 256"
    no_domain = check("<alice>")
    assert isinstance(no_domain, Refuse) and no_domain.reply.code == 504
    assert no_domain.reason.startswith("no domain, and only postmaster may go without one")
    assert no_domain.reason.endswith("(RFC 5321 4.5.1)")
    unknown = check("<bob@castle.test>")
    assert isinstance(unknown, Refuse) and unknown.reply.code == 550
    assert unknown.reason == "the alias map has no such user"
    routed = check("<@a.test:alice>")
    assert isinstance(routed, Refuse) and routed.reply.code == 504
