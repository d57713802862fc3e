"""The fields that report authentication: Authentication-Results (RFC 8601) and Received-SPF
(RFC 7208 §9.1), and the removal of forged Authentication-Results (RFC 8601 §5).

Results are modelled with authres's classes, and written and folded here, one method result
per line, so a field with several DKIM results stays within the 78-octet line advice of
RFC 5322 §2.1.1.  Everything here is pure: field values in, field values out.

Most of what these fields repeat was chosen by someone else: the client's HELO name and
MAIL FROM, a signature's d=, s= and i=, a From domain, a reason a verifier gave for a
hostile signature.  Every such value goes through :func:`~stack.mime.safe.safe_text` (its
line breaks and controls escaped, never refused: the MX must go on with the message) and is
cut to :data:`VALUE_LIMIT` octets, then written in the syntax its place asks for (a token, a
dot-atom, an address or a quoted-string), so it can neither add a field nor a result of its
own.  Our own names (the authserv-id, the receiver) go through
:func:`~stack.mime.safe.checked_text`: a control character there is refused, not reported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import authres
import authres.arc
import authres.dmarc

from stack.auth.dkim import DkimResult
from stack.auth.spf import SpfResult
from stack.mime import Message
from stack.mime.safe import checked_text, safe_text

AUTHENTICATION_RESULTS = "Authentication-Results"
RECEIVED_SPF = "Received-SPF"

#: The most octets (UTF-8, after escaping) of a value someone else chose that a field
#: repeats.  A reverse-path takes at most 256 (RFC 5321 §4.5.3.1.3); quoting at most doubles
#: it, so a line holding one unbroken value stays under the 998 octets of RFC 5322 §2.1.1.
VALUE_LIMIT = 320

_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+")
#: RFC 2045 §5.1's token: what RFC 8601 §2.2 writes a ``value`` as when it can be unquoted.
_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`{|}~-]+")
#: RFC 5322 §3.2.4's quoted-string, as an SMTP client may write a local-part (no CR or LF
#: can be in it: values are made safe first).
_QUOTED_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
#: RFC 6376 §3.5's domain-name: two or more LDH labels.
_DOMAIN_NAME = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
)


@dataclass(frozen=True)
class DmarcVerdict:
    """What an Authentication-Results ``dmarc=`` entry reports (RFC 7489 §11.2)."""

    result: str
    header_from: str
    policy: str = ""
    reason: str = ""


def spf_result(spf: SpfResult) -> authres.SPFAuthenticationResult:
    """``spf=`` with the identity that was checked (RFC 8601 §2.7.2)."""
    if spf.identity == "helo":
        return authres.SPFAuthenticationResult(result=spf.result, smtp_helo=spf.helo)
    return authres.SPFAuthenticationResult(result=spf.result, smtp_mailfrom=spf.sender)


def dkim_result(dkim: DkimResult) -> authres.DKIMAuthenticationResult:
    """``dkim=`` for one signature, with ``header.b`` so two of one domain are told apart."""
    properties = [authres.AuthenticationResultProperty("header", "b", dkim.signature_b)]
    return authres.DKIMAuthenticationResult(
        result=dkim.result,
        reason=dkim.reason or None,
        header_d=dkim.domain,
        header_i=dkim.identity,
        header_s=dkim.selector,
        header_a=dkim.algorithm,
        properties=properties if dkim.signature_b else None,
    )


def dmarc_result(dmarc: DmarcVerdict) -> authres.dmarc.DMARCAuthenticationResult:
    return authres.dmarc.DMARCAuthenticationResult(
        result=dmarc.result,
        reason=dmarc.reason or None,
        header_from=dmarc.header_from,
        policy=dmarc.policy or None,
    )


def arc_result(result: str, remote_ip: str | None = None) -> authres.arc.ARCAuthenticationResult:
    return authres.arc.ARCAuthenticationResult(result=result, smtp_remote_ip=remote_ip)


def authentication_results(
    authserv_id: str, results: Sequence[authres.core.AuthenticationResult]
) -> str:
    """The field value: ``authserv-id`` then one result per folded line (``none`` if empty).

    Every value of every result is made safe and written here, not by authres: it writes a
    value holding an ``@`` unquoted whatever else it holds, so a MAIL FROM of
    ``x@evil.test; dkim=pass`` would read as a second result.
    """
    head = _value(checked_text(authserv_id, "authserv-id"))
    if not results:
        return f"{head}; none"
    return f"{head};\n\t" + ";\n\t".join(_fold(_written(result)) for result in results)


def _written(result: authres.core.AuthenticationResult) -> str:
    """RFC 8601 §2.2's resinfo: ``method=result [reason=value] [ptype.property=pvalue]...``."""
    method = checked_text(str(result.method), "method")
    if result.version:
        method += "/" + checked_text(str(result.version), "method version")
    words = [f"{method}={checked_text(str(result.result), 'result')}"]
    if result.reason:
        words.append(f"reason={_quoted(_theirs(str(result.reason)))}")
    for prop in result.properties:
        kind = checked_text(f"{prop.type}.{prop.name}", "property")
        words.append(f"{kind}={_pvalue(_theirs(str(prop.value or '')))}")
        if prop.comment:
            words.append(f"({_comment(_theirs(str(prop.comment)))})")
    return " ".join(words)


def _theirs(text: str) -> str:
    """A value someone else chose, escaped and bounded (see the module's docstring)."""
    return safe_text(text, limit=VALUE_LIMIT)


def _pvalue(text: str) -> str:
    """RFC 8601 §2.2's pvalue: a token, ``[local-part] "@" domain-name``, or quoted."""
    if _TOKEN.fullmatch(text):
        return text
    local, at, domain = text.rpartition("@")
    if at and _DOMAIN_NAME.fullmatch(domain):
        written = not local or _DOT_ATOM.fullmatch(local) or _QUOTED_STRING.fullmatch(local)
        return (local if written else _quoted(local)) + at + domain
    return _quoted(text)


def _fold(text: str, width: int = 72) -> str:
    """Fold before spaces so no line passes ``width`` where a space allows (RFC 5322 §2.2.3:
    a fold is a line break inserted before white space, which unfolding removes; inside a
    comment or a quoted-string too, where FWS is allowed)."""
    words = text.split(" ")
    lines: list[str] = []
    line = words[0]
    for word in words[1:]:
        # Never before an empty word (a run of spaces) nor after an empty line: a line of
        # white space only is obs-FWS (RFC 5322 §4.2), and the space would be lost.
        if line.strip(" ") and word and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}"
    lines.append(line)
    # The break goes before the space that was there, which starts the next line: unfolding
    # gives the text back exactly (a tab added here would be kept inside a quoted-string).
    return "\n ".join(lines)


def authserv_id_of(value: str) -> str | None:
    """The authserv-id an Authentication-Results value claims, or None if it is unreadable."""
    try:
        header = authres.AuthenticationResultsHeader.parse_value(value)
    except authres.AuthResError:
        head = value.split(";", 1)[0].strip()
        return head.split()[0] if head else None
    return str(header.authserv_id)


def remove_forged(message: Message, authserv_id: str) -> int:
    """Drop every Authentication-Results field that claims ``authserv_id`` (RFC 8601 §5):
    none arriving from outside can be ours.  Returns how many went; other bytes stay."""
    ours = authserv_id.lower()
    forged = [
        field
        for field in message.get_all(AUTHENTICATION_RESULTS)
        if (authserv_id_of(field.unfolded()) or "").lower() == ours
    ]
    message.fields[:] = [field for field in message.fields if field not in forged]
    return len(forged)


def received_spf(spf: SpfResult, receiver: str) -> str:
    """The Received-SPF field value (RFC 7208 §9.1): result, comment, key-value pairs."""
    receiver = checked_text(receiver, "receiver")
    spf = replace(
        spf,
        ip=_theirs(spf.ip),
        sender=_theirs(spf.sender),
        helo=_theirs(spf.helo),
        mechanism=spf.mechanism and _theirs(spf.mechanism),
        explanation=_theirs(spf.explanation),
    )
    pairs = [
        ("client-ip", spf.ip),
        ("envelope-from", spf.sender),
        ("helo", spf.helo),
        ("receiver", receiver),
        ("identity", spf.identity),
    ]
    if spf.mechanism and spf.result not in ("temperror", "permerror"):
        pairs.append(("mechanism", spf.mechanism))
    if spf.result in ("temperror", "permerror") and spf.explanation:
        pairs.append(("problem", spf.explanation))
    values = "\n\t".join(f"{key}={_dot_atom_or_quoted(value)};" for key, value in pairs if value)
    return _fold(f"{spf.result} ({_comment(_summary(spf, receiver))})") + f"\n\t{values}"


def _summary(spf: SpfResult, receiver: str) -> str:
    who = f"domain of {spf.sender}" if spf.identity == "mailfrom" else f"helo {spf.helo}"
    verbs = {
        "pass": f"{who} designates {spf.ip} as permitted sender",
        "fail": f"{who} does not designate {spf.ip} as permitted sender",
        "softfail": f"transitioning {who} does not designate {spf.ip} as permitted sender",
        "neutral": f"{spf.ip} is neither permitted nor denied by {who}",
        "none": f"{who} does not designate permitted sender hosts",
        "temperror": f"error in processing during lookup of {spf.sender or spf.helo}",
        "permerror": f"permanent error in processing {who}",
    }
    return f"{receiver}: {verbs[spf.result]}"


def _comment(text: str) -> str:
    """RFC 5322 §3.2.2 ctext: backslash-escape what would end or nest the comment."""
    return re.sub(r"([()\\])", r"\\\1", text)


def _dot_atom_or_quoted(text: str) -> str:
    """RFC 7208 §9.1's key-value-pair value: a dot-atom, else a quoted-string."""
    return text if _DOT_ATOM.fullmatch(text) else _quoted(text)


def _value(text: str) -> str:
    """RFC 8601 §2.2's value: a token, else a quoted-string."""
    return text if _TOKEN.fullmatch(text) else _quoted(text)


def _quoted(text: str) -> str:
    """RFC 5322 §3.2.4: a quoted-string, ``"`` and ``\\`` backslash-escaped."""
    return '"' + re.sub(r'(["\\])', r"\\\1", text) + '"'


__all__ = [
    "AUTHENTICATION_RESULTS",
    "RECEIVED_SPF",
    "VALUE_LIMIT",
    "DmarcVerdict",
    "arc_result",
    "authentication_results",
    "authserv_id_of",
    "dkim_result",
    "dmarc_result",
    "received_spf",
    "remove_forged",
    "spf_result",
]
