"""Scenarios: what happens in the world, step by step, and what must then be true.

A scenario is data, one TOML file in ``harness/world/scenarios/``::

    name = "wrong-password"
    title = "send mail as, with a wrong password: our submission server refuses it"

    [[step]]
    say = "hamlet asks bigmail to send as hamlet@castle.test, with a wrong password"
    do = "add-identity"
    password = "wrong"
    expect = { outcome = "refused", reply = "535 5.7.8" }

Each ``do`` is an action of :data:`ACTIONS`; its other keys are the action's arguments, and
``expect`` what must hold afterwards.  An action that delivers a message to a mailbox
(``expect-mail``) keeps it, and the scenario's result then shows each hop it passed with the
fields that hop added (:mod:`harness.world.hops`).  Every check is reported, passed or not:
a scenario passes when all of its checks do.

Messages carry the scenario's name and a token of the run in their subject, so that a
mailbox holding the mail of earlier scenarios or runs is searched for this one's only.
"""

from __future__ import annotations

import asyncio
import email.utils
import re
import secrets
import time
import tomllib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import aiosmtplib

from harness.world.hops import Hop, hops
from harness.world.provider import Provider, ProviderError, ReplyError, find_code
from harness.world.world import ELSEWHERE, HAMLET_BIGMAIL, HAMLET_CASTLE, HORATIO, World
from stack.auth import dkim, spf
from stack.errors import ElsinoreError
from stack.mime.lossless import parse
from stack.smtp.tls import client_context

#: How long a step waits for mail to arrive (several hops, each with a queue runner).
MAIL_TIMEOUT = 30.0


class ScenarioError(ElsinoreError):
    """A scenario file that cannot be run: which file, and why."""


@dataclass(frozen=True)
class Step:
    say: str
    do: str
    arguments: Mapping[str, Any]
    expect: Mapping[str, Any]


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    steps: tuple[Step, ...]
    source: str


@dataclass
class Check:
    """One expectation and whether it held."""

    step: int
    what: str
    passed: bool
    detail: str = ""

    def to_json(self) -> dict[str, object]:
        return {"step": self.step, "check": self.what, "passed": self.passed, "detail": self.detail}


@dataclass
class Observed:
    """A message as it reached a mailbox, with the hops it passed."""

    step: int
    mailbox: str
    folder: str
    data: bytes
    hops: list[Hop]


@dataclass
class ScenarioResult:
    scenario: Scenario
    checks: list[Check] = field(default_factory=list)
    observed: list[Observed] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.checks) and all(c.passed for c in self.checks)

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.scenario.name,
            "title": self.scenario.title,
            "passed": self.passed,
            "seconds": round(self.seconds, 2),
            "error": self.error,
            "hops": [
                {
                    "step": seen.step,
                    "mailbox": seen.mailbox,
                    "folder": seen.folder,
                    "hops": [hop.to_json() for hop in seen.hops],
                }
                for seen in self.observed
            ],
            "checks": [check.to_json() for check in self.checks],
        }


# -- loading ---------------------------------------------------------------------------------

_STEP_KEYS = frozenset({"say", "do", "expect"})


def _load_text(text: str, source: str) -> Scenario:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: not TOML: {exc}") from None
    name, title, steps = data.get("name"), data.get("title"), data.get("step")
    if not isinstance(name, str) or not isinstance(title, str) or not isinstance(steps, list):
        raise ScenarioError(f"{source}: needs name, title and at least one [[step]]")
    parsed = []
    for number, step in enumerate(steps, 1):
        action = step.get("do") if isinstance(step, dict) else None
        if action not in ACTIONS:
            known = ", ".join(sorted(ACTIONS))
            raise ScenarioError(f"{source}: step {number}: do = {action!r}: not one of {known}")
        expect = step.get("expect", {})
        if not isinstance(expect, dict):
            raise ScenarioError(f"{source}: step {number}: expect must be a table")
        arguments = {key: value for key, value in step.items() if key not in _STEP_KEYS}
        parsed.append(Step(str(step.get("say", action)), action, arguments, expect))
    return Scenario(name, title, tuple(parsed), source)


def load(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: {exc.strerror or exc}") from None
    return _load_text(text, str(path))


def builtin() -> dict[str, Scenario]:
    """The scenarios the package ships, by name, in the order their files sort."""
    found: dict[str, Scenario] = {}
    folder = resources.files("harness.world") / "scenarios"
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".toml"):
            scenario = _load_text(entry.read_text(encoding="utf-8"), f"scenarios/{entry.name}")
            found[scenario.name] = scenario
    return found


# -- running ---------------------------------------------------------------------------------


@dataclass
class Context:
    """What one scenario's steps share: the world, the run's token, what was learnt."""

    world: World
    scenario: Scenario
    result: ScenarioResult
    token: str
    step: int = 0
    code: str | None = None
    #: How many messages each (provider, user, folder) held when a step began waiting for
    #: mail that has no token of ours (the confirmation): older ones are not it.
    marks: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def check(self, what: str, passed: bool, detail: str = "") -> bool:
        self.result.checks.append(Check(self.step, what, passed, detail))
        return passed

    def subject(self, text: str) -> str:
        return f"{text} [{self.scenario.name} {self.token}]"

    def provider(self, domain: str) -> Provider:
        try:
            return self.world.providers[domain]
        except KeyError:
            raise ScenarioError(f"no provider {domain!r} in the world") from None


def message(sender: str, recipient: str, subject: str, body: str) -> bytes:
    """A plain message as a mail client writes it."""
    domain = sender.rpartition("@")[2]
    return (
        f"From: {sender}\r\nTo: {recipient}\r\nSubject: {subject}\r\n"
        f"Date: {email.utils.formatdate()}\r\n"
        f"Message-ID: <{secrets.token_hex(8)}@{domain}>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body}\r\n"
    ).encode()


def _expect_outcome(context: Context, step: Step, error: ReplyError | None) -> None:
    """``expect = {outcome = "accepted"|"refused", reply = "535 5.7.8"}`` against what
    happened (``error`` None when it was accepted)."""
    wanted = step.expect.get("outcome", "accepted")
    got = "accepted" if error is None else "refused"
    context.check(f"{step.do}: {wanted}", got == wanted, "" if error is None else str(error))
    reply = step.expect.get("reply")
    if reply is not None:
        text = "" if error is None else f"{error.code} {error.enhanced or ''} {error.text}"
        context.check(f"reply {reply}", str(reply) in " ".join(text.split()), text)


async def add_identity(context: Context, step: Step) -> None:
    """bigmail's user adds our address as a "send mail as" identity; bigmail logs in to our
    submission server with the password (``right`` or ``wrong``) and mails a code."""
    world = context.world
    password = HAMLET_CASTLE.password if step.arguments.get("password") == "right" else "wrong"
    inbox = ("bigmail.test", HAMLET_BIGMAIL.name, "INBOX")
    context.marks[inbox] = len(world.bigmail.folder(HAMLET_BIGMAIL.name, "INBOX"))
    error: ReplyError | None = None
    try:
        await world.bigmail.begin_send_as(
            HAMLET_BIGMAIL.name,
            HAMLET_CASTLE.address,
            world.castle.endpoint("submission"),
            HAMLET_CASTLE.name,
            password,
        )
    except ReplyError as exc:
        error = exc
    _expect_outcome(context, step, error)


async def confirm(context: Context, step: Step) -> None:
    """The user types the code from the confirmation mail (``code = "read"``), or another."""
    code = context.code if step.arguments.get("code", "read") == "read" else "000000000"
    error: ReplyError | None = None
    try:
        context.world.bigmail.confirm_send_as(
            HAMLET_BIGMAIL.name, HAMLET_CASTLE.address, code or ""
        )
    except ReplyError as exc:
        error = exc
    _expect_outcome(context, step, error)


async def send_as(context: Context, step: Step) -> None:
    """The bigmail user sends as hamlet@castle.test, through our submission server."""
    recipient = str(step.arguments["to"])
    subject = context.subject(str(step.arguments.get("subject", "sent as")))
    data = message(HAMLET_CASTLE.address, recipient, subject, "Sent as my castle address.")
    error: ReplyError | None = None
    try:
        await context.world.bigmail.send_as(
            HAMLET_BIGMAIL.name, HAMLET_CASTLE.address, [recipient], data
        )
    except ReplyError as exc:
        error = exc
    _expect_outcome(context, step, error)


async def send(context: Context, step: Step) -> None:
    """A provider's user sends a message through their own provider (``from`` is one of
    the world's accounts at bigmail or outpost)."""
    account = {a.address: a for a in (HAMLET_BIGMAIL, HORATIO)}[str(step.arguments["from"])]
    recipient = str(step.arguments["to"])
    subject = context.subject(str(step.arguments.get("subject", "a message")))
    data = message(account.address, recipient, subject, "Good night, sweet prince.")
    error: ReplyError | None = None
    try:
        await context.provider(account.domain).send(
            account.name, account.password, [recipient], data
        )
    except ReplyError as exc:
        error = exc
    _expect_outcome(context, step, error)


def _mx(context: Context, domain: str) -> tuple[str, int]:
    world = context.world
    if domain == "castle.test":
        endpoint = world.castle.endpoint("verifier")
        return endpoint.host, endpoint.port
    return context.provider(domain).hosts.mx, world.ports.smtp


async def inject(context: Context, step: Step) -> None:
    """A stranger's host talks SMTP to an MX itself: ``host = "named"`` (mail.elsewhere.test,
    with PTR and SPF) or ``"unnamed"`` (no PTR).  ``from`` is MAIL FROM and From;
    ``signed_by`` signs the message with a provider's key as that provider would;
    ``tamper`` then changes its body on the way, as a careless forwarder does."""
    world = context.world
    arguments = step.arguments
    named = arguments.get("host", "named") == "named"
    source = world.plan.stranger(1 if named else 2)
    sender, recipient = str(arguments["from"]), str(arguments["to"])
    subject = context.subject(str(arguments.get("subject", "from a stranger")))
    data = message(sender, recipient, subject, "Something is rotten in the state of Denmark.")
    signer = arguments.get("signed_by")
    if signer is not None:
        provider = context.provider(str(signer))
        data = dkim.sign(data, provider.domain, provider.policy.selector, provider.key)
    if arguments.get("tamper"):
        data = data.replace(b"Something is rotten", b"Nothing is rotten")
    envelope_sender = str(arguments.get("mail_from", sender))
    host, port = _mx(context, recipient.rpartition("@")[2])
    client = aiosmtplib.SMTP(
        hostname=host,
        port=port,
        source_address=(source, 0),
        local_hostname=f"mail.{ELSEWHERE}" if named else "unnamed.invalid",
        start_tls=True,
        tls_context=client_context(ca_pem=world.castle.authority().certificate_pem),
        timeout=MAIL_TIMEOUT,
    )
    error: ReplyError | None = None
    try:
        async with client:
            await client.sendmail(envelope_sender, [recipient], data)
    except aiosmtplib.SMTPResponseException as exc:
        enhanced, _, text = exc.message.partition(" ")
        error = ReplyError("refused", exc.code, enhanced if "." in enhanced else None, text)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        first = exc.recipients[0]
        error = ReplyError("refused", first.code, None, first.message)
    _expect_outcome(context, step, error)


def _fields(data: bytes, name: str) -> list[str]:
    return [" ".join(f.unfolded().split()) for f in parse(data).get_all(name)]


def _field(data: bytes, key: str) -> str | None:
    """The topmost ``Name`` field, or with ``Name@authserv`` the topmost whose value starts
    with that authserv-id."""
    name, _, authserv = key.partition("@")
    for value in _fields(data, name):
        if not authserv or value.lower().startswith(authserv.lower()):
            return value
    return None


async def expect_mail(context: Context, step: Step) -> None:
    """Wait for the scenario's message (or the confirmation mail, ``confirmation = true``)
    in ``mailbox``'s ``folder``, and check it: ``hops`` (the hosts it passed, in order),
    ``fields`` (substrings of a field), ``absent`` (substrings a field must not hold),
    ``original_spf`` (the SRS-forwarded sender's own SPF at the last hop's client)."""
    arguments = step.arguments
    mailbox = str(arguments["mailbox"])
    folder = str(arguments.get("folder", "INBOX"))
    user, _, domain = mailbox.partition("@")
    provider = context.provider(domain)
    wanted = (
        re.escape(HAMLET_CASTLE.address)
        if arguments.get("confirmation")
        else re.escape(f"[{context.scenario.name} {context.token}]")
    )
    skip = context.marks.get((domain, user, folder), 0) if arguments.get("confirmation") else 0
    found = await _wait_for(provider, user, folder, wanted, skip)
    if not context.check(f"a message in {mailbox} {folder}", found is not None):
        return
    assert found is not None
    trail = hops(found)
    context.result.observed.append(Observed(context.step, mailbox, folder, found, trail))
    if arguments.get("confirmation"):
        try:
            context.code = find_code(found)
            context.check("the confirmation mail carries a code", True, context.code)
        except ProviderError as exc:
            context.check("the confirmation mail carries a code", False, str(exc))
    expect = step.expect
    if "hops" in expect:
        path = [hop.by for hop in trail]
        context.check(
            f"hops {' > '.join(expect['hops'])}", path == list(expect["hops"]), " > ".join(path)
        )
    for key, needles in expect.get("fields", {}).items():
        value = _field(found, key)
        for needle in needles:
            context.check(
                f"{key} has {needle}", value is not None and needle in value, value or "absent"
            )
    for key, needles in expect.get("absent", {}).items():
        value = _field(found, key) or ""
        for needle in needles:
            context.check(f"{key} lacks {needle}", needle not in value, value or "absent")
    if "original_spf" in expect:
        await _check_original_spf(context, found, str(expect["original_spf"]))


async def _wait_for(
    provider: Provider, user: str, folder: str, wanted: str, skip: int
) -> bytes | None:
    """The newest message of the folder, past its first ``skip``, whose subject has
    ``wanted`` (a pattern)."""
    pattern = re.compile(rf"^Subject:[^\r\n]*{wanted}", re.MULTILINE | re.IGNORECASE)
    deadline = time.monotonic() + MAIL_TIMEOUT
    while time.monotonic() < deadline:
        for data in reversed(provider.folder(user, folder)[skip:]):
            if pattern.search(data.decode("utf-8", "replace")):
                return data
        await asyncio.sleep(0.1)
    return None


_SRS0 = re.compile(r"SRS0=[^=]+=[^=]+=([^=]+)=([^@]+)@", re.IGNORECASE)


async def _check_original_spf(context: Context, data: bytes, wanted: str) -> None:
    """SPF for the original sender, from the address the forwarded message came from:
    what the receiver would have found without SRS."""
    received_spf = _field(data, "Received-SPF") or ""
    client = re.search(r"client-ip=([0-9.]+)", received_spf)
    forwarded = _SRS0.search(received_spf) or _SRS0.search(
        _field(data, "Authentication-Results") or ""
    )
    if client is None or forwarded is None or context.world.lookup is None:
        context.check("the sender was rewritten with SRS", False, received_spf)
        return
    original = f"{forwarded.group(2)}@{forwarded.group(1)}"
    # Off the loop: the world's name servers answer on it.
    verdict = await asyncio.to_thread(
        spf.check_host, client.group(1), original, "relay", context.world.lookup
    )
    result = verdict.result
    context.check(
        f"without SRS, SPF for {original} at {client.group(1)} would be {wanted}",
        result == wanted,
        result,
    )


Action = Callable[[Context, Step], Awaitable[None]]

ACTIONS: dict[str, Action] = {
    "add-identity": add_identity,
    "confirm": confirm,
    "send-as": send_as,
    "send": send,
    "inject": inject,
    "expect-mail": expect_mail,
}


async def run(world: World, scenario: Scenario) -> ScenarioResult:
    """Run ``scenario``'s steps in order; a step whose action fails stops the scenario
    with the error (the checks so far stay)."""
    result = ScenarioResult(scenario)
    context = Context(world, scenario, result, secrets.token_hex(3))
    started = time.monotonic()
    try:
        for number, step in enumerate(scenario.steps, 1):
            context.step = number
            await ACTIONS[step.do](context, step)
    except (ElsinoreError, OSError, aiosmtplib.SMTPException, KeyError) as exc:
        result.error = f"step {context.step}: {type(exc).__name__}: {exc}"
    result.seconds = time.monotonic() - started
    return result


__all__ = [
    "ACTIONS",
    "Check",
    "Observed",
    "Scenario",
    "ScenarioError",
    "ScenarioResult",
    "builtin",
    "load",
    "run",
]
