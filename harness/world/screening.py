"""What a provider's MX checks, the fields it writes, and the folder it files mail in.

Two receivers of the real internet are imitated, each as its own documentation and its bounces
show it, because those are what a sender's mail is judged by:

**Gmail** (``style="gmail"``, bigmail.test):

- **Reverse DNS.**  The client's address must have a PTR record whose name resolves back to
  the address (forward-confirmed), else ``550 5.7.25``, in Gmail's words.  A DNS failure
  while finding out is ``451 4.7.0``: the sender tries again, as it would have after a
  refusal nobody meant.  The check is made at the end of data, where Gmail's 5.7.25 comes.
- **SPF, DKIM, DMARC and ARC** by :func:`stack.auth.inbound.authenticate` (our verifier's
  :class:`~stack.services.verifier.Verification`, the HELO identity included).  What is
  refused is decided by :func:`stack.services.verifier.disposition` (so a DNS failure defers
  rather than refuses), and a DMARC refusal takes Gmail's code and words, ``550 5.7.26``.
- **Fields**: ``Received-SPF`` and ``Authentication-Results`` of :mod:`stack.auth.results`,
  prepended to the bytes that came (:func:`~stack.auth.inbound.stamp_tree`).
- **Spam folder** (:func:`gmail_folder`): a DMARC fail whose domain asked for
  ``quarantine`` (RFC 7489 §6.3: "treat as suspicious", which a mailbox provider does with
  its spam folder), and mail that nothing authenticates, neither SPF for its sender nor any
  DKIM signature (Gmail's sender guidelines require one of the two of every sender, and an
  SPF fail without a signature is such mail).  A DMARC fail under ``p=none`` with SPF or
  DKIM of another domain passing goes to the inbox: ``none`` asks for no action.

**Microsoft** (``style="microsoft"``, outpost.test):

- No reverse DNS demand.  DMARC ``p=reject`` failures are refused, with Exchange Online's
  ``550 5.7.509`` (it honours reject since 2023); ``quarantine`` and ``none`` are accepted.
- **Fields** in Exchange Online's forms: ``Authentication-Results`` with a comment per
  method (``spf=pass (sender IP is ...)``, ``dkim=pass (signature was verified)``),
  ``dmarc=... action=...`` and ``compauth=... reason=...``; and ``Received-SPF: Pass
  (RECEIVER: domain of DOMAIN designates IP as permitted sender) receiver=...; client-ip=...;
  helo=...;``.  One liberty: Microsoft writes no authserv-id, which RFC 8601 §2.2 requires;
  ours has one, so that a reader (the folder rule here, authres, the loop's report) can tell
  our field from one a sender forged, and remove those on the way in (RFC 8601 §5).
- **compauth** (:func:`compauth`), Microsoft's composite verdict, with the reason classes
  Microsoft documents: ``pass``/1xx for an explicit pass (DMARC), ``fail``/000 for an
  explicit fail (DMARC fail, policy quarantine or reject), ``softpass``/2xx for an implicit
  pass (no DMARC to apply, but SPF or DKIM passed), ``fail``/001 for an implicit fail
  (nothing passed, and no policy, or ``p=none``).  The last two digits are Microsoft's
  internal codes; we write 00.
- **Junk folder** ("Spam" here): compauth fail.

Every value the sender chose (a MAIL FROM domain, a HELO name, a signature's ``d=``) reaches
our fields through :func:`stack.mime.safe.safe_text`, bounded, and as a token or a quoted
string, so that it cannot end a result and start one of its own.

The folder is decided at delivery from our own ``Authentication-Results`` field, the field
RFC 8601 made for a filter to sort by: it travels with the bytes through the spool, so a
message delivered after a restart is filed as it would have been before.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Literal

import authres
import dns.exception
import dns.rcode
import dns.rdatatype
import dns.reversename

from stack.auth import results
from stack.auth.dkim import DkimResult
from stack.auth.inbound import Verdict, stamp_tree
from stack.auth.lookup import DnsLookup
from stack.auth.spf import SpfResult
from stack.dns.errors import ResolveError
from stack.dns.resolver import Resolver
from stack.mime import Message, parse
from stack.mime.safe import checked_text, safe_text
from stack.services.verifier import Verification, disposition
from stack.smtp.policy import Reply
from stack.smtp.server import Transaction

log = logging.getLogger("elsinore.world.screening")

Style = Literal["gmail", "microsoft"]
ReverseDns = Literal["confirmed", "missing", "temperror"]

INBOX, SPAM = "INBOX", "Spam"
#: The property of a ``dmarc=`` result that names the domain's policy (RFC 7489 §11.2).
POLICY_DMARC = ("policy", "dmarc")

_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`{|}~-]+")


async def reverse_dns(resolver: Resolver, address: str) -> ReverseDns:
    """Whether ``address`` has a PTR record whose name resolves back to it ("confirmed"),
    has none or none that does ("missing"), or DNS could not say ("temperror")."""
    try:
        answer = await resolver.resolve(dns.reversename.from_address(address), "PTR")
        pointers = answer.rrset()
        if pointers is None:
            return "missing"
        rdtype = dns.rdatatype.AAAA if ":" in address else dns.rdatatype.A
        for pointer in pointers:
            forward = (await resolver.resolve(pointer.target, rdtype)).rrset()
            if forward is not None and any(item.address == address for item in forward):
                return "confirmed"
    except (ResolveError, dns.exception.DNSException):
        return "temperror"
    return "missing"


def ptr_missing(address: str, provider: str) -> Reply:
    """Gmail's refusal of a client without forward-confirmed reverse DNS (one line)."""
    return Reply(
        550,
        "5.7.25",
        f"[{address}] The IP address sending this message does not have a PTR record setup, "
        "or the corresponding forward DNS entry does not point to the sending IP. As a "
        f"policy, {provider} does not accept messages from IPs with missing PTR records.",
    )


#: The reverse DNS could not be checked now: the sender tries again.
PTR_UNKNOWN = Reply(451, "4.7.0", "Cannot check the reverse DNS of your address now; try later")


def dmarc_refusal(style: Style, from_domain: str) -> Reply:
    """The refusal of a DMARC ``p=reject`` failure, in the receiver's own code and words."""
    shown = _quotable(from_domain)
    if style == "gmail":
        return Reply(
            550,
            "5.7.26",
            f"Unauthenticated email from {shown} is not accepted due to domain's DMARC "
            f"policy. Please contact the administrator of {shown} domain if this was a "
            "legitimate mail.",
        )
    return Reply(
        550,
        "5.7.509",
        f"Access denied, sending domain {shown} does not pass DMARC verification and has a "
        "DMARC policy of reject.",
    )


def _quotable(domain: str) -> str:
    # The From domain is the sender's text: quoted in a reply only when it plainly is one.
    plain = domain.isascii() and domain.isprintable() and " " not in domain
    return domain if plain and 0 < len(domain) <= 253 else "the From domain"


def compauth(verdict: Verdict) -> tuple[str, str]:
    """Microsoft's composite authentication result and reason (see the module)."""
    outcome = verdict.dmarc
    if outcome.result == "pass":
        return "pass", "100"
    if outcome.result == "fail" and outcome.policy in ("quarantine", "reject"):
        return "fail", "000"
    if verdict.spf.passed or any(result.passed for result in verdict.dkim):
        return "softpass", "200"
    return "fail", "001"


def _value(text: str) -> str:
    """A value someone else chose: escaped, bounded, then a token or a quoted-string."""
    text = safe_text(text, limit=results.VALUE_LIMIT)
    if _TOKEN.fullmatch(text):
        return text
    return '"' + re.sub(r'(["\\])', r"\\\1", text) + '"'


_DKIM_COMMENTS = {
    "pass": "signature was verified",
    "fail": "signature did not verify",
    "neutral": "signature was not verified",
    "temperror": "no key for signature",
    "permerror": "signature did not verify",
}


def _dkim_entry(result: DkimResult) -> str:
    comment = _DKIM_COMMENTS[result.result]
    return f"dkim={result.result} ({comment})\n header.d={_value(result.domain)}"


def microsoft_results(verdict: Verdict, authserv_id: str) -> str:
    """The ``Authentication-Results`` value in Exchange Online's form (see the module)."""
    spf = verdict.spf
    identity = (
        f"smtp.mailfrom={_value(spf.domain)}"
        if spf.identity == "mailfrom"
        else f"smtp.helo={_value(spf.helo)}"
    )
    entries = [f"spf={spf.result} (sender IP is {spf.ip})\n {identity}"]
    if verdict.dkim:
        entries += [_dkim_entry(result) for result in verdict.dkim]
    else:
        entries.append("dkim=none (message not signed)\n header.d=none")
    outcome = verdict.dmarc
    action = "none" if outcome.result == "pass" else outcome.disposition
    header_from = _value(outcome.from_domain) if outcome.from_domain else "none"
    entries.append(f"dmarc={outcome.result} action={action}\n header.from={header_from}")
    verdict_name, reason = compauth(verdict)
    entries.append(f"compauth={verdict_name} reason={reason}")
    return f"{checked_text(authserv_id, 'authserv-id')};\n " + ";\n ".join(entries)


_SPF_NAMES = {
    "pass": "Pass",
    "fail": "Fail",
    "softfail": "SoftFail",
    "neutral": "Neutral",
    "none": "None",
    "temperror": "TempError",
    "permerror": "PermError",
}


def microsoft_received_spf(spf: SpfResult, receiver: str) -> str:
    """The ``Received-SPF`` value in Exchange Online's form."""
    receiver = checked_text(receiver, "receiver")
    who = _value(spf.domain if spf.identity == "mailfrom" else spf.helo)
    ip = spf.ip
    summary = {
        "pass": f"domain of {who} designates {ip} as permitted sender",
        "fail": f"domain of {who} does not designate {ip} as permitted sender",
        "softfail": f"domain of transitioning {who} discourages use of {ip} as permitted sender",
        "neutral": f"{ip} is neither permitted nor denied by domain of {who}",
        "none": f"{who} does not designate permitted sender hosts",
        "temperror": f"error in processing during lookup of {who}",
        "permerror": f"domain of {who} has an invalid SPF record",
    }[spf.result]
    summary = re.sub(r"([()\\])", r"\\\1", summary)
    return (
        f"{_SPF_NAMES[spf.result]} ({receiver}: {summary})\n receiver={receiver};"
        f" client-ip={ip}; helo={_value(spf.helo)};"
    )


def stamp_microsoft(message: Message, verdict: Verdict, authserv_id: str) -> Message:
    """Our forged-looking fields out (RFC 8601 §5), Exchange Online's two fields on top."""
    results.remove_forged(message, authserv_id)
    message.prepend(results.RECEIVED_SPF, microsoft_received_spf(verdict.spf, authserv_id))
    message.prepend(results.AUTHENTICATION_RESULTS, microsoft_results(verdict, authserv_id))
    return message


class Screening:
    """The provider MX's transform after ``Received:``: reverse DNS when ``requires_ptr``,
    authentication, the refusals, and the fields of ``style`` (see the module).

    ``lookup`` answers stack.auth's blocking DNS queries; ``resolver`` is the asyncio one
    the reverse DNS check uses.  ``provider`` names the receiver in refusals.
    """

    def __init__(
        self,
        style: Style,
        authserv_id: str,
        lookup: DnsLookup,
        resolver: Resolver,
        *,
        requires_ptr: bool,
        provider: str,
    ) -> None:
        self.style = style
        self.authserv_id = authserv_id
        self.verification = Verification(authserv_id, lookup)
        self.resolver = resolver
        self.requires_ptr = requires_ptr
        self.provider = provider

    async def __call__(self, message: Message, transaction: Transaction) -> Message | Reply:
        arrival = transaction.arrival
        queue_id = arrival.queue_id
        # The hop wrote a name into Received: only for a forward-confirmed address.
        if self.requires_ptr and arrival.rdns is None:
            found = await reverse_dns(self.resolver, arrival.address)
            if found != "confirmed":
                log.info("%s: [%s] reverse DNS %s", queue_id, arrival.address, found)
                if found == "temperror":
                    return PTR_UNKNOWN
                return ptr_missing(arrival.address, self.provider)
        verdict = await asyncio.to_thread(
            self.verification.verdict,
            bytes(message),
            arrival.address,
            transaction.sender,
            arrival.helo,
        )
        log.info(
            "%s: %s: spf=%s dkim=%s dmarc=%s (p=%s) arc=%s",
            queue_id,
            self.authserv_id,
            verdict.spf.result,
            ",".join(result.result for result in verdict.dkim) or "none",
            verdict.dmarc.result,
            verdict.dmarc.policy or "-",
            verdict.arc.result,
        )
        refusal = disposition(verdict)
        if refusal is not None:
            if refusal.code == 550:  # the DMARC reject; a 451 (DNS trouble) stays as it is
                return dmarc_refusal(self.style, verdict.dmarc.from_domain)
            return refusal
        if self.style == "gmail":
            return stamp_tree(message, verdict, self.authserv_id)
        return stamp_microsoft(message, verdict, self.authserv_id)


def our_results(data: bytes, authserv_id: str) -> list[authres.core.AuthenticationResult]:
    """The results of the first ``Authentication-Results`` field of ``authserv_id`` in
    ``data``; empty when there is none or it does not read (both mean: not ours)."""
    wanted = authserv_id.lower()
    for field in parse(data).get_all(results.AUTHENTICATION_RESULTS):
        value = field.unfolded()
        if (results.authserv_id_of(value) or "").lower() != wanted:
            continue
        try:
            header = authres.AuthenticationResultsHeader.parse_value(value)
        except authres.AuthResError:
            # authres reads ASCII only: a UTF-8 From domain (RFC 6532) in a quoted-string
            # stops it.  Our writers quote every value that is not an ASCII token, so each
            # non-ASCII character is inside quotes, and reading it as "?" keeps the structure.
            ascii_value = value.encode("ascii", "replace").decode("ascii")
            try:
                header = authres.AuthenticationResultsHeader.parse_value(ascii_value)
            except authres.AuthResError:
                return []
        return list(header.results)
    return []


def gmail_folder(found: list[authres.core.AuthenticationResult]) -> str:
    """Gmail's filing of a message by our results (see the module)."""
    if not found:
        return SPAM  # our own field is missing or unreadable: nothing vouches for the mail
    spf = [result for result in found if result.method == "spf"]
    # The first spf= is the identity Received-SPF reports: MAIL FROM, or HELO for a bounce.
    authenticated = bool(spf and spf[0].result == "pass") or any(
        result.method == "dkim" and result.result == "pass" for result in found
    )
    for result in found:
        if result.method == "dmarc" and result.result == "fail":
            policies = [
                p.value for p in result.properties if (p.type, p.name) == ("policy", "dmarc")
            ]
            if "quarantine" in policies:
                return SPAM
    return INBOX if authenticated else SPAM


def microsoft_folder(found: list[authres.core.AuthenticationResult]) -> str:
    """Exchange Online's filing by compauth: a fail goes to junk."""
    for result in found:
        if result.method == "compauth":
            return SPAM if result.result == "fail" else INBOX
    return SPAM


def folder_for(style: Style, authserv_id: str, data: bytes) -> str:
    """The folder a message stamped by our MX goes to."""
    found = our_results(data, authserv_id)
    return gmail_folder(found) if style == "gmail" else microsoft_folder(found)


__all__ = [
    "INBOX",
    "PTR_UNKNOWN",
    "SPAM",
    "Screening",
    "compauth",
    "dmarc_refusal",
    "folder_for",
    "gmail_folder",
    "microsoft_folder",
    "microsoft_received_spf",
    "microsoft_results",
    "our_results",
    "ptr_missing",
    "reverse_dns",
    "stamp_microsoft",
]
