"""Publish a TXT record (a DKIM key at ``SELECTOR._domainkey.DOMAIN``) by a TSIG-signed update.

This is how the seed deployment's signer put its key into the primary: one update that
replaces whatever TXT the selector had, signed with a key the primary's keys file lists.
The record is cut into 255-octet character-strings (RFC 1035 §3.3.14), which a 2048-bit RSA
key needs; verifiers join them (RFC 6376 §3.6.2.2).  :func:`zone_line` writes the same
strings as a master-file line, for whoever edits the zone by hand instead.
"""

from __future__ import annotations

import dns.exception
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.tsig
import dns.update
import dns.zone

from stack.auth.errors import KeyNameError, PublishError, RecordTextError
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


__all__ = [
    "publish",
    "publish_txt",
    "read_record",
    "selector_name",
    "txt_rdata",
    "update_message",
    "zone_line",
]
