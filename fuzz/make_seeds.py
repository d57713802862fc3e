"""Regenerate the committed seed corpora in fuzz/corpora/ (run from the repository root).

    python fuzz/make_seeds.py            # reads the generated sample in corpus/sample

Seeds give libFuzzer a head start: it mutates real structure instead of discovering
``Content-Type: multipart/mixed; boundary=`` one byte at a time.  The choice is deterministic
and small (a few dozen files per family, well under 1 MB in all):

- message: the smallest generated message of each MIME shape in corpus/sample (the tree of
  types, transfer encodings, charsets, encoded-words), plus the cases of
  ../shared/notes/mime.md written by hand;
- address, date, params, unstructured, msg_id: field values of the same sample, one per
  lexical shape, plus the hand-written cases;

Real mail is not committed (DESIGN.md): the runner adds seeds chosen the same way from the
SpamAssassin corpus at run time (harness/fuzz_seeds.py).
- dns: queries, a zone transfer and signed and unsigned updates made with dnspython;
- backup: SpamOracle backups, one written by stack.spam.backup and the format's edges;
- snapshot: the SQLite store's snapshots of a few sets of counts;
- choices: random bytes, which hypothesis reads as choices (any bytes draw some message);
- auth: a message signed with the fixed test key of harness.strategies.auth (it verifies in
  the auth_message target), hand-written hostile signatures and ARC sets, and messages drawn
  by harness.strategies.auth.hostile_messages with fixed seeds.
"""

from __future__ import annotations

import hashlib
import random
import re
import sys
from pathlib import Path

import dns.message
import dns.rdatatype
import dns.tsigkeyring
import dns.update

from harness.fuzz_seeds import FIELD_FAMILIES, pick
from stack.mime.sources import iter_messages
from stack.spam.backup import write_backup
from stack.spam.counts import WordCounts
from stack.spam.stores.snapshot import encode_snapshot

FUZZ = Path(__file__).resolve().parent


# Hand-written cases: where other codecs broke (../shared/notes/mime.md) and RFC examples.
HAND_FIELDS = {
    "address": [
        ' "',
        " alice@example.org(<bob@example.org>",
        " a@b.example, c@d.example,",
        " (only a comment) <a@b.example>",
        " Undisclosed recipients:;",
        ' "Joe Q. Public" <john.q.public@example.com>',
        " Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
        " A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
        " =?utf-8?q?J=C3=B6rg?= <jorg@example.de>",
        ' "Giant; \\"Big\\" Box" <sysservices@example.net>',
        " jdoe@[192.0.2.1]",
        " <@route.example:user@example.org>",
        " user@example.org (Comment (nested (deeper)))",
        " Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example",
    ],
    "date": [
        " Fri, 21 Nov 1997 09:55:06 -0600",
        " Thu,\t13\n   Feb\n     1969\n 23:32\n   -0330 (Newfoundland Time)",
        " 21 Nov 97 09:55:06 GMT",
        " Tue, 1 Jul 2003 10:52:37 +0200",
        " Mon, 31 Dec 2001 23:59:60 EST",
        " Wed, 25 Nov 2026 12:59:03 +0000 (UTC)",
        " Sun, 06 Nov 1994 08:49:37 Z",
        " 1 Jan 2000 00:00 a",
    ],
    "params": [
        " text/plain; charset=us-ascii",
        ' multipart/mixed; boundary="----=_NextPart_000_0000"',
        " application/x-stuff; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A",
        " message/external-body; access-type=URL;"
        ' URL*0="ftp://"; URL*1="cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar"',
        " application/x-stuff; title*0*=us-ascii'en'This%20is%20even%20more%20;"
        ' title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2="isn\'t it!"',
        " text/plain; name*=",
        " text/plain;;;;;;;; charset=utf-8",
        ' attachment; filename="a \\"quoted\\" name.txt"',
        ' inline; filename=genome.jpeg; modification-date="Wed, 12 Feb 1997 16:29:51 -0500"',
        " binary/octet-stream",
        ' text/plain (a comment); charset=(another) "utf-8"',
    ],
    "unstructured": [
        " =?iso-8859-1?q?this=20is=20some=20text?=",
        " =?US-ASCII?Q?Keith_Moore?=",
        " =?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?="
        " =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=",
        " (=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)",
        " =?UTF-8*en?B?w6k=?=",
        " =?utf-8?q?=E2=82?= =?utf-8?q?=AC?=",
        " Re: [list] hello  world ",
        " =?unknown-8bit?q?=FF?=",
    ],
    "msg_id": [
        " <1234@local.machine.example>",
        " <[...]>",
        " <abcd.1234@local.machine.test> <3456@example.net>",
        " <a@[127.0.0.1]>",
        " (comment) <x@y> (more)",
        ' Your message of "Tue, 1 Jul" <msg@example.org>',
        ' <"quoted local"@example.org>',
    ],
}

HAND_MESSAGES = {
    "lf-only": b"From: a@b.example\nSubject: LF only\n\nbody\n",
    "mixed-line-ends": b"From: a@b.example\r\nTo: c@d.example\n\r\nline\rline\n",
    "empty-part": (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n--b\r\n\r\n--b--\r\n"
    ),
    "unknown-type": b"Content-Type: binary/octet-stream\r\n\r\n\x00\x01\xff",
    "nested-rfc822": (
        b"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n"
        b"Content-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\n"
        b"Content-Type: text/html\r\n\r\n<p>hi</p>\r\n--x--\r\n"
    ),
    "qp-soft-break": (
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\nsoft=\r\n break =\r\n\r\n"
    ),
    "base64-padding": b"Content-Transfer-Encoding: base64\r\n\r\nYQ=\r\n=YWJj\r\nYWI=\r\n",
    "folded-after-colon": b'Reply-To:\r\n "quoted, name" <a@b.example>\r\n\r\n',
    "rfc2231-name": (
        b"Content-Type: application/pdf; name*0*=utf-8''%E2%82%AC; name*1=.pdf\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf\r\n\r\n"
    ),
    "no-header": b"\r\njust a body",
    "header-only": b"Subject: no body",
    "8bit-header": "Subject: caf\u00e9 \xff\r\nFrom: J\u00f6rg <j@x.example>\r\n\r\n".encode(
        "latin-1"
    ),
}


def main() -> None:
    sample = FUZZ.parent / "corpus" / "sample"
    if not sample.is_dir():
        sys.exit(f"make_seeds: no generated sample at {sample} (elsinore corpus generate)")
    messages = [source.data for source in iter_messages([sample])]
    write("message", pick("message", messages), HAND_MESSAGES)
    for family in FIELD_FAMILIES:
        hand = {f"hand-{i:02d}": text.encode() for i, text in enumerate(HAND_FIELDS[family])}
        write(family, pick(family, messages), hand)
    write("dns", [], dns_seeds())
    write("backup", [], backup_seeds())
    write("snapshot", [], snapshot_seeds())
    rng = random.Random(5)
    choices = {f"random-{n:04d}": rng.randbytes(n) for n in (16, 64, 256, 1024, 4096)}
    write("choices", [], choices)
    write("auth", [], auth_seeds())


def auth_seeds() -> dict[str, bytes]:
    """Signed mail, and whole hostile signatures and ARC sets around it."""
    from hypothesis import given, seed, settings

    from harness.strategies.auth import MESSAGE, fixed_key, hostile_messages
    from stack.auth import dkim

    signed = dkim.sign(MESSAGE, "castle.test", "s1", fixed_key())
    arc_set = (
        b"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=castle.test; s=arc; t=1; b=AAAA\r\n"
        b"ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=castle.test; s=arc;"
        b" h=from:to:subject; bh=AAAA; b=AAAA\r\n"
        b"ARC-Authentication-Results: i=1; relay.castle.test; arc=none\r\n"
    )
    start = signed.index(b"b=", signed.index(b"bh=") + 3)
    seeds = {
        "signed": signed,
        "signed-bad-body": signed.replace(b"remembrance.", b"forgetting."),
        "signed-t-past-digit-limit": signed.replace(b"t=", b"t=" + b"9" * 5000, 1),
        "signed-short-ed25519-b": signed[:start] + b"b=AAAA" + signed[signed.index(b"\r\nFrom:") :],
        "signed-unicode-selector": signed.replace(b"s=s1;", "s=sél;".encode(), 1),
        "arc-set": arc_set + signed,
        "arc-set-unicode-selector": arc_set.replace(b"s=arc", "s=sél".encode()) + signed,
        "arc-set-cv-fail": arc_set.replace(b"cv=none", b"cv=fail") + signed,
    }
    drawn: list[bytes] = []

    @seed(13)
    @settings(database=None, max_examples=24, deadline=None)
    @given(hostile_messages(signed))
    def draw(message: bytes) -> None:
        drawn.append(message)

    draw()
    for index, message in enumerate(sorted(set(drawn), key=len)[:16]):
        seeds[f"drawn-{index:02d}"] = message
    return seeds


def dns_seeds() -> dict[str, bytes]:
    keyring = dns.tsigkeyring.from_text(
        {"signer": ("hmac-sha256", "c2lnbmVyLXNlY3JldC1mb3ItdGhlLXRlc3RzLW9ubHktMzJieXRlcw==")}
    )
    seeds: dict[str, bytes] = {}
    for name, rdtype in [
        ("castle.test.", "SOA"),
        ("castle.test.", "MX"),
        ("alias.castle.test.", "A"),
        ("mail.castle.test.", "AAAA"),
        ("long.castle.test.", "TXT"),
        ("big.castle.test.", "TXT"),
        ("x.sub.castle.test.", "A"),
        ("loop.castle.test.", "A"),
        ("missing.castle.test.", "ANY"),
        ("elsewhere.example.", "NS"),
    ]:
        seeds[f"query-{name}{rdtype}"] = dns.message.make_query(name, rdtype, id=1).to_wire()
    seeds["query-edns"] = dns.message.make_query(
        "big.castle.test.", "TXT", use_edns=0, payload=4096, want_dnssec=True, id=2
    ).to_wire()
    axfr = dns.message.make_query("castle.test.", dns.rdatatype.AXFR, id=3)
    axfr.use_tsig(keyring, keyname="signer")
    seeds["axfr-signed"] = axfr.to_wire()
    update = dns.update.UpdateMessage("castle.test.", id=4)
    update.add("new", 300, "TXT", '"v=DKIM1; k=ed25519; p=AAAA"')
    update.delete("www")
    seeds["update-unsigned"] = update.to_wire()
    update.use_tsig(keyring, keyname="signer")
    seeds["update-signed"] = update.to_wire()
    seeds["header-only"] = bytes(12)
    return seeds


def backup_seeds() -> dict[str, bytes]:
    """SpamOracle backups: one written by us, and the edges of the format by hand."""
    counts = WordCounts(3, 5, {"viagra": (3, 0), "meeting": (0, 4), "café": (1, 1)})
    return {
        "written": write_backup(counts),
        "latin-1-word": b"SPAMORACLE/1 1 1\ncaf\xe9 1 0\n",
        "crlf-and-blank-lines": b"SPAMORACLE/1 2 2\r\n\r\nword 1 2\r\n\r\n",
        "repeated-word": b"SPAMORACLE/1 4 4\nw 1 2\nw 3 0\n",
        "largest-count": b"SPAMORACLE/1 0 0\nw 9007199254740992 0\n",
        "not-a-count": b"SPAMORACLE/1 1 1\nword x 1\n",
        "not-a-backup": b"hello world\n",
    }


def snapshot_seeds() -> dict[str, bytes]:
    """Snapshots as the SQLite store writes them, each as the spam_snapshot target reads it."""
    sys.path.insert(0, str(FUZZ / "targets"))
    from spam_snapshot import join_blobs  # a script beside this one, not a package

    row_sets = {
        "empty": [],
        "one-word": [("viagra", 3, 0)],
        "shared-pairs": [("a", 1, 0), ("b", 1, 0), ("c", 0, 1), ("d", 2**40, 7)],
        "unicode": [("café", 1, 2), ("received:例え.jp", 0, 1), ("", 1, 1)],
    }
    seeds: dict[str, bytes] = {}
    for name, rows in row_sets.items():
        blobs = encode_snapshot(rows)
        assert blobs is not None, name
        seeds[name] = join_blobs(*blobs)
    return seeds


def write(family: str, picked: list[bytes], named: dict[str, bytes]) -> None:
    folder = FUZZ / "corpora" / family
    folder.mkdir(parents=True, exist_ok=True)
    # The seeds are replaced; what the last campaign learned (campaign/, harness/fuzz_corpus.py)
    # stays: the next merge prunes it against the new seeds.
    for old in folder.iterdir():
        if old.is_file():
            old.unlink()
    for data in picked:
        (folder / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)
    for name, data in named.items():
        (folder / re.sub(r"[^A-Za-z0-9_.-]", "_", name)).write_bytes(data)
    total = sum(path.stat().st_size for path in folder.iterdir() if path.is_file())
    print(f"{family}: {len(picked) + len(named)} seeds, {total:,} bytes")


if __name__ == "__main__":
    main()
