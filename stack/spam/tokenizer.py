"""A message's bytes to the tokens the classifiers count, through ``stack.mime``.

What becomes a token follows SpamBayes' published tokenizer experiments:

- **Body text** of every text part, decoded (transfer encoding, then charset) by
  ``stack.mime.decode``; HTML is reduced to its visible text (:mod:`stack.spam.html`).  Words
  are split on white space and lowercased but keep their punctuation (``free!!`` is not
  ``free``).  Words of 3 to 12 characters are tokens; a longer one becomes ``skip:<first
  letter> <length rounded down to 10>`` (SpamBayes found that base64 noise and long URLs are
  better summarised than memorised); shorter ones are dropped.
- **URLs**, from the text and from HTML attributes: ``url:<host>`` for the host and each
  parent domain, ``proto:<scheme>``, and ``url-path:<piece>`` for the first path pieces.
  Spam has to link somewhere; the link survives any rewording.
- **Header fields**, each token prefixed by its field so that ``subject:free`` and ``free``
  are different evidence: the words of Subject; names and domains of the address fields; the
  hosts and networks in Received (the relay path is hard to fake); X-Mailer and User-Agent
  whole.  Fields a filter upstream added (``X-Spam*``) are ignored: a filter must not learn
  from another filter's verdict.
- **Structure**: every part's MIME type, charset and transfer encoding, attachment names and
  extensions, and the kinds of defects the decoder found (spamware writes broken MIME).

The work per message is bounded: at most :data:`MAX_MESSAGE_BYTES` are decoded, at most
:data:`MAX_TEXT_CHARS` of body text are split, and at most :data:`MAX_TOKENS` tokens come out.
The one regular expression here (dotted names in Received, read from at most
:data:`MAX_HEADER_CHARS` of a field) is unambiguous, so it cannot backtrack; a hostile message
costs time linear in its (capped) size.

Tokens are returned with their repetitions (a word twice in the body is there twice, up to
twice): SpamOracle's classifier counts a word at most twice; the others take the set.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from stack.mime import lossless
from stack.mime.decode import decode_message
from stack.mime.fields import ContentType, Group, Mailbox
from stack.mime.model import Data, Mail, Malformed, Text
from stack.spam.html import strip_html

MAX_MESSAGE_BYTES = 512 * 1024
MAX_TEXT_CHARS = 128 * 1024
MAX_TOKENS = 5000
MAX_RECEIVED = 8
MAX_HEADER_CHARS = 400

# A dotted name (host or IPv4 address) in a Received field.  The label class excludes the
# dot, so every way through the pattern is unique and the match is linear.
_DOTTED = re.compile(r"(?<![\w.@-])[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){1,10}")

_ADDRESS_FIELDS = ("from", "reply-to", "sender", "to", "cc", "return-path")
# Words of these unstructured fields become tokens.  Measured by cross-validation on the
# training part of the SpamAssassin corpus: adding the words of every other field (List-*,
# Errors-To, Organization...) or a token per field name cost 2 points of spam caught, because
# a mailing list's dozen correlated fields outvote the body of the spam posted to it.
_WORD_FIELDS = frozenset({"subject"})
_WHOLE_FIELDS = ("x-mailer", "user-agent", "x-mimeole", "x-mailer-version")
_TRIM = "()[]<>;,\"'"
_READ = frozenset(
    {
        *_ADDRESS_FIELDS, *_WORD_FIELDS, *_WHOLE_FIELDS, "received", "mime-version",
        "content-type", "content-disposition", "content-transfer-encoding",
    }
)  # fmt: skip


def tokenize(data: bytes) -> list[str]:
    """The tokens of one message (never raises: undecodable input gives fewer tokens)."""
    head = data[:MAX_MESSAGE_BYTES]
    tokens: list[str] = []
    try:
        mail = _decode_read_fields(head)
    except Exception:  # lenient decode promises not to raise; a filter must survive if it does
        tokens.append("decode:failed")
        _text_tokens(head.decode("latin-1"), tokens)
        return _valid_unicode(tokens[:MAX_TOKENS])
    _header_tokens(mail, tokens)
    tokens.extend(sorted({f"defect:{defect.kind}" for defect in mail.all_defects()[:50]}))
    budget = MAX_TEXT_CHARS
    for part in mail.walk():
        budget = _part_tokens(part, tokens, budget)
    if len(data) > MAX_MESSAGE_BYTES:
        tokens.append("truncated:yes")
    return _valid_unicode(tokens[:MAX_TOKENS])


def _decode_read_fields(data: bytes) -> Mail:
    """``stack.mime`` decoding of the message with only the top-level fields the tokenizer
    reads: typed decoding of the others (dates, message-ids, every X- field) was a quarter of
    the decoder's time and none of the tokens."""
    message = lossless.parse(data)
    message.fields[:] = [
        field for field in message.fields if not field.is_field or field.name.lower() in _READ
    ]
    return decode_message(message)


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


def _header_tokens(mail: Mail, tokens: list[str]) -> None:
    received = 0
    for header in mail.headers:
        name = header.name.lower()
        value = header.value
        if name.startswith("x-spam"):  # another filter's verdict, or ours
            continue
        if isinstance(value, Malformed):
            tokens.append(f"malformed:{name}")
            continue
        if name == "received":
            received += 1
            if received <= MAX_RECEIVED and isinstance(value, str):
                _received_tokens(value, tokens)
        elif name in _ADDRESS_FIELDS:
            _address_tokens(name, value, tokens)
        elif name in _WHOLE_FIELDS and isinstance(value, str):
            whole = " ".join(value.lower().split())[:60]
            tokens.append(f"{name}:{whole}")
            tokens.extend(f"{name}:{word}" for word in whole.split()[:8])
        elif name in _WORD_FIELDS and isinstance(value, str):
            _field_words(name, value, tokens)
    tokens.append(f"received-count:{min(received, 10)}")


def _field_words(name: str, value: str, tokens: list[str]) -> None:
    for word in value[:MAX_HEADER_CHARS].lower().split():
        if len(word) <= 40:
            tokens.append(f"{name}:{word}")
        else:
            tokens.append(f"{name}:skip {len(word) // 10 * 10}")


def _address_tokens(name: str, value: object, tokens: list[str]) -> None:
    if isinstance(value, str):  # Return-Path and other raw fields: just the domain
        at = value.rfind("@")
        if at >= 0:
            domain = value[at + 1 :].strip(_TRIM + " \t").lower()
            tokens.append(f"{name}:domain:{domain[:60]}")
        else:
            tokens.append(f"{name}:no address")
        return
    if not isinstance(value, tuple):
        return
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
            tokens.extend(f"{name}:name:{word}" for word in mailbox.name.lower().split()[:6])
        else:
            tokens.append(f"{name}:no name")


def _received_tokens(value: str, tokens: list[str]) -> None:
    """Hosts and addresses of one Received field: ``received:<domain>`` for each host and
    its parent domains, ``received:<a.b.c>`` for each address and its /24 and /16."""
    for name in _DOTTED.findall(value[:MAX_HEADER_CHARS].lower()):
        parts = name.split(".")
        last = parts[-1]
        if last.isdigit():
            if len(parts) == 4 and all(part.isdigit() for part in parts):
                tokens.append(f"received:{parts[0]}.{parts[1]}.{parts[2]}")
                tokens.append(f"received:{parts[0]}.{parts[1]}")
        elif last.isalpha() and len(name) <= 80:
            for keep in range(2, min(len(parts), 4) + 1):
                tokens.append("received:" + ".".join(parts[-keep:]))


# -- parts and body text ----------------------------------------------------------------------


def _part_tokens(part: Mail, tokens: list[str], budget: int) -> int:
    content_type: ContentType = part.content_type
    mime_type = f"{content_type.maintype}/{content_type.subtype}".lower()
    tokens.append(f"content-type:{mime_type}")
    charset = content_type.param("charset")
    if charset:
        tokens.append(f"charset:{charset.lower()[:30]}")
    encoding = part.transfer_encoding.lower()
    if encoding not in ("7bit", "8bit"):
        tokens.append(f"encoding:{encoding[:20]}")
    filename = part.filename
    if filename:
        lowered = filename.lower()[:60]
        tokens.append(f"filename:{lowered}")
        dot = lowered.rfind(".")
        if dot >= 0:
            tokens.append(f"filename-ext:{lowered[dot:]}")
    body = part.body
    if isinstance(body, Data) and content_type.maintype.lower() != "text":
        return budget
    if budget <= 0:
        return 0
    if isinstance(body, Text):
        text = body.text[:budget]
    elif isinstance(body, Data):  # text in a charset Python does not know
        text = body.data[:budget].decode("latin-1")
        tokens.append("charset:unknown")
    else:
        return budget
    if content_type.subtype.lower() == "html":
        text, urls = strip_html(text)
        tokens.append(f"html:links:{min(len(urls), 10)}")
        _url_tokens(urls, tokens)
    _text_tokens(text, tokens)
    return budget - len(text)


def _text_tokens(text: str, tokens: list[str]) -> None:
    # Counting first means the per-word work is done once per distinct word, and in
    # comprehensions rather than statement by statement.
    words = Counter(text.lower().split())
    short = [word for word in words if 2 < len(word) < 13]
    tokens.extend(short)
    tokens.extend([word for word in short if words[word] > 1])
    urls: list[str] = []
    for word in [word for word in words if len(word) > 12]:
        if "://" in word or word.startswith("www."):
            urls.append(word.strip(_TRIM))
            continue
        if "@" in word:
            token = "email:" + word[word.rfind("@") + 1 :].strip(_TRIM + ".")[:60]
        else:
            token = f"skip:{word[0]} {len(word) // 10 * 10}"
        tokens.append(token)
        if words[word] > 1:
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
        host = host.rpartition("@")[2].partition(":")[0].strip(".")
        parts = host.split(".")
        if len(parts) == 4 and all(part.isdigit() for part in parts):
            tokens.append("url:ip")
            tokens.append("url:" + host)
        elif host:
            for keep in range(2, min(len(parts), 4) + 1):
                tokens.append("url:" + ".".join(parts[-keep:]))
        for piece in _pieces(path)[:4]:
            tokens.append(f"url-path:{piece}")


_PATH_SEPARATORS = str.maketrans(dict.fromkeys("?=&.-_%", "/"))


def _pieces(path: str) -> list[str]:
    path = path.translate(_PATH_SEPARATORS)
    return [piece[:30] for piece in path.split("/") if len(piece) > 2]
