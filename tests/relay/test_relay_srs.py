"""SRS: what the relay writes in the envelope sender of forwarded mail, and how it undoes it.

The vectors marked "postsrsd" were written by Debian's postsrsd 1.10 (libsrs2's code) with
the same secret on the day they name; the properties run over the grammar's local-parts and
domains (harness.strategies), the hostile ones over hostile_text() and arbitrary text.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from linear_time import MAX_RATIO, settled_growth

from harness.strategies import domains, hostile_text, local_parts
from stack.errors import ElsinoreError
from stack.relay.srs import Srs, SrsError, SrsFailure

SECRET = b"tangerine"
DAY = 86_400
#: 2026-12-03, day 20,790 since the epoch: stamp "JW" (20,790 mod 1,024 = 310 = 9 * 32 + 22).
TODAY = 20_790
#: RFC 5321 Dot-string (4.1.2), with RFC 6531's UTF-8: what a path writes unquoted.
ATEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\U0010ffff]"


class Clock:
    """A clock the test moves: POSIX seconds, starting at noon on ``TODAY``."""

    def __init__(self, day: int = TODAY) -> None:
        self.now = day * DAY + DAY / 2

    def __call__(self) -> float:
        return self.now

    def advance(self, days: float) -> None:
        self.now += days * DAY


def castle(clock: Clock | None = None, secrets: tuple[bytes, ...] = (SECRET,)) -> Srs:
    return Srs(secrets, "castle.test", clock=clock or Clock())


def address(local: str, domain: str) -> str:
    """``local@domain`` as an SMTP path writes it: the local-part quoted unless a dot-string."""
    if re.fullmatch(rf"{ATEXT}+(\.{ATEXT}+)*", local):
        return f"{local}@{domain}"
    escaped = local.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"@{domain}'


def senders() -> st.SearchStrategy[str]:
    """Senders from the grammar that SRS can carry: a domain without ``=`` or ``@`` (only a
    general address literal has them) and not ours."""
    return st.builds(
        address,
        local_parts(),
        domains().filter(lambda d: "=" not in d and "@" not in d and d.lower() != "castle.test"),
    )


def ascii_swapcase(text: str) -> str:
    """What an MTA that folds case does: ASCII letters only, as libsrs2 compares them."""
    return "".join(c.swapcase() if c.isascii() else c for c in text)


def failure(run: object, *args: str) -> SrsError:
    assert callable(run)
    with pytest.raises(SrsError) as caught:
        run(*args)
    return caught.value


# -- the forms, pinned to what postsrsd writes ------------------------------------------------


def test_a_sender_elsewhere_becomes_srs0_as_postsrsd_writes_it() -> None:
    assert castle().forward("alice@example.org") == "SRS0=eAgd=JW=example.org=alice@castle.test"


def test_an_srs1_address_of_another_forwarder_is_signed_again_as_postsrsd_does() -> None:
    first = "SRS1=vHhI=castle.test==NDcz=RA=example.org=alice@second.test"
    assert castle().forward(first) == (
        "SRS1=Bvmw=castle.test==NDcz=RA=example.org=alice@castle.test"
    )


def test_an_srs0_address_of_another_forwarder_becomes_srs1_naming_that_forwarder() -> None:
    first = Srs([b"other"], "first.test", clock=Clock()).forward("alice@example.org")
    srs0_part = first.partition("@")[0].removeprefix("SRS0")
    rewritten = castle().forward(first)
    assert rewritten.startswith("SRS1=")
    assert rewritten.endswith(f"=first.test={srs0_part}@castle.test")


def test_the_null_sender_is_never_rewritten() -> None:
    assert castle().forward("") == ""
    assert castle().forward("<>") == "<>"


@pytest.mark.parametrize(
    "sender",
    ["bob@castle.test", "bob@CASTLE.Test", "SRS0=eAgd=JW=example.org=alice@castle.test"],
)
def test_a_sender_in_our_domain_is_not_rewritten(sender: str) -> None:
    assert castle().forward(sender) == sender


def test_the_first_separator_can_be_plus_or_minus_and_every_one_reverses() -> None:
    for separator in "+-":
        srs = Srs([SECRET], "castle.test", separator=separator, clock=Clock())
        rewritten = srs.forward("alice@example.org")
        assert rewritten.startswith(f"SRS0{separator}")
        assert castle().reverse(rewritten) == "alice@example.org"


def test_a_quoted_local_part_is_rewritten_by_its_content_and_quoted_again() -> None:
    rewritten = castle().forward('"a b\\"c"@example.org')
    assert rewritten.startswith('"SRS0=') and rewritten.endswith(
        '=example.org=a b\\"c"@castle.test'
    )
    assert castle().reverse(rewritten) == '"a b\\"c"@example.org'


# -- round trips --------------------------------------------------------------------------------


@given(senders(), st.integers(0, 21))
@example("alice@example.org", 0)
@example('"a@b"@example.org', 21)
def test_reverse_gives_back_every_sender_until_it_expires(sender: str, age: int) -> None:
    clock = Clock()
    srs = castle(clock)
    rewritten = srs.forward(sender)
    clock.advance(age)
    assert srs.reverse(rewritten) == sender, rewritten


@given(senders())
def test_a_chain_of_forwarders_leads_back_to_the_sender(sender: str) -> None:
    clock = Clock()
    first, second, third = (
        Srs([name.encode()], f"{name}.test", clock=clock) for name in ("first", "second", "third")
    )
    at_first = first.forward(sender)
    at_second = second.forward(at_first)
    at_third = third.forward(at_second)
    # The third keeps naming the first forwarder: the address does not grow at every hop.
    assert at_third.lstrip('"').startswith("SRS1=") and "=first.test==" in at_third
    assert len(at_third) == len(at_second) - len("second") + len("third")
    assert third.reverse(at_third) == at_first
    assert second.reverse(at_second) == at_first
    assert first.reverse(at_first) == sender


@given(senders())
def test_a_remote_mta_changing_the_case_does_not_break_the_hash(sender: str) -> None:
    srs = castle()
    changed = ascii_swapcase(srs.forward(sender))
    assert ascii_swapcase(srs.reverse(changed)) == sender


def test_a_local_part_beyond_64_octets_is_still_written_and_reversed() -> None:
    # RFC 5321 4.5.3.1.1 limits a local-part to 64 octets, 4.5.3.1 asks for no limits where
    # possible; postsrsd writes the longer address, and so do we.
    sender = "l" * 64 + "@" + "d" * 60 + ".example"
    rewritten = castle().forward(sender)
    local = rewritten.rpartition("@")[0]
    assert len(local.encode()) == len("SRS0=HHHH=TT==") + 64 + 68
    assert castle().reverse(rewritten) == sender


# -- keys and time -------------------------------------------------------------------------------


def test_an_address_expires_after_max_age_days() -> None:
    clock = Clock()
    srs = castle(clock)
    rewritten = srs.forward("alice@example.org")
    clock.advance(21)
    assert srs.reverse(rewritten) == "alice@example.org"
    clock.advance(1)
    error = failure(srs.reverse, rewritten)
    assert error.failure is SrsFailure.EXPIRED
    assert error.offset == len("SRS0=eAgd=")


def test_the_stamp_survives_its_1024_day_wrap() -> None:
    clock = Clock(day=1023)  # stamp "77", the last slot
    srs = castle(clock)
    rewritten = srs.forward("alice@example.org")
    assert "=77=" in rewritten
    clock.advance(5)  # day 1028: slot 4
    assert srs.reverse(rewritten) == "alice@example.org"


def test_a_stamp_from_the_future_is_expired() -> None:
    clock = Clock()
    srs = castle(clock)
    clock.advance(1)
    tomorrow = srs.forward("alice@example.org")
    clock.advance(-1)
    assert failure(srs.reverse, tomorrow).failure is SrsFailure.EXPIRED


def test_a_shorter_max_age_is_obeyed() -> None:
    clock = Clock()
    srs = Srs([SECRET], "castle.test", max_age_days=2, clock=clock)
    rewritten = srs.forward("alice@example.org")
    clock.advance(3)
    assert failure(srs.reverse, rewritten).failure is SrsFailure.EXPIRED


def test_an_address_signed_with_another_secret_is_refused() -> None:
    rewritten = castle(secrets=(b"someone else",)).forward("alice@example.org")
    error = failure(castle().reverse, rewritten)
    assert error.failure is SrsFailure.BAD_HASH
    assert error.offset == len("SRS0=")


def test_after_rotation_the_new_secret_signs_and_the_old_one_still_verifies() -> None:
    old, new = b"old secret", b"new secret"
    before = castle(secrets=(old,)).forward("alice@example.org")
    rotated = castle(secrets=(new, old))
    after = rotated.forward("alice@example.org")
    assert after != before
    assert rotated.reverse(before) == rotated.reverse(after) == "alice@example.org"
    assert castle(secrets=(new,)).reverse(after) == "alice@example.org"
    assert failure(castle(secrets=(old,)).reverse, after).failure is SrsFailure.BAD_HASH


@given(senders(), st.data())
def test_changing_any_signed_character_is_detected(sender: str, data: st.DataObject) -> None:
    srs = castle()
    rewritten = srs.forward(sender)
    local, _, domain = rewritten.rpartition("@")
    # Every character of the local-part after "SRS0=" except the field separators is signed
    # (the hash itself included); change one into a different letter or digit.
    signed = [i for i, c in enumerate(local) if i >= 5 and c not in '="\\']
    index = data.draw(st.sampled_from(signed))
    original = local[index]
    replacement = data.draw(
        st.sampled_from("ab7Q+/").filter(lambda c: c.lower() != original.lower())
    )
    tampered = local[:index] + replacement + local[index + 1 :] + "@" + domain
    error = failure(srs.reverse, tampered)
    assert error.failure in (SrsFailure.BAD_HASH, SrsFailure.MALFORMED)


def test_a_longer_hash_is_checked_on_its_first_hash_length_characters() -> None:
    # Addresses written before hash_length was lowered keep working (libsrs2's rule).
    long = Srs([SECRET], "castle.test", hash_length=8, clock=Clock())
    rewritten = long.forward("alice@example.org")
    assert castle().reverse(rewritten) == "alice@example.org"
    error = failure(long.reverse, castle().forward("alice@example.org"))
    assert error.failure is SrsFailure.BAD_HASH and "fewer than 8" in error.reason


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("alice@example.org", 0),  # not SRS
        ("SRS0=eAgd=JW=example.org@castle.test", 24),  # no local-part field
        ("SRS0=eAgd=JW==alice@castle.test", 13),  # empty domain field
        ("SRS0==JW=example.org=alice@castle.test", 5),  # empty hash
        ("SRS1=Bvmw=castle.test@castle.test", 21),
        ("SRS0=eAgd=J=example.org=alice@castle.test", 10),  # a one-character stamp
        ("SRS0=eAgd=J1=example.org=alice@castle.test", 10),  # not base32
        ("SRS0=eAgd=JW=example.org=alice", 30),  # no domain
        ("SRS0=eAgd=JW=example.org=al\rice@castle.test", 27),
        ('"SRS0=eAgd"=JW=example.org=alice"@castle.test', 0),
    ],
)
def test_a_malformed_address_is_refused_with_where_and_why(text: str, offset: int) -> None:
    error = failure(castle().reverse, text)
    assert error.failure is SrsFailure.MALFORMED
    assert error.offset == offset, error
    assert isinstance(error, ElsinoreError)
    assert "\n" not in str(error) and "\r" not in str(error)


@pytest.mark.parametrize(
    "sender",
    [
        "alice",
        "@example.org",
        "alice@",
        "alice@[a=b]",
        "a@[b@c]",
        "al\nice@example.org",
        "\udcff@x",
    ],
)
def test_a_sender_that_cannot_be_reversed_is_not_rewritten(sender: str) -> None:
    assert failure(castle().forward, sender).failure is SrsFailure.MALFORMED


def _srs_or_typed_error(srs: Srs, text: str) -> None:
    assert isinstance(srs.is_srs(text), bool)
    for run in (srs.reverse, srs.forward):
        try:
            result = run(text)
        except SrsError as error:
            assert isinstance(error.offset, int) and 0 <= error.offset <= len(text)
            str(error)
        else:
            assert isinstance(result, str)


@given(st.one_of(hostile_text(), st.text()))
def test_hostile_text_gets_a_result_or_an_srs_error(text: str) -> None:
    _srs_or_typed_error(castle(), text)


@given(st.sampled_from(["SRS0=", "SRS1=", "srs0+", "SRS1-", '"SRS0=']), hostile_text())
def test_hostile_text_after_an_srs_tag_gets_a_result_or_an_srs_error(tag: str, text: str) -> None:
    _srs_or_typed_error(castle(), tag + text)
    _srs_or_typed_error(castle(), tag + text + "@castle.test")


@given(senders(), st.data())
def test_hostile_text_inside_an_srs_address_gets_a_result_or_an_srs_error(
    sender: str, data: st.DataObject
) -> None:
    rewritten = castle().forward(sender)
    index = data.draw(st.integers(0, len(rewritten)))
    _srs_or_typed_error(
        castle(), rewritten[:index] + data.draw(hostile_text(2)) + rewritten[index:]
    )


def test_is_srs_recognises_both_forms_in_any_case_and_nothing_else() -> None:
    srs = castle()
    for text in ["SRS0=a=b=c=d@x", "srs1+a=b==c@x", '"SRS0-a=b=c=d e"@x']:
        assert srs.is_srs(text)
    for text in ["SRS2=a@x", "SRS0@x", "SRS0", "alice@example.org", "", "SRS0=x"]:
        assert not srs.is_srs(text)


def test_reverse_takes_linear_time_in_the_address() -> None:
    def run(text: str) -> None:
        with pytest.raises(SrsError):
            castle().reverse(text)

    small = "SRS0=eAgd=JW=" + "=" * 20_000 + "@castle.test"
    large = "SRS0=eAgd=JW=" + "=" * 80_000 + "@castle.test"
    assert settled_growth(run, small, large) < MAX_RATIO


def test_bad_configuration_is_a_value_error() -> None:
    for kwargs in [{"hash_length": 0}, {"hash_length": 28}, {"max_age_days": 1024}]:
        with pytest.raises(ValueError):
            Srs([SECRET], "castle.test", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Srs([], "castle.test")
    with pytest.raises(ValueError):
        Srs([SECRET], "castle.test", separator="*")
    with pytest.raises(ValueError):
        Srs([SECRET], "a=b.test")
