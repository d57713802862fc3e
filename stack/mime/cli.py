"""``elsinore mime`` (descr, check) and ``elsinore make``: the codec on the command line."""

from __future__ import annotations

import json
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

import click

from stack.errors import ElsinoreError
from stack.mime.check import check
from stack.mime.compose import ENCODINGS, assemble, attachment, body_part, complete_header
from stack.mime.decode import decode_field
from stack.mime.encode import encode
from stack.mime.errors import ParseError
from stack.mime.fields import DateTime
from stack.mime.lossless import Message, parse
from stack.mime.model import Data, Header, Mail, Malformed
from stack.mime.sources import count_messages, iter_messages
from stack.progress import track


@click.group(name="mime")
def mime() -> None:
    """Read, check and describe RFC 5322/MIME messages.

    \b
    Examples:
      elsinore mime descr message.eml
      elsinore mime check ~/Maildir --json
    """


@mime.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per message.")
def descr(files: tuple[str, ...], as_json: bool) -> None:
    """Print the MIME tree of each message: types, encodings, charsets, sizes, file names.

    \b
    Example:
      $ elsinore mime descr report.eml
      multipart/mixed  7bit  14,201 B
        text/plain; charset=utf-8  quoted-printable  1,024 B
        application/pdf  base64  12,800 B  "report.pdf"
    """
    for source in iter_messages(files):
        tree = _describe(parse(source.data))
        if as_json:
            click.echo(json.dumps({"message": source.label, "tree": tree}))
        else:
            if len(files) > 1 or Path(files[0]).is_dir():
                click.echo(f"{source.label}:")
            _print_tree(tree, 0)


def _describe(node: Message) -> dict[str, object]:
    field = node.get("content-type")
    mail = Mail(tuple(_header(f.name, f.unfolded()) for f in node.fields if f.is_field), Data(b""))
    content_type = mail.content_type if field is not None else None
    children = [_describe(part) for part in node.parts]  # splitting finds structural defects
    if node.embedded is not None:
        children.append(_describe(node.embedded))
    entry: dict[str, object] = {
        "type": node.mime_type,
        "charset": content_type.param("charset") if content_type else None,
        "encoding": node.transfer_encoding,
        "size": len(node.body_bytes()),
        "filename": mail.filename,
        "defects": [str(defect) for defect in node.defects],
    }
    if children:
        entry["parts"] = children
    return entry


def _header(name: str, text: str) -> Header:
    return Header(name, decode_field(name, text))


def _print_tree(entry: dict[str, object], depth: int) -> None:
    label = str(entry["type"])
    if entry["charset"]:
        label += f"; charset={entry['charset']}"
    line = f"{'  ' * depth}{label}  {entry['encoding']}  {entry['size']:,} B"
    if entry["filename"]:
        line += f'  "{entry["filename"]}"'
    click.echo(line)
    for defect in entry["defects"]:  # type: ignore[attr-defined]
        click.echo(f"{'  ' * depth}  ! {defect}")
    for child in entry.get("parts", []):  # type: ignore[attr-defined]
        _print_tree(child, depth + 1)


@mime.command(name="check")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--strict",
    is_flag=True,
    help="Hold each message to RFC 5322/2045-2049 as a reader must (see above).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report instead of lines.")
@click.option("--quiet", "-q", is_flag=True, help="Print only failures and the summary.")
def check_command(paths: tuple[str, ...], strict: bool, as_json: bool, quiet: bool) -> None:
    """Check that every message parses losslessly, decodes, and round-trips.

    PATH may be a message file, a folder of them, a Maildir or an mbox file ('-' reads
    stdin).  Each message must pass three checks: bytes(parse(b)) == b; decode raises nothing
    (strict mode: nothing but a ParseError, which fails the message); and re-encoding then
    re-decoding gives an equal model.  Exits 1 if any message failed.

    --strict accepts what the RFCs say a reader MUST accept, RFC 5322's obsolete syntax
    (section 4) included, and LF or CRLF line endings.  It fails a message on the first of
    these, naming the field and the byte: a field value outside its grammar (an encoded-word
    inside a quoted parameter value too, RFC 2047 5); a line over 998 octets outside a binary
    body (RFC 5322 2.1.1); no From or no Date, or a second Date, From, Sender, Reply-To, To,
    Cc, Bcc, Message-ID, In-Reply-To, References or Subject (3.6); several authors in From
    and no Sender (3.6.2); Resent-* fields without Resent-From and Resent-Date (3.6.6); an
    encapsulated message with none of From, Subject, Date (RFC 2046
    5.2.1); 8-bit bytes in a 7bit (or unlabelled) or quoted-printable body (RFC 2045 2.7,
    6.7); an encoded multipart or a missing close delimiter.  The rules about whole messages
    also name their RFC section.  Without --strict all of these are defects, and only the
    three checks can fail.

    \b
    Examples:
      $ elsinore mime check --strict -q corpus/sample
      1000 passed, 0 failed
      $ elsinore mime check --strict message.eml
      message.eml: FAIL decode: Subject field, byte 64: line-too-long: RFC 5322 2.1.1: a line
      of more than 998 octets
      0 passed, 1 failed
      $ elsinore mime check --json inbox.mbox
    """
    results = []
    started = time.perf_counter()
    sources = iter_messages(paths)
    for source in track(sources, total=count_messages(paths), description="checking"):
        result = check(source.data, strict=strict, label=source.label)
        results.append(result)
        if not as_json and (not result.passed or not quiet):
            status = "ok" if result.passed else "FAIL " + "; ".join(result.failures)
            click.echo(f"{source.label}: {status}")
    passed = sum(1 for result in results if result.passed)
    failed = len(results) - passed
    if as_json:
        report = {
            "passed": passed,
            "failed": failed,
            "strict": strict,
            "seconds": round(time.perf_counter() - started, 3),
            "failures": [
                {"message": r.label, "failures": list(r.failures)} for r in results if not r.passed
            ],
        }
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(f"{passed} passed, {failed} failed")
    if failed:
        sys.exit(1)


@click.command(name="make")
@click.option("--from", "sender", help="The author, e.g. 'Ophelia <ophelia@castle.test>'.")
@click.option("--to", multiple=True, help="A recipient (repeatable, or comma-separated).")
@click.option("--cc", multiple=True, help="A copy recipient (repeatable).")
@click.option("--bcc", multiple=True, help="A blind copy recipient (repeatable).")
@click.option("--subject", "-s", help="The subject.")
@click.option("--date", help="The Date field (RFC 5322 form); default: now.")
@click.option("--field", "-f", "fields", multiple=True, help="Any field, as 'Name: value'.")
@click.option("--type", "body_type", default="text/plain", show_default=True,
              help="The body's MIME type.")  # fmt: skip
@click.option("--charset", help="The text body's charset; default: us-ascii or utf-8, "
              "whichever the bytes are (others must be named).")  # fmt: skip
@click.option(
    "--encoding",
    type=click.Choice(ENCODINGS),
    default="auto",
    show_default=True,
    help="The body's transfer encoding; auto picks the lightest valid one.",
)
@click.option("--attach", "-a", "attachments", multiple=True, type=click.Path(exists=True,
              dir_okay=False, path_type=Path), help="Attach a file (repeatable).")  # fmt: skip
@click.option("--no-body", is_flag=True, help="Do not read a body from stdin.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the message here instead of stdout.")  # fmt: skip
def make(
    sender: str | None,
    to: tuple[str, ...],
    cc: tuple[str, ...],
    bcc: tuple[str, ...],
    subject: str | None,
    date: str | None,
    fields: tuple[str, ...],
    body_type: str,
    charset: str | None,
    encoding: str,
    attachments: tuple[Path, ...],
    no_body: bool,
    output: Path | None,
) -> None:
    """Compose a message, as blaze's make does: fields from options, the body from stdin.

    The body is read as bytes and must be text in its charset (--charset; us-ascii and utf-8
    are recognised) unless --type says otherwise.  From is required; Date and Message-ID
    (at the From domain) are filled in.  The output is valid RFC 5322/MIME, or make says in
    one line what is missing.

    \b
    Examples:
      $ echo 'To be, or not to be' | elsinore make --from hamlet@castle.test \\
            --to ophelia@castle.test -s 'A question' > question.eml
      $ elsinore make --from hamlet@castle.test --charset iso-8859-1 < lettre.txt
      $ elsinore make --from hamlet@castle.test --to horatio@castle.test \\
            -a play.pdf --no-body -o play.eml
    """
    given: list[Header] = []
    if sender:
        given.append(_strict_header("From", sender))
    for name, values in (("To", to), ("Cc", cc), ("Bcc", bcc)):
        if values:
            given.append(_strict_header(name, ", ".join(values)))
    if subject is not None:
        given.append(Header("Subject", subject))
    if date is not None:
        given.append(_strict_header("Date", date))
    for spec in fields:
        name, colon, value = spec.partition(":")
        if not colon:
            raise ElsinoreError(f"--field wants 'Name: value', got {spec!r}")
        given.append(_strict_header(name.strip(), value.strip()))
    header = complete_header(given, _now(), uuid.uuid4().hex)

    data = b"" if no_body or sys.stdin.isatty() else sys.stdin.buffer.read()
    body = None if no_body and attachments else body_part(data, body_type, charset, encoding)
    files = [attachment(path.name, path.read_bytes()) for path in attachments]
    message = encode(assemble(header, body, files))
    if output is not None:
        output.write_bytes(message)
    else:
        sys.stdout.buffer.write(message)


def _strict_header(name: str, value: str) -> Header:
    try:
        parsed = decode_field(name, value, strict=True)
    except ParseError as error:
        raise ElsinoreError(f"{name}: {error.reason}") from None
    if isinstance(parsed, Malformed):  # pragma: no cover - strict mode never returns it
        raise ElsinoreError(f"{name}: cannot read {value!r}")
    return Header(name, parsed)


def _now() -> DateTime:
    now = datetime.now().astimezone()
    offset = now.utcoffset()
    zone = int(offset.total_seconds() // 60) if offset is not None else None
    return DateTime(now.year, now.month, now.day, now.hour, now.minute, now.second, zone)


__all__ = ["make", "mime"]
