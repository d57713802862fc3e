"""``elsinore mime`` (descr, check) and ``elsinore make``: the codec on the command line."""

from __future__ import annotations

import json
import mimetypes
import socket
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

import click

from stack.errors import ElsinoreError
from stack.mime import transfer
from stack.mime.check import check
from stack.mime.decode import decode_field
from stack.mime.encode import encode
from stack.mime.errors import ParseError
from stack.mime.fields import ContentDisposition, ContentType, DateTime, Mailbox, MessageId
from stack.mime.lossless import Message, parse
from stack.mime.model import Data, FieldValue, Header, Mail, Malformed, Parts, Text
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
@click.option("--strict", is_flag=True, help="Decode in strict mode: any defect fails.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report instead of lines.")
@click.option("--quiet", "-q", is_flag=True, help="Print only failures and the summary.")
def check_command(paths: tuple[str, ...], strict: bool, as_json: bool, quiet: bool) -> None:
    """Check that every message parses losslessly, decodes, and round-trips.

    PATH may be a message file, a folder of them, a Maildir or an mbox file ('-' reads
    stdin).  Each message must pass three checks: bytes(parse(b)) == b; decode raises nothing
    (strict mode: nothing but a ParseError, which fails the message); and re-encoding then
    re-decoding gives an equal model.  Exits 1 if any message failed.

    \b
    Examples:
      $ elsinore mime check corpus/sample
      1000 passed, 0 failed
      $ elsinore mime check --strict --json inbox.mbox
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
@click.option(
    "--encoding",
    type=click.Choice(["auto", "7bit", "8bit", "quoted-printable", "base64"]),
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
    encoding: str,
    attachments: tuple[Path, ...],
    no_body: bool,
    output: Path | None,
) -> None:
    """Compose a message, as blaze's make does: fields from options, the body from stdin.

    \b
    Examples:
      $ echo 'To be, or not to be' | elsinore make --from hamlet@castle.test \\
            --to ophelia@castle.test -s 'A question' > question.eml
      $ elsinore make --from hamlet@castle.test --to horatio@castle.test \\
            -a play.pdf --no-body -o play.eml
    """
    headers: list[Header] = []
    if sender:
        headers.append(Header("From", _addresses("From", sender)))
    for name, values in (("To", to), ("Cc", cc), ("Bcc", bcc)):
        if values:
            headers.append(Header(name, _addresses(name, ", ".join(values))))
    if subject is not None:
        headers.append(Header("Subject", subject))
    headers.append(Header("Date", _date(date)))
    headers.append(Header("Message-ID", _message_id(sender)))
    for spec in fields:
        name, colon, value = spec.partition(":")
        if not colon:
            raise ElsinoreError(f"--field wants 'Name: value', got {spec!r}")
        headers.append(_strict_header(name.strip(), value.strip()))
    headers.append(Header("MIME-Version", "1.0"))

    text = "" if no_body or sys.stdin.isatty() else sys.stdin.buffer.read().decode("utf-8")
    body_part = _text_part(text, body_type, encoding)
    if attachments:
        parts = [body_part] if (text or not no_body) else []
        parts.extend(_attachment(path) for path in attachments)
        content_type = ContentType("multipart", "mixed", ())
        mail = Mail((*headers, Header("Content-Type", content_type)), Parts(tuple(parts)))
    else:
        mail = Mail((*headers, *body_part.headers), body_part.body)
    data = encode(mail)
    if output is not None:
        output.write_bytes(data)
    else:
        sys.stdout.buffer.write(data)


def _strict_header(name: str, value: str) -> Header:
    try:
        parsed = decode_field(name, value, strict=True)
    except ParseError as error:
        raise ElsinoreError(f"{name}: {error.reason}") from None
    if isinstance(parsed, Malformed):  # pragma: no cover - strict mode never returns it
        raise ElsinoreError(f"{name}: cannot read {value!r}")
    return Header(name, parsed)


def _addresses(name: str, text: str) -> FieldValue:
    return _strict_header(name, text).value


def _date(text: str | None) -> DateTime:
    if text is not None:
        value = _strict_header("Date", text).value
        assert isinstance(value, DateTime)
        return value
    now = datetime.now().astimezone()
    offset = now.utcoffset()
    zone = int(offset.total_seconds() // 60) if offset is not None else None
    return DateTime(now.year, now.month, now.day, now.hour, now.minute, now.second, zone)


def _message_id(sender: str | None) -> MessageId:
    domain = socket.getfqdn() or "localhost"
    if sender:
        addresses = _addresses("From", sender)
        if isinstance(addresses, tuple) and addresses and isinstance(addresses[0], Mailbox):
            domain = addresses[0].domain
    return MessageId(uuid.uuid4().hex, domain)


def _text_part(text: str, body_type: str, encoding: str) -> Mail:
    maintype, _, subtype = body_type.partition("/")
    if not subtype:
        raise ElsinoreError(f"--type wants type/subtype, got {body_type!r}")
    charset = "us-ascii" if text.isascii() else "utf-8"
    content_type = ContentType(maintype.lower(), subtype.lower(), (("charset", charset),))
    content = text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    if encoding == "auto":
        encoding = transfer.choose(content, text=True)
    elif encoding in ("7bit", "8bit") and not transfer.is_line_safe(
        content, eight_bit=encoding == "8bit"
    ):
        raise ElsinoreError(f"the body cannot travel as {encoding}; try --encoding auto")
    headers = [Header("Content-Type", content_type)]
    if encoding != "7bit":
        headers.append(Header("Content-Transfer-Encoding", encoding))
    return Mail(tuple(headers), Text(text.replace("\r\n", "\n")))


def _attachment(path: Path) -> Mail:
    guessed, _ = mimetypes.guess_type(path.name)
    maintype, _, subtype = (guessed or "application/octet-stream").partition("/")
    data = path.read_bytes()
    disposition = ContentDisposition("attachment", (("filename", path.name),))
    content_type = ContentType(maintype, subtype, ())
    if maintype == "message":
        # RFC 2046 5.2.1: a message/rfc822 body may only be 7bit, 8bit or binary.
        encoding = transfer.choose(data, text=True)
        if encoding in ("7bit", "8bit"):
            return Mail(
                (
                    Header("Content-Type", content_type),
                    Header("Content-Disposition", disposition),
                    Header("Content-Transfer-Encoding", encoding),
                ),
                Data(data),
            )
        content_type = ContentType("application", "octet-stream", ())
    if maintype == "text":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            charset = "us-ascii" if text.isascii() else "utf-8"
            content_type = ContentType(maintype, subtype, (("charset", charset),))
            content = text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
            return Mail(
                (
                    Header("Content-Type", content_type),
                    Header("Content-Disposition", disposition),
                    Header("Content-Transfer-Encoding", transfer.choose(content, text=True)),
                ),
                Text(text.replace("\r\n", "\n")),
            )
    return Mail(
        (
            Header("Content-Type", content_type),
            Header("Content-Disposition", disposition),
            Header("Content-Transfer-Encoding", "base64"),
        ),
        Data(data),
    )


__all__ = ["make", "mime"]
