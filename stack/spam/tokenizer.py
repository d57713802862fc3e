"""A message's bytes to the tokens the classifiers count, through ``stack.mime``.

What becomes a token follows SpamBayes' published tokenizer experiments:

- **Body text** of every text part, decoded (transfer encoding by :mod:`stack.mime.transfer`,
  then charset as :func:`stack.mime.model.body_codec` reads it); HTML is reduced to its visible
  text (:mod:`stack.spam.html`).  Words are split on white space and lowercased but keep their
  punctuation (``free!!`` is not ``free``).  Words of 3 to 12 characters are tokens; a longer
  one becomes ``skip:<first letter> <length rounded down to 10>`` (SpamBayes found that base64
  noise and long URLs are better summarised than memorised); shorter ones are dropped.
- **URLs**, from the text and from HTML attributes: ``url:<host>`` for the host and each
  parent domain, ``proto:<scheme>``, and ``url-path:<piece>`` for the first path pieces.
  Spam has to link somewhere; the link survives any rewording.
- **Header fields**, each token prefixed by its field so that ``subject:free`` and ``free``
  are different evidence: the words of Subject; names and domains of the address fields; the
  hosts and networks in Received (the relay path is hard to fake); X-Mailer and User-Agent
  whole.  Fields a filter upstream added (``X-Spam*``) are ignored: a filter must not learn
  from another filter's verdict.
- **Structure**: every part's MIME type, charset and transfer encoding, attachment names and
  extensions, and the kinds of defects the parser and the decoders found (spamware writes
  broken MIME).

The tokenizer works on the lossless tree (:func:`stack.mime.lossless.parse`), not on a fully
decoded message: only the fields it reads are decoded, each by its own field codec (address
lists, encoded-words, MIME parameters), and only text parts' bodies.  An attachment costs its
MIME type and name, never its base64.

The work per message is bounded: at most :data:`MAX_MESSAGE_BYTES` are parsed, at most
:data:`MAX_TEXT_CHARS` of body text are split, and at most :data:`MAX_TOKENS` tokens come out.
Received fields (the first :data:`MAX_RECEIVED`, :data:`MAX_HEADER_CHARS` of each) are split
into words, and the one pattern here checks a word whole for a dotted name; it has one way
through any input.  A hostile message costs time linear in its (capped) size.  The caches
(Received and URL hosts, short address fields) have fixed sizes and short keys, so a stream of
hostile messages cannot grow them.

``tokenize(data, repeats=True)`` keeps a body word's repetitions, up to two, for SpamOracle's
classifier; training and Fisher read each token once and ask for ``repeats=False``.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TypeVar

from stack.mime import lossless, transfer
from stack.mime.errors import Defect, ParseError
from stack.mime.fields import ContentDisposition, ContentType, Group, Mailbox
from stack.mime.fields.address import decode_address_list
from stack.mime.fields.encoded_word import decode_unstructured
from stack.mime.fields.params import decode_content_disposition, decode_content_type
from stack.mime.model import body_codec
from stack.spam.html import strip_html

MAX_MESSAGE_BYTES = 512 * 1024
MAX_TEXT_CHARS = 128 * 1024
MAX_TOKENS = 5000
MAX_RECEIVED = 8
MAX_HEADER_CHARS = 400

_ADDRESS_FIELDS = ("from", "reply-to", "sender", "to", "cc", "return-path")
# Words of these unstructured fields become tokens.  Measured by cross-validation on the
# training part of the SpamAssassin corpus: adding the words of every other field (List-*,
# Errors-To, Organization...) or a token per field name cost 2 points of spam caught, because
# a mailing list's dozen correlated fields outvote the body of the spam posted to it.
_WORD_FIELDS = ("subject",)
_WHOLE_FIELDS = ("x-mailer", "user-agent", "x-mimeole", "x-mailer-version")
_TRIM = "()[]<>;,\"'"


def tokenize(data: bytes, *, repeats: bool = True) -> list[str]:
    """The tokens of one message.  Never raises: unreadable input gives fewer tokens.

    With ``repeats``, a body word (or long-word token) that occurs more than once is there
    twice, for SpamOracle's classifier; without, each is there once, which is all that
    training and Fisher read, and spares counting the words.
    """
    # Nothing here catches a broad Exception: the parser and the lenient address reader never
    # raise, each other field decoder's ParseError and the body codecs' UnicodeError are
    # caught where they are raised, and anything else is a bug, for the fuzz target and the
    # tests to see.
    tokens: list[str] = []
    message = lossless.parse(data[:MAX_MESSAGE_BYTES])
    _header_tokens(message, tokens)
    defects: list[Defect] = []
    budget = MAX_TEXT_CHARS
    for part in message.walk():
        budget = _part_tokens(part, tokens, budget, defects, repeats)
    defects += message.all_defects()
    tokens.extend(sorted({f"defect:{defect.kind}" for defect in defects[:50]}))
    if len(data) > MAX_MESSAGE_BYTES:
        tokens.append("truncated:yes")
    return _valid_unicode(tokens[:MAX_TOKENS])


def _valid_unicode(tokens: list[str]) -> list[str]:
    """Replace the lone surrogates that ``surrogateescape`` leaves for undecodable bytes, so
    that every token can be stored as UTF-8 (checked once per message, fixed rarely)."""
    joined = "\n".join(tokens)
    if joined.isascii():
        return tokens
    try:
        joined.encode("utf-8")
    except UnicodeEncodeError:
        return [
            token.encode("utf-8", "surrogateescape").decode("utf-8", "replace") for token in tokens
        ]
    return tokens


# -- header fields ----------------------------------------------------------------------------


def _header_tokens(message: lossless.Message, tokens: list[str]) -> None:
    received: list[bytes] = []
    for field in message.fields:
        name = field.name.lower()
        reader = _FIELD_READERS.get(name)
        if reader is not None:
            reader(name, field, tokens)
        elif name == "received":
            received.append(field.raw_value[:MAX_HEADER_CHARS])
    _received_tokens(received[:MAX_RECEIVED], tokens)
    tokens.append(f"received-count:{min(len(received), 10)}")


def _unstructured(field: lossless.Field) -> str:
    """An unstructured field's text, its RFC 2047 encoded-words decoded."""
    text = field.unfolded()
    return decode_unstructured(text, []) if "=?" in text else text.strip(" \t")


def _word_field(name: str, field: lossless.Field, tokens: list[str]) -> None:
    for word in _unstructured(field)[:MAX_HEADER_CHARS].lower().split():
        if len(word) <= 40:
            tokens.append(f"{name}:{word}")
        else:
            tokens.append(f"{name}:skip {len(word) // 10 * 10}")


def _whole_field(name: str, field: lossless.Field, tokens: list[str]) -> None:
    whole = " ".join(_unstructured(field)[:MAX_HEADER_CHARS].lower().split())[:60]
    tokens.append(f"{name}:{whole}")
    tokens.extend([f"{name}:{word}" for word in whole.split()[:8]])


def _address_field(name: str, field: lossless.Field, tokens: list[str]) -> None:
    raw_value = field.raw_value
    if len(raw_value) <= MAX_CACHED_FIELD_BYTES:
        tokens += _cached_address_tokens(name, raw_value)
    else:  # a long field would hold cache memory hostage
        tokens += _address_tokens(name, raw_value)


def _address_tokens(name: str, raw_value: bytes) -> tuple[str, ...]:
    """The tokens of one address field."""
    tokens: list[str] = []
    text = lossless.unfold(raw_value).replace("\r", " ")  # a bare CR reads as the space it shows as
    if name == "return-path":  # a path, not an address list: just its domain
        at = text.rfind("@")
        if at >= 0:
            domain = text[at + 1 :].strip(_TRIM + " \t").lower()
            return (f"{name}:domain:{domain[:60]}",)
        return (f"{name}:no address",)
    # No ParseError to catch: the lenient reader skips an address it cannot read and keeps
    # the rest of the list, so an unreadable field is one whose count is 0.
    value = decode_address_list(text, [])
    mailboxes: list[Mailbox] = []
    for address in value[:20]:
        if isinstance(address, Mailbox):
            mailboxes.append(address)
        elif isinstance(address, Group):
            tokens.append(f"{name}:group")
            mailboxes.extend(address.members[:20])
    tokens.append(f"{name}:count:{min(len(mailboxes), 5)}")
    for mailbox in mailboxes[:5]:
        domain = (mailbox.domain or "").lower()
        tokens.append(f"{name}:domain:{domain[:60]}")
        tokens.append(f"{name}:local:{(mailbox.local or '').lower()[:40]}")
        if mailbox.name:
            tokens.extend([f"{name}:name:{word}" for word in mailbox.name.lower().split()[:6]])
        else:
            tokens.append(f"{name}:no name")
    return tuple(tokens)


# A mailing list's Sender and Return-Path, and the reader's own To, recur in most of the mail
# a filter sees: their tokens are cached by the field's bytes, when the field is short.
MAX_CACHED_FIELD_BYTES = 512
_cached_address_tokens = functools.lru_cache(maxsize=4096)(_address_tokens)

_FieldReader = Callable[[str, lossless.Field, list[str]], None]
_FIELD_READERS: dict[str, _FieldReader] = {
    **dict.fromkeys(_ADDRESS_FIELDS, _address_field),
    **dict.fromkeys(_WORD_FIELDS, _word_field),
    **dict.fromkeys(_WHOLE_FIELDS, _whole_field),
}


def _received_tokens(fields: list[bytes], tokens: list[str]) -> None:
    """Hosts and addresses of the first Received fields: ``received:<domain>`` for each host
    and its parent domains, ``received:<a.b.c>`` for each address and its /24 and /16.  Each
    name is read once, however many fields repeat it."""
    dot = ord(".")  # an int: ``b"." in word`` costs a caught TypeError in CPython 3.11
    words = b" ".join(fields).translate(_RECEIVED_WORDS).split()
    # Only a word with a dot can be a name, one word in seven: it is picked out before the
    # repeats are dropped, so that the other words are never hashed.  dict.fromkeys, not set:
    # the tokens come out in the same order in every process.
    for word in dict.fromkeys([word for word in words if dot in word]):
        tokens += _received_name_tokens(word)


@functools.lru_cache(maxsize=16384)
def _received_name_tokens(name: bytes) -> tuple[str, ...]:
    """The tokens of one word with a dot in it, if it is a dotted name; cached, since a mail
    server's own hosts are in most of the messages it receives."""
    if not _DOTTED.fullmatch(name):
        return ()
    parts = name.decode("ascii").split(".")
    if parts[-1].isdigit():
        if len(parts) == 4 and all(part.isdigit() and len(part) <= 3 for part in parts):
            return (f"received:{parts[0]}.{parts[1]}.{parts[2]}", f"received:{parts[0]}.{parts[1]}")
        return ()
    if parts[-1].isalpha() and len(name) <= 80:
        return tuple(
            "received:" + ".".join(parts[-keep:]) for keep in range(2, min(len(parts), 4) + 1)
        )
    return ()


# Received is read as words of bytes, split at white space and at these (no host name holds
# any of them); a dotted name is a whole word.  The label class excludes the dot, so the
# pattern has one way through any input.
_SEPARATORS = b"()[]<>{};,=\"'/:!?#$%&*+|~`^\t\r\n"
# One pass lowercases (as bytes.lower does: ASCII letters only) and blanks the separators.
_RECEIVED_WORDS = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ" + _SEPARATORS,
    b"abcdefghijklmnopqrstuvwxyz" + b" " * len(_SEPARATORS),
)
_DOTTED = re.compile(rb"[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})+")


# -- parts and body text ----------------------------------------------------------------------


def _part_tokens(
    part: lossless.Message, tokens: list[str], budget: int, defects: list[Defect], repeats: bool
) -> int:
    mime_type = part.mime_type
    tokens.append(f"content-type:{mime_type}")
    maintype, _, subtype = mime_type.partition("/")
    if maintype == "multipart" and part.multipart is not None:
        return budget  # its parts follow in the walk
    if part.embedded is not None:
        return budget  # so does the message it holds
    encoding = part.transfer_encoding
    if encoding not in ("7bit", "8bit"):
        tokens.append(f"encoding:{encoding[:20]}")
    charset = _filename_tokens(part, tokens)
    if charset:
        tokens.append(f"charset:{charset.lower()[:30]}")
    if maintype != "text" or budget <= 0:
        return budget
    data = transfer.decode(part.body, encoding, defects)
    text = _body_text(data, body_codec(charset), budget)
    if text is None:  # text in a charset Python does not know, or cannot read leniently
        text = data[:budget].decode("latin-1")
        tokens.append("charset:unknown")
    if subtype == "html":
        text, urls = strip_html(text)
        tokens.append(f"html:links:{min(len(urls), 10)}")
        _url_tokens(urls, tokens)
    _text_tokens(text, tokens, repeats)
    return budget - len(text)


def _body_text(data: bytes, codec: str | None, budget: int) -> str | None:
    """At most ``budget`` characters of ``data`` in ``codec``, bad bytes replaced; None when
    there is no codec or it refuses to replace (``idna`` and ``undefined`` raise, and
    ``punycode`` ignores the error handler)."""
    if codec is None:
        return None
    try:
        return data[: 4 * budget].decode(codec, "replace")[:budget]
    except UnicodeError:
        return None


def _filename_tokens(part: lossless.Message, tokens: list[str]) -> str | None:
    """Tokens for the part's file name (Content-Disposition ``filename``, else Content-Type
    ``name``); returns the Content-Type ``charset`` parameter, read on the way."""
    charset = filename = None
    field = part.get("content-type")
    if field is not None and ord("=") in field.raw_value:  # no parameter: no charset, no name
        raw_value = field.raw_value
        if len(raw_value) <= MAX_CACHED_FIELD_BYTES:
            charset, filename = _cached_charset_and_name(raw_value)
        else:  # as for address fields, a long value would hold cache memory hostage
            charset, filename = _charset_and_name(raw_value)
    disposition = part.get("content-disposition")
    if disposition is not None and b"name" in disposition.raw_value.lower():
        parsed = _parameters(disposition, decode_content_disposition)
        if parsed is not None:
            filename = parsed.param("filename") or filename
    if filename:
        lowered = filename.lower()[:60]
        tokens.append(f"filename:{lowered}")
        dot = lowered.rfind(".")
        if dot >= 0:
            tokens.append(f"filename-ext:{lowered[dot:]}")
    return charset


def _charset_and_name(raw_value: bytes) -> tuple[str | None, str | None]:
    """The ``charset`` and ``name`` parameters of a Content-Type value read leniently (both
    None when it is unreadable)."""
    try:
        content_type = decode_content_type(lossless.unfold(raw_value), [])
    except ParseError:
        return None, None
    return content_type.param("charset"), content_type.param("name")


# Most text parts say one of a few Content-Types (``text/plain; charset="iso-8859-1"``), and
# reading their parameters with the full RFC 2045/2231 grammar is a tenth of a part's cost.
_cached_charset_and_name = functools.lru_cache(maxsize=4096)(_charset_and_name)

_Parameters = TypeVar("_Parameters", ContentType, ContentDisposition)


def _parameters(
    field: lossless.Field, decoder: Callable[[str, list[Defect]], _Parameters]
) -> _Parameters | None:
    """The field read leniently by ``decoder``; None when it is unreadable."""
    try:
        return decoder(field.unfolded(), [])
    except ParseError:
        return None


def _text_tokens(text: str, tokens: list[str], repeats: bool) -> None:
    # The per-word work is done once per distinct word, in comprehensions rather than
    # statement by statement.  Without repeats, dict.fromkeys (ordered, so the tokens come
    # out in the same order every run) is cheaper than counting.
    words = text.lower().split()
    counts = Counter(words) if repeats else None
    distinct = counts if counts is not None else dict.fromkeys(words)
    short = [word for word in distinct if 2 < len(word) < 13]
    tokens += short
    if counts is not None and len(counts) < len(words):  # some word is repeated
        tokens += [word for word in short if counts[word] > 1]
    urls: list[str] = []
    for word in [word for word in distinct if len(word) > 12]:
        if "://" in word or word.startswith("www."):
            urls.append(word.strip(_TRIM))
            continue
        if "@" in word:
            token = "email:" + word[word.rfind("@") + 1 :].strip(_TRIM + ".")[:60]
        else:
            token = f"skip:{word[0]} {len(word) // 10 * 10}"
        tokens.append(token)
        if counts is not None and counts[word] > 1:
            tokens.append(token)
    _url_tokens(urls, tokens)


def _url_tokens(urls: Iterable[str], tokens: list[str]) -> None:
    for count, found in enumerate(urls):
        if count >= 50:
            break
        url = found.lower()[:300]
        scheme, sep, rest = url.partition("://")
        if not sep:
            if url.startswith("mailto:"):
                tokens.append("proto:mailto")
                at = url.rfind("@")
                if at >= 0:
                    tokens.append("email:" + url[at + 1 :].strip(_TRIM + ".")[:60])
                continue
            scheme, rest = ("http", url) if url.startswith("www.") else ("relative", url)
        tokens.append(f"proto:{scheme[:10]}")
        host, _, path = rest.partition("/")
        tokens += _url_host_tokens(host)
        for piece in _pieces(path)[:4]:
            tokens.append(f"url-path:{piece}")


@functools.lru_cache(maxsize=16384)
def _url_host_tokens(host: str) -> tuple[str, ...]:
    """``url:`` tokens for a URL's host part (cached: links repeat within and across
    messages)."""
    host = host.rpartition("@")[2].partition(":")[0].strip(".")
    parts = host.split(".")
    if len(parts) == 4 and all(part.isdigit() for part in parts):
        return ("url:ip", "url:" + host)
    if host:
        return tuple("url:" + ".".join(parts[-keep:]) for keep in range(2, min(len(parts), 4) + 1))
    return ()


_PATH_SEPARATORS = str.maketrans(dict.fromkeys("?=&.-_%", "/"))


def _pieces(path: str) -> list[str]:
    path = path.translate(_PATH_SEPARATORS)
    return [piece[:30] for piece in path.split("/") if len(piece) > 2]


def clear_caches() -> None:
    """Empty every cache above, as in a process that has read no mail yet: a benchmark
    warms them up on other mail, so that no message is timed on the cache it filled."""
    for cache in (
        _cached_address_tokens,
        _cached_charset_and_name,
        _received_name_tokens,
        _url_host_tokens,
    ):
        cache.cache_clear()
