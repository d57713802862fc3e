"""Publish a TXT record (a DKIM key at ``SELECTOR._domainkey.DOMAIN``) by a TSIG-signed update.

This is how the seed deployment's signer put its key into the primary: one update that
replaces whatever TXT the selector had, signed with a key the primary's keys file lists.
The record is cut into 255-octet character-strings (RFC 1035 §3.3.14), which a 2048-bit RSA
key needs; verifiers join them (RFC 6376 §3.6.2.2).  :func:`zone_line` writes the same
strings as a master-file line, for whoever edits the zone by hand instead.

:func:`publish_missing` is what the signer does at start: it asks the primary itself (not a
cache, which could still hold the answer from before the last update) which of its keys are
there, and adds only the missing ones, in one update whose prerequisites make a second
signer racing it fail rather than add the same record twice.
"""

from __future__ import annotations

from collections.abc import Sequence

import dkim.util
import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rdtypes.txtbase
import dns.tsig
import dns.update
import dns.zone

from stack.auth.errors import KeyNameError, PublishError, RecordTextError, UpdateRefusedError
from stack.dns.addresses import Endpoint
from stack.errors import excerpt

_STRING_LIMIT = 255
_LDH = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


def selector_name(selector: str, domain: str) -> dns.name.Name:
    """RFC 6376 §3.6.2.1: where a selector's key record lives.

    Raises :class:`KeyNameError` unless the selector is one or more labels (§3.1 lets it
    hold dots) and the domain two or more (§3.5's domain-name), each label letters, digits
    and inner hyphens (RFC 5321's sub-domain; a U-label counts as its A-label).
    """
    selector_labels = _labels(selector, "selector")
    domain_labels = _labels(domain, "domain")
    if len(domain_labels) < 2:
        raise KeyNameError(f"domain {excerpt(domain)}: a signing domain has at least two labels")
    try:
        return dns.name.Name([*selector_labels, b"_domainkey", *domain_labels, b""])
    except dns.name.NameTooLong:
        name = excerpt(f"{selector}._domainkey.{domain}")
        raise KeyNameError(f"{name}: longer than a DNS name's 255 octets") from None


def _labels(text: str, what: str) -> tuple[bytes, ...]:
    try:
        labels = dns.name.from_text(text.removesuffix("."), origin=None).labels
    except (dns.exception.DNSException, UnicodeError) as exc:
        raise KeyNameError(f"{what} {excerpt(text)}: not a DNS name ({exc})") from None
    for label in labels:
        word = label.decode("ascii", "replace")
        if not label or not _LDH.issuperset(word) or word.startswith("-") or word.endswith("-"):
            reason = "letters, digits and inner hyphens only (RFC 5321 sub-domain)"
            raise KeyNameError(f"{what} {excerpt(text)}: label {word!r} is not {reason}")
    return labels


def txt_rdata(record: str, name: dns.name.Name | None = None) -> dns.rdtypes.ANY.TXT.TXT:
    """``record`` as TXT rdata, cut into 255-octet strings; :class:`RecordTextError`, naming
    the record (at ``name`` when given), unless it is ASCII.

    A key record is a tag list of ASCII characters (RFC 6376 §3.2, as is DMARC's): a
    character beyond is a typo or a file read in the wrong encoding, never something a
    verifier would read.
    """
    if not record.isascii():
        position = next(index for index, char in enumerate(record) if not char.isascii())
        where = f"TXT record for {name}" if name is not None else "TXT record"
        raise RecordTextError(
            f"{where}: character {position} is not ASCII (a DKIM key record is ASCII, RFC 6376"
            f" §3.2): {excerpt(record)}"
        )
    data = record.encode("ascii")
    strings = tuple(data[i : i + _STRING_LIMIT] for i in range(0, len(data), _STRING_LIMIT))
    return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, strings or (b"",))


def zone_line(name: dns.name.Name, record: str) -> str:
    """``record`` as a master-file TXT line (RFC 1035 §5.1) that any zone holding ``name``
    takes as it is: the owner absolute, no TTL (the zone's ``$TTL`` applies), one quoted
    string of at most 255 octets per line, as ``opendkim-genkey`` writes them."""
    strings = txt_rdata(record, name).to_text().split('" "')
    body = '"\n\t  "'.join(strings)
    return f"{name.to_text()}\tIN\tTXT\t( {body} )\n"


def read_record(text: str, selector: str, domain: str) -> str:
    """The record text of a ``PREFIX.txt``: a :func:`zone_line` (or ``opendkim-genkey``'s,
    relative to ``domain``) for the selector, or the bare ``v=DKIM1; ...`` text."""
    if text.lstrip().startswith("v="):
        return text.strip()
    name = selector_name(selector, domain)
    origin = dns.name.Name(name.labels[name.labels.index(b"_domainkey") + 1 :])
    try:
        zone = dns.zone.from_text(f"$TTL 300\n{text}", origin, relativize=False, check_origin=False)
    except (dns.exception.DNSException, ValueError) as exc:
        raise KeyNameError(f"not a TXT record line: {exc}") from None
    found = zone.get_rdataset(name, dns.rdatatype.TXT)
    if found is None or len(found) != 1:
        owners = ", ".join(str(owner) for owner in zone.nodes) or "no name"
        raise KeyNameError(f"expected one TXT record for {name}, found records for {owners}")
    (rdata,) = found
    return b"".join(rdata.strings).decode("ascii", "replace")


def update_message(
    zone: str, name: dns.name.Name, record: str, key: dns.tsig.Key, ttl: int = 300
) -> dns.update.UpdateMessage:
    """The update that replaces the TXT records at ``name`` with ``record`` (sans-IO);
    :class:`RecordTextError` unless ``record`` is ASCII."""
    message = dns.update.UpdateMessage(zone, keyring=key)
    message.replace(name, ttl, txt_rdata(record, name))
    return message


def publish_txt(
    server: Endpoint,
    zone: str,
    name: dns.name.Name,
    record: str,
    key: dns.tsig.Key,
    *,
    ttl: int = 300,
    timeout: float = 5.0,
) -> None:
    """Send the update over TCP; raises :class:`PublishError` unless the primary says NOERROR,
    and :class:`RecordTextError`, before sending anything, unless ``record`` is ASCII.

    DMARC policies (``_dmarc.DOMAIN``) are published the same way as keys."""
    message = update_message(zone, name, record, key, ttl)
    try:
        response = dns.query.tcp(message, server.host, timeout=timeout, port=server.port)
    except (dns.exception.DNSException, OSError) as exc:
        raise PublishError(f"publishing {name} via {server}: {exc}") from None
    if response.rcode() != dns.rcode.NOERROR:
        rcode = dns.rcode.to_text(response.rcode())
        raise PublishError(f"{server} refused the update of {zone}: {rcode}")


def publish(
    server: Endpoint,
    zone: str,
    selector: str,
    domain: str,
    record: str,
    key: dns.tsig.Key,
    *,
    ttl: int = 300,
    timeout: float = 5.0,
) -> None:
    """Publish a DKIM key record for ``selector`` of ``domain``."""
    name = selector_name(selector, domain)
    publish_txt(server, zone, name, record, key, ttl=ttl, timeout=timeout)


#: How many times :func:`publish_missing` asks again when another signer changed one of its
#: selectors between the question and the update (the update's prerequisite failed).
RACE_ATTEMPTS = 2


async def publish_missing(
    primary: Endpoint,
    key: dns.tsig.Key,
    domain: str,
    records: Sequence[tuple[str, str]],
    *,
    zone: str | None = None,
    ttl: int = 300,
    timeout: float = 5.0,
) -> list[dns.name.Name]:
    """Make sure each ``(selector, record)`` is published for ``domain``; return the names it
    had to add (none when all were there).

    ``primary`` is asked directly, over TCP (an RSA record does not fit 512 octets of UDP).
    A selector holding our key, in whatever text, counts as published; one holding another
    key is a :class:`PublishError`: replacing it would break the signatures in flight made
    with that key, and two keys at one selector leave verifiers to pick one (RFC 6376
    §3.6.2.2), so the user chooses a new selector or removes the old record.  The missing
    ones go in one update signed with ``key``, each with the prerequisite that the name has
    no TXT record yet (RFC 2136 §2.4.3); when another signer got there first (YXRRSET), the
    question is asked again.  A refusal is an :class:`UpdateRefusedError` with the rcode
    (NOTAUTH for a TSIG key the primary does not take); no answer, a :class:`PublishError`.

    A coroutine, since the signer calls it from the event loop that, in a one-process stack,
    also runs the primary: a blocking query there would wait for an answer it prevents.
    """
    wanted = [(selector_name(selector, domain), record) for selector, record in records]
    for name, record in wanted:
        txt_rdata(record, name)  # RecordTextError before anything is sent
    for _ in range(RACE_ATTEMPTS):
        missing = [
            (name, record)
            for name, record in wanted
            if not await _holds(primary, name, record, timeout)
        ]
        if not missing:
            return []
        update = missing_update(zone or domain, missing, key, ttl)
        response = await _exchange(update, primary, timeout, f"the update of {update.origin}")
        if response.rcode() == dns.rcode.NOERROR:
            return [name for name, _ in missing]
        if response.rcode() != dns.rcode.YXRRSET:
            raise _refused(primary, f"the update of {update.origin}", response.rcode())
    raise _refused(primary, "the update (another signer keeps changing it)", dns.rcode.YXRRSET)


def missing_update(
    zone: str, missing: Sequence[tuple[dns.name.Name, str]], key: dns.tsig.Key, ttl: int = 300
) -> dns.update.UpdateMessage:
    """The update that adds each record at its name, if the name has no TXT yet (sans-IO)."""
    message = dns.update.UpdateMessage(zone, keyring=key)
    for name, record in missing:
        message.absent(name, dns.rdatatype.TXT)
        message.add(name, ttl, txt_rdata(record, name))
    return message


def same_key(published: bytes, record: str) -> bool:
    """Whether a published key record carries ``record``'s key: the same ``k=`` (rsa when
    absent, §3.6.1) and ``p=``, whatever the spacing or the other tags."""
    theirs, ours = _key_tags(published), _key_tags(record.encode("ascii"))
    return theirs is not None and theirs == ours and bool(ours[1])


def _key_tags(text: bytes) -> tuple[bytes, bytes] | None:
    try:
        tags = dkim.util.parse_tag_value(text)
    except dkim.util.InvalidTagValueList:
        return None
    algorithm = tags.get(b"k", b"rsa").strip().lower()
    return algorithm, b"".join(tags.get(b"p", b"").split())


async def _holds(primary: Endpoint, name: dns.name.Name, record: str, timeout: float) -> bool:
    query = dns.message.make_query(name, dns.rdatatype.TXT)
    query.flags &= ~dns.flags.RD  # the primary's own data, not what it would look up
    response = await _exchange(query, primary, timeout, f"the query for {name}")
    if response.rcode() == dns.rcode.NXDOMAIN:
        return False
    if response.rcode() != dns.rcode.NOERROR:
        raise _refused(primary, f"the query for {name}", response.rcode())
    found = response.get_rrset(response.answer, name, dns.rdataclass.IN, dns.rdatatype.TXT)
    texts = [
        b"".join(rdata.strings)
        for rdata in found or ()
        if isinstance(rdata, dns.rdtypes.txtbase.TXTBase)
    ]
    if any(same_key(text, record) for text in texts):
        return True
    if texts:
        raise PublishError(
            f"{name.to_text(omit_final_dot=True)} holds another key"
            f" ({excerpt(texts[0].decode('ascii', 'replace'))}): choose a new selector, or"
            " remove that record"
        )
    return False


async def _exchange(
    message: dns.message.Message, primary: Endpoint, timeout: float, what: str
) -> dns.message.Message:
    try:
        return await dns.asyncquery.tcp(message, primary.host, timeout=timeout, port=primary.port)
    except dns.tsig.PeerError as exc:
        # The primary answered NOTAUTH with a TSIG error (RFC 8945 §5.3.2), which dnspython
        # raises as it checks the reply's signature: the key name or the secret is wrong.
        reason = f"{primary} refused {what}: NOTAUTH ({type(exc).__name__}: {exc})"
        raise UpdateRefusedError(reason, dns.rcode.NOTAUTH) from None
    except (dns.exception.DNSException, OSError) as exc:
        raise PublishError(f"{what} via {primary}: {exc or type(exc).__name__}") from None


def _refused(primary: Endpoint, what: str, rcode: dns.rcode.Rcode) -> UpdateRefusedError:
    return UpdateRefusedError(f"{primary} refused {what}: {dns.rcode.to_text(rcode)}", rcode)


__all__ = [
    "RACE_ATTEMPTS",
    "missing_update",
    "publish",
    "publish_missing",
    "publish_txt",
    "read_record",
    "same_key",
    "selector_name",
    "txt_rdata",
    "update_message",
    "zone_line",
]
