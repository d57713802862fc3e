"""DMARC (RFC 7489): policy discovery, identifier alignment, and what to do with the message.

Pure over the message's From domain, the SPF and DKIM results already computed for it, and a
:class:`~.lookup.DnsLookup` for the policy record; the ``pct`` sampling takes its random
number as an argument, so a test can say which side of the percentage a message falls on.

The steps, by section:

- §6.6.1: the RFC5322.From domain.  A message with no From, or with several authors, has no
  single Author Domain: that is a ``permerror`` here, and the receiver's policy decides.
- §6.6.3: the records at ``_dmarc.<From domain>`` that start ``v=DMARC1`` (steps 1-2);
  only when there is none, those at ``_dmarc.<organizational domain>`` (:mod:`.psl`, steps
  3-4).  Two records, or none, at the name asked last: no policy (step 5).  A record with
  an invalid ``p=`` or ``sp=`` becomes ``p=none`` when its ``rua=`` has a valid URI, else
  it is no policy either (step 6), and never a reason to ask the organizational domain.
- §3.1: alignment of the SPF-authenticated MAIL FROM domain and of each passing DKIM ``d=``
  with the From domain, relaxed (same organizational domain) or strict (same name).
- §6.3, §6.6.4: ``p`` for the domain itself, ``sp`` for its subdomains when the record came
  from the organizational domain, and ``pct``: a failing message outside the sample gets the
  next milder disposition (reject -> quarantine -> none).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from stack.auth.dkim import DkimResult
from stack.auth.lookup import DnsLookup, txt_strings
from stack.auth.psl import SuffixList, default_list
from stack.auth.spf import SpfResult
from stack.dns.errors import ResolveError
from stack.errors import excerpt
from stack.mime import Mailbox, decode_field, parse

Policy = Literal["none", "quarantine", "reject"]
Alignment = Literal["r", "s"]
DmarcResultName = Literal["pass", "fail", "none", "temperror", "permerror"]
POLICIES: tuple[Policy, ...] = ("none", "quarantine", "reject")
_POLICY_NAMES: dict[str, Policy] = {name: name for name in POLICIES}
_MILDER: dict[Policy, Policy] = {"reject": "quarantine", "quarantine": "none", "none": "none"}


class RecordError(ValueError):
    """A DMARC record that §6.3's grammar does not accept."""


@dataclass(frozen=True)
class DmarcRecord:
    """The tags of a policy record that evaluation uses (§6.3), with their defaults."""

    p: Policy
    sp: Policy
    pct: int = 100
    adkim: Alignment = "r"
    aspf: Alignment = "r"
    rua: tuple[str, ...] = ()
    ruf: tuple[str, ...] = ()


def parse_record(text: str) -> DmarcRecord:
    """Read ``v=DMARC1; p=...`` (§6.4 grammar); raises :class:`RecordError`."""
    tags: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep:
            raise RecordError(f"not a tag=value pair: {excerpt(part.strip())}")
        tags.setdefault(name.strip().lower(), value.strip())
    if next(iter(tags), None) != "v" or tags["v"] != "DMARC1":
        raise RecordError("the record must start with v=DMARC1")
    rua = _uris(tags.get("rua", ""))
    p = tags.get("p", "").lower()
    # §6.3: without sp, subdomains get p; an sp that is there but invalid is not a missing
    # one, and §6.6.3 step 6 treats it like an invalid p.
    sp = tags.get("sp", p).lower()
    if p not in POLICIES or sp not in POLICIES:
        bad = "p" if p not in POLICIES else "sp"
        bad = f"{bad}={excerpt(tags.get(bad, ''))}"
        if not any(_DMARC_URI.fullmatch(uri) for uri in rua):
            raise RecordError(f"{bad} is not none, quarantine or reject")
        # Step 6.1: "act as if a record containing a valid 'v' tag and 'p=none' was
        # retrieved"; the other tags still apply, rua above all, which is why it is asked for.
        p = sp = "none"
    pct = tags.get("pct", "100")
    if not pct.isdigit() or not 0 <= int(pct) <= 100:
        raise RecordError(f"pct={excerpt(pct)} is not an integer from 0 to 100")
    adkim, aspf = tags.get("adkim", "r").lower(), tags.get("aspf", "r").lower()
    if adkim not in ("r", "s") or aspf not in ("r", "s"):
        raise RecordError("adkim and aspf take r or s")
    return DmarcRecord(
        p=_policy(p),
        sp=_policy(sp),
        pct=int(pct),
        adkim="s" if adkim == "s" else "r",
        aspf="s" if aspf == "s" else "r",
        rua=rua,
        ruf=_uris(tags.get("ruf", "")),
    )


def _policy(text: str) -> Policy:
    return _POLICY_NAMES[text]


def _uris(text: str) -> tuple[str, ...]:
    return tuple(uri.strip() for uri in text.split(",") if uri.strip())


#: §6.2's DMARC-URI: a URI (RFC 3986 §3.1's scheme, a colon, more) and an optional "!" size.
_DMARC_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s!]+(![0-9]+[kmgt]?)?")


def _is_dmarc1(text: str) -> bool:
    """§6.6.3 step 2: does the record start with §6.4's ``v=DMARC1`` (case-sensitive)?"""
    name, sep, value = text.split(";", 1)[0].partition("=")
    return bool(sep) and name.strip(" \t") == "v" and value.strip(" \t") == "DMARC1"


@dataclass(frozen=True)
class Discovery:
    """Where the policy was found (§6.6.3), or why there is none."""

    record: DmarcRecord | None
    name: str = ""
    #: True when the record is the organizational domain's, not the From domain's own.
    inherited: bool = False
    error: DmarcResultName | None = None
    reason: str = ""


def discover(from_domain: str, lookup: DnsLookup, suffixes: SuffixList | None = None) -> Discovery:
    """The policy record for ``from_domain`` (§6.6.3): its own, or only when it publishes
    none, its organizational domain's."""
    own = from_domain.lower().rstrip(".")
    org = (suffixes or default_list()).organizational_domain(own)
    for domain in dict.fromkeys([own, org]):
        name = f"_dmarc.{domain}"
        try:
            texts = [t.decode("utf-8", "replace") for t in txt_strings(lookup, name)]
        except ResolveError as exc:
            return Discovery(None, name, error="temperror", reason=str(exc))
        records = [text for text in texts if _is_dmarc1(text)]  # steps 2 and 4
        if records:
            break  # step 3: the organizational domain is asked only when this set is empty
    if not records:
        return Discovery(None, name, reason="no DMARC record")  # step 5
    if len(records) > 1:
        return Discovery(None, name, reason=f"{len(records)} DMARC records")  # step 5
    try:
        return Discovery(parse_record(records[0]), name, inherited=domain != own)
    except RecordError as exc:
        # Step 6.2: no DMARC processing; RFC 7489 §11.2 names the result permerror.
        return Discovery(None, name, error="permerror", reason=f"invalid record: {exc}")


def aligned(a: str, b: str, mode: Alignment, suffixes: SuffixList | None = None) -> bool:
    """§3.1: strict is the same name; relaxed is the same organizational domain."""
    first, second = a.lower().rstrip("."), b.lower().rstrip(".")
    if mode == "s":
        return first == second
    psl = suffixes or default_list()
    return psl.organizational_domain(first) == psl.organizational_domain(second)


@dataclass(frozen=True)
class DmarcOutcome:
    """The DMARC result (RFC 8601 §2.7.5 names) and the disposition it asks for."""

    result: DmarcResultName
    from_domain: str
    disposition: Policy = "none"
    #: The policy the record asks for (p, or sp for a subdomain), before pct.
    policy: Policy | None = None
    spf_aligned: bool = False
    dkim_aligned: tuple[str, ...] = field(default=())
    record: DmarcRecord | None = None
    reason: str = ""


def author_domain(message: bytes) -> str | None:
    """§6.6.1: the domain of the single From mailbox, or None when there is not exactly one."""
    fields = parse(message).get_all("From")
    if len(fields) != 1:
        return None
    authors = decode_field("From", fields[0].unfolded())
    if not isinstance(authors, tuple) or len(authors) != 1:
        return None
    (author,) = authors
    return author.domain if isinstance(author, Mailbox) and author.domain else None


def evaluate(
    message: bytes,
    spf: SpfResult | None,
    dkim: Sequence[DkimResult],
    lookup: DnsLookup,
    *,
    sample: float | None = None,
    suffixes: SuffixList | None = None,
) -> DmarcOutcome:
    """The DMARC outcome for ``message``; ``spf`` is the MAIL FROM identity's result
    (:func:`stack.auth.spf.check_host`, never a separate HELO check); ``sample`` in
    [0, 100) decides ``pct``."""
    from_domain = author_domain(message)
    if from_domain is None:
        return DmarcOutcome("permerror", "", reason="not exactly one From author")
    found = discover(from_domain, lookup, suffixes)
    if found.record is None:
        return DmarcOutcome(found.error or "none", from_domain, reason=found.reason)
    record = found.record
    # ``spf`` is the MAIL FROM identity's result; for a null reverse-path that identity is
    # postmaster@HELO (RFC 7208 2.4), which pyspf reports as "helo": it aligns all the same,
    # or no bounce from a domain with p=reject would ever arrive.
    spf_ok = (
        spf is not None and spf.passed and aligned(spf.domain, from_domain, record.aspf, suffixes)
    )
    dkim_ok = tuple(
        result.domain
        for result in dkim
        if result.passed and aligned(result.domain, from_domain, record.adkim, suffixes)
    )
    policy = record.sp if found.inherited else record.p
    if spf_ok or dkim_ok:
        return DmarcOutcome(
            "pass", from_domain, "none", policy, spf_ok, dkim_ok, record, "aligned pass"
        )
    roll = random.uniform(0, 100) if sample is None else sample
    disposition = policy if roll < record.pct else _MILDER[policy]
    reason = "no aligned pass" + ("" if roll < record.pct else f" (outside pct={record.pct})")
    return DmarcOutcome("fail", from_domain, disposition, policy, False, (), record, reason)


__all__ = [
    "POLICIES",
    "Discovery",
    "DmarcOutcome",
    "DmarcRecord",
    "RecordError",
    "aligned",
    "author_domain",
    "discover",
    "evaluate",
    "parse_record",
]
