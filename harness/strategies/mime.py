"""MIME (RFC 2045, 2046, 2183, 2231) as hypothesis strategies: parameters, content types,
transfer encodings, bodies and whole message trees.

:func:`messages` draws :class:`~stack.mime.model.Mail` models that a conformant encoder must
be able to write and read back unchanged.  Every choice that makes a model *consistent*
(a Content-Type that matches the body, a transfer encoding the content can travel in, a charset
that can hold the text) is made here, so that a failing property is the codec's fault.
"""

from __future__ import annotations

import string

from hypothesis import strategies as st

from harness.strategies import rfc5322
from stack.mime import transfer
from stack.mime.fields import ContentDisposition, ContentType
from stack.mime.model import Data, Header, Mail, Nested, Parts, Text

#: RFC 2045 5.1 token characters.
TOKEN = string.ascii_letters + string.digits + "!#$%&'*+-.^_`{|}~"

TEXT_SUBTYPES = ["plain", "html", "enriched", "csv", "calendar"]
DATA_TYPES = [
    ("application", "octet-stream"),
    ("application", "pdf"),
    ("image", "png"),
    ("audio", "ogg"),
    ("binary", "octet-stream"),  # not a registered type: readers must not choke on it
]
MULTIPART_SUBTYPES = ["mixed", "alternative", "related", "digest", "report"]
NO_BOUNDARY = frozenset({"boundary"})
CHARSETS = ["us-ascii", "utf-8", "iso-8859-1", "iso-8859-15", "windows-1252", "koi8-r"]


def tokens() -> st.SearchStrategy[str]:
    """token (RFC 2045 5.1)."""
    return st.text(alphabet=TOKEN, min_size=1, max_size=12)


def parameter_names() -> st.SearchStrategy[str]:
    """Parameter names: lowercase tokens (names are case-insensitive, so the model keeps them
    lowercased), without ``*``, which RFC 2231 reserves."""
    return st.text(alphabet=string.ascii_lowercase + string.digits + "-_.", min_size=1, max_size=10)


def parameter_values() -> st.SearchStrategy[str]:
    """Parameter values: tokens, values that need quoting, long values (RFC 2231
    continuations) and non-ASCII values (RFC 2231 charsets)."""
    return st.one_of(
        tokens(),
        st.text(alphabet=rfc5322.VCHAR + " ", max_size=30),
        st.text(alphabet=TOKEN, min_size=70, max_size=200),
        st.text(max_size=40, alphabet=st.characters(exclude_categories=rfc5322.NOT_TEXT)),
    )


@st.composite
def parameters(
    draw: st.DrawFn, reserved: frozenset[str] = frozenset()
) -> tuple[tuple[str, str], ...]:
    """A parameter list with unique names (RFC 2045 5.1: a name must not repeat)."""
    names = draw(
        st.lists(parameter_names().filter(lambda n: n not in reserved), max_size=3, unique=True)
    )
    return tuple((name, draw(parameter_values())) for name in names)


@st.composite
def content_dispositions(draw: st.DrawFn) -> ContentDisposition:
    """Content-Disposition (RFC 2183) with a file name, often a hard one."""
    kind = draw(st.sampled_from(["attachment", "inline"]))
    params = draw(parameters(frozenset({"filename"})))
    filename = draw(st.one_of(st.none(), parameter_values()))
    if filename is not None:
        params = (("filename", filename), *params)
    return ContentDisposition(kind, params)


def _text_for(charset: str) -> st.SearchStrategy[str]:
    """Text the charset can hold, with ``\\n`` line breaks (the model's convention)."""
    if charset == "us-ascii":
        alphabet: st.SearchStrategy[str] = st.sampled_from(string.printable)
    elif charset == "utf-8":
        alphabet = st.characters(exclude_categories=rfc5322.NO_SURROGATES)
    else:

        def holds(char: str) -> bool:
            try:
                char.encode(charset)
            except UnicodeEncodeError:
                return False
            return True

        alphabet = st.characters(
            max_codepoint=0x4FF, exclude_categories=rfc5322.NO_SURROGATES
        ).filter(holds)
    return st.one_of(
        st.text(alphabet=alphabet, max_size=200),
        st.lists(st.text(alphabet=alphabet, max_size=90), max_size=6).map("\n".join),
        st.text(alphabet=string.ascii_letters + " =.\n\t", max_size=300),
    )


def _encodings_for(content: bytes, *, text: bool) -> st.SearchStrategy[str]:
    """The transfer encodings ``content`` may travel in (RFC 2045 2.7, 2.8, 6)."""
    allowed = ["quoted-printable", "base64", "binary"]
    if transfer.is_line_safe(content, eight_bit=False):
        allowed.append("7bit")
    if transfer.is_line_safe(content, eight_bit=True):
        allowed.append("8bit")
    return st.sampled_from(allowed)


@st.composite
def text_parts(draw: st.DrawFn) -> Mail:
    """A text/* leaf: charset, text, and a transfer encoding the content can travel in."""
    charset = draw(st.sampled_from(CHARSETS))
    text = draw(_text_for(charset))
    subtype = draw(st.sampled_from(TEXT_SUBTYPES))
    extra = draw(parameters(frozenset({"charset", "boundary"})))
    content_type = ContentType("text", subtype, (("charset", charset), *extra))
    content = text.replace("\n", "\r\n").encode(charset)
    encoding = draw(_encodings_for(content, text=True))
    headers = [Header("Content-Type", content_type)]
    headers.append(Header("Content-Transfer-Encoding", encoding))
    if draw(st.booleans()):
        headers.append(Header("Content-Disposition", draw(content_dispositions())))
    return Mail(tuple(headers), Text(text))


@st.composite
def data_parts(draw: st.DrawFn) -> Mail:
    """A non-text leaf, 8-bit and binary bodies included."""
    maintype, subtype = draw(st.sampled_from(DATA_TYPES))
    data = draw(st.binary(max_size=300))
    encoding = draw(_encodings_for(data, text=False))
    headers = (
        Header(
            "Content-Type",
            ContentType(maintype, subtype, draw(parameters(frozenset({"boundary"})))),
        ),
        Header("Content-Transfer-Encoding", encoding),
        Header("Content-Disposition", draw(content_dispositions())),
    )
    return Mail(headers, Data(data))


def _section(lines: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    """A preamble or epilogue: lines of ASCII text with CRLF breaks (RFC 2046 5.1.1)."""
    return st.lists(lines, max_size=3).map(lambda ls: "\r\n".join(ls).encode("ascii"))


@st.composite
def top_headers(draw: st.DrawFn) -> list[Header]:
    """The RFC 5322 3.6 fields of a message, in a shuffled order."""
    headers = [
        Header("From", draw(rfc5322.mailbox_lists())),
        Header("Date", draw(rfc5322.date_times())),
    ]
    optional = [
        Header("To", draw(rfc5322.address_lists())),
        Header("Cc", draw(rfc5322.address_lists())),
        Header("Reply-To", draw(rfc5322.address_lists())),
        Header("Subject", draw(rfc5322.unstructured_values())),
        Header("Message-ID", draw(rfc5322.message_ids())),
        Header("References", draw(rfc5322.message_id_lists())),
        Header("Comments", draw(rfc5322.unstructured_values())),
        Header("X-Elsinore-Test", draw(rfc5322.unstructured_values())),
        Header("Received", draw(rfc5322.raw_values())),
    ]
    chosen = draw(
        st.lists(st.sampled_from(range(len(optional))), unique=True, max_size=len(optional))
    )
    headers.extend(optional[index] for index in chosen)
    return list(draw(st.permutations(headers)))


def _leaf() -> st.SearchStrategy[Mail]:
    return st.one_of(text_parts(), text_parts(), data_parts())


@st.composite
def _multipart(draw: st.DrawFn, children: st.SearchStrategy[Mail]) -> Mail:
    subtype = draw(st.sampled_from(MULTIPART_SUBTYPES))
    params: tuple[tuple[str, str], ...] = ()
    if draw(st.booleans()):
        params = (("boundary", draw(st.text(alphabet=TOKEN, min_size=1, max_size=30))),)
    if subtype == "digest":
        # RFC 2046 5.1.5: a digest part without Content-Type is message/rfc822.
        parts = tuple(Mail((), Nested(draw(children))) for _ in range(draw(st.integers(1, 3))))
    else:
        parts = tuple(draw(st.lists(children, min_size=1, max_size=3)))
    preamble = draw(_section(st.text(alphabet=string.ascii_letters + " .", max_size=30)))
    epilogue = draw(_section(st.text(alphabet=string.ascii_letters + " .", max_size=30)))
    content_type = ContentType("multipart", subtype, params)
    return Mail((Header("Content-Type", content_type),), Parts(parts, preamble, epilogue))


@st.composite
def _nested(draw: st.DrawFn, children: st.SearchStrategy[Mail]) -> Mail:
    inner = draw(children)
    headers = [Header("Content-Type", ContentType("message", "rfc822", ()))]
    if draw(st.booleans()):
        headers.append(
            Header("Content-Transfer-Encoding", draw(st.sampled_from(["7bit", "8bit", "binary"])))
        )
    return Mail(tuple(headers), Nested(inner))


def entities() -> st.SearchStrategy[Mail]:
    """A MIME entity: a leaf, a multipart of entities, or an encapsulated message."""
    return st.recursive(
        _leaf(),
        lambda children: st.one_of(_multipart(children), _nested(children)),
        max_leaves=6,
    )


@st.composite
def messages(draw: st.DrawFn) -> Mail:
    """A whole message: RFC 5322 header fields, MIME-Version and a MIME entity."""
    entity = draw(entities())
    headers = draw(top_headers())
    headers.append(Header("MIME-Version", "1.0"))
    return Mail((*headers, *entity.headers), entity.body)
