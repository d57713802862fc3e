"""The Received field's contract, clause by clause: the ``with`` keyword of RFC 3848 and
RFC 6531, what stands in for a name the client did not give, the address literal of
RFC 5321 4.1.3, and the line lengths the module's documentation promises whatever the client
chose."""

from __future__ import annotations

import pytest
from test_smtp_received import arrival

from stack.mime.safe import UnsafeTextError
from stack.smtp.received import TlsInfo, protocol, received_value

TLS = TlsInfo("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256)


@pytest.mark.parametrize(
    ("esmtp", "tls", "authenticated", "smtputf8", "keyword"),
    [
        # RFC 3848 2: the protocol types, by what the session used.
        (False, False, False, False, "SMTP"),
        (True, False, False, False, "ESMTP"),
        (True, True, False, False, "ESMTPS"),
        (True, False, True, False, "ESMTPA"),
        (True, True, True, False, "ESMTPSA"),
        # RFC 6531 3.7.2: the same, for a session that used SMTPUTF8.
        (True, False, False, True, "UTF8SMTP"),
        (True, True, False, True, "UTF8SMTPS"),
        (True, False, True, True, "UTF8SMTPA"),
        (True, True, True, True, "UTF8SMTPSA"),
    ],
)
def test_the_with_clause_names_the_protocol_the_session_used(
    esmtp: bool, tls: bool, authenticated: bool, smtputf8: bool, keyword: str
) -> None:
    came = arrival(
        esmtp=esmtp, tls=TLS if tls else None, authenticated=authenticated, smtputf8=smtputf8
    )
    assert protocol(came) == keyword
    assert f" via tcp with {keyword} id <" in received_value(came)


def test_a_client_that_gave_no_name_and_has_no_reverse_name_reads_unknown() -> None:
    first = received_value(arrival(helo="", rdns=None)).split("\n\t")[0]
    assert first == "from unknown (unknown [127.0.0.9])"
    first = received_value(arrival(helo="", rdns="")).split("\n\t")[0]
    assert first == "from unknown (unknown [127.0.0.9])"


def test_an_ipv6_client_is_written_as_an_ipv6_address_literal() -> None:
    # RFC 5321 4.1.3: IPv6-address-literal = "IPv6:" IPv6-addr; an IPv4 address stands bare.
    assert "[IPv6:2001:db8::9])" in received_value(arrival(address="2001:db8::9"))
    assert "[127.0.0.9])" in received_value(arrival(address="127.0.0.9"))


def test_the_tls_clause_gives_the_cipher_s_secret_bits() -> None:
    value = received_value(arrival(tls=TlsInfo("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", 128)))
    lines = value.split("\n\t")
    assert lines[1] == "(using TLSv1.2 with cipher ECDHE-RSA-AES128-GCM-SHA256 (128/128 bits))"
    assert len(lines) == 4


def test_several_recipients_end_the_by_clause_with_the_date_on_its_own_line() -> None:
    lines = received_value(arrival(recipients=("a@castle.test", "b@castle.test"))).split("\n\t")
    assert lines[-2].endswith("id <0123456789ABCDEF@hop.castle.test>;")
    assert lines[-1] == "Thu, 03 Dec 2026 19:00:00 +0000"


# The module's own bounds: "the first line is at most ... 581 octets", "the last 940".
FIRST_LINE = 581
LAST_LINE = 940
LONGEST_ADDRESS = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"


@pytest.mark.parametrize(
    "chosen",
    [
        "a" * 600,  # an honest-looking name, too long
        ")" * 600,  # every character quoted
        "(" + "\x80" * 300,  # every character escaped, after a quote
        "é)" * 300,  # quotes among characters of two octets
        ">" * 1200,  # what a recipient path quotes
        "\x80>" * 500,
    ],
    ids=["long", "all-quoted", "all-escaped", "quoted-8bit", "all-angle", "escaped-angle"],
)
def test_no_client_chosen_value_stretches_a_line_past_its_bound(chosen: str) -> None:
    value = received_value(
        arrival(
            helo=chosen,
            rdns=chosen,
            address=LONGEST_ADDRESS,
            recipients=(chosen,),
            tls=TLS,
            smtputf8=True,
            authenticated=True,
        )
    )
    lines = [line.encode("utf-8", "surrogateescape") for line in value.split("\n\t")]
    assert len(lines[0]) <= FIRST_LINE, lines[0]
    assert len(lines[-1]) <= LAST_LINE, lines[-1]


@pytest.mark.parametrize("special", ["(", ")"])
def test_a_quoted_comment_character_never_closes_the_comment(special: str) -> None:
    # However many octets the cut leaves, every parenthesis inside the comment is quoted: the
    # first line has exactly the comment's own two unquoted parentheses.
    for length in (1, 100, 254, 255, 256, 400):
        first = received_value(arrival(helo="h", rdns=special * length)).split("\n\t")[0]
        unquoted = first.replace("\\(", "").replace("\\)", "")
        assert unquoted.count("(") == 1 and unquoted.count(")") == 1, first


def test_a_recipient_with_an_angle_bracket_cannot_close_the_for_path_early() -> None:
    last = received_value(arrival(recipients=("a>b@castle.test",))).split("\n\t")[-1]
    assert last == "for <a\\>b@castle.test>; Thu, 03 Dec 2026 19:00:00 +0000"


@pytest.mark.parametrize(
    ("changes", "what"),
    [({"hostname": "hop\nX: y"}, "hostname"), ({"address": "127.0.0.1\n"}, "client address")],
)
def test_a_configured_value_that_cannot_stand_in_a_field_is_named_in_the_error(
    changes: dict[str, str], what: str
) -> None:
    with pytest.raises(UnsafeTextError) as raised:
        received_value(arrival(**changes))
    assert str(raised.value).startswith(f"{what}: LF (U+000A) at character ")


def test_an_honest_reverse_name_and_helo_are_written_as_they_are() -> None:
    first = received_value(arrival(helo="Xmail.Example.test", rdns="MX.example.test"))
    assert first.split("\n\t")[0] == "from Xmail.Example.test (MX.example.test [127.0.0.9])"


def test_a_name_whose_quotes_use_up_its_whole_limit_keeps_only_the_cut_mark() -> None:
    # "Each quote adds an octet: the value is cut that many octets shorter": 255 parentheses
    # leave no octet of the name, and what is written is the cut mark alone.
    first = received_value(arrival(helo=")" * 300, rdns="(" * 300)).split("\n\t")[0]
    assert first == "from \\... (\\... [127.0.0.9])"


def test_several_recipients_over_tls_end_the_by_clause_not_the_tls_clause() -> None:
    value = received_value(arrival(recipients=("a@castle.test", "b@castle.test"), tls=TLS))
    lines = value.split("\n\t")
    assert lines[1].endswith("bits))") and lines[2].endswith(">;"), lines
    assert lines[3] == "Thu, 03 Dec 2026 19:00:00 +0000"


def test_an_honest_recipient_is_written_as_it_is() -> None:
    last = received_value(arrival(recipients=("Xavier@castle.test",))).split("\n\t")[-1]
    assert last == "for <Xavier@castle.test>; Thu, 03 Dec 2026 19:00:00 +0000"


def test_even_an_absurd_tls_version_or_cipher_name_keeps_the_line_within_998_octets() -> None:
    # RFC 5322 2.1.1; the names come from OpenSSL, and are bounded all the same.
    value = received_value(arrival(tls=TlsInfo("v" * 2000, "c" * 2000, 256)))
    tls_line = value.split("\n\t")[1]
    assert tls_line.startswith("(using v") and tls_line.endswith("(256/256 bits))")
    assert len(tls_line.encode()) <= 998
