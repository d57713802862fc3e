"""MIME (RFC 2045, 2046, 2183, 2231, 6522) as hypothesis strategies: parameters, content
types and dispositions, transfer encodings, bodies and whole message trees.

:func:`wire_messages` draws whole messages as bytes with the model a reader must decode from
them; :func:`messages` draws the models alone, for ``decode(encode(m)) == m``.  Both come from
the one grammar in :mod:`harness.strategies.grammar.mime`, which also writes the corpora
(``elsinore corpus generate``).
"""

from __future__ import annotations

from hypothesis import strategies as st

from harness.strategies import rfc5322
from harness.strategies.grammar import mime as grammar
from harness.strategies.grammar.mime import TOKEN, Entity
from harness.strategies.source import strategy
from stack.mime.fields import ContentDisposition, ContentType
from stack.mime.model import Mail

__all__ = [
    "TOKEN",
    "Entity",
    "content_disposition_wire",
    "content_dispositions",
    "content_type_wire",
    "data_parts",
    "entities",
    "messages",
    "parameter_values",
    "parameters",
    "text_parts",
    "tokens",
    "wire_entities",
    "wire_messages",
]


def tokens() -> st.SearchStrategy[str]:
    """token (RFC 2045 5.1)."""
    return strategy(grammar.token)


def parameter_values() -> st.SearchStrategy[str]:
    """Parameter values: tokens, values that need quoting, long values (RFC 2231
    continuations) and non-ASCII values (RFC 2231 charsets)."""
    return st.one_of(
        strategy(grammar.parameter_value),
        st.text(max_size=40, alphabet=st.characters(exclude_categories=rfc5322.NOT_TEXT)),
    )


@st.composite
def parameters(
    draw: st.DrawFn, reserved: frozenset[str] = frozenset()
) -> tuple[tuple[str, str], ...]:
    """A parameter list with unique names (RFC 2045 5.1: a name must not repeat)."""
    return draw(strategy(grammar.parameters, tuple(sorted(reserved))))


def content_type_wire() -> st.SearchStrategy[tuple[str, ContentType]]:
    """Content-Type (RFC 2045 5.1) as ``(wire, value)``: any case, comments, parameters as
    tokens, quoted-strings, RFC 2231 extended values and continuations in several charsets."""

    @st.composite
    def drawn(draw: st.DrawFn) -> tuple[str, ContentType]:
        maintype, subtype = draw(
            st.sampled_from([("text", "plain"), *grammar.DATA_TYPES, ("multipart", "mixed")])
        )
        value = ContentType(maintype, subtype, draw(parameters()))
        return draw(strategy(grammar.content_type, value)), value

    return drawn()


def content_disposition_wire() -> st.SearchStrategy[tuple[str, ContentDisposition]]:
    """Content-Disposition (RFC 2183) as ``(wire, value)``: a file name as a token, a
    quoted-string, an RFC 2231 extended value or continuations."""

    @st.composite
    def drawn(draw: st.DrawFn) -> tuple[str, ContentDisposition]:
        value = draw(content_dispositions())
        return draw(strategy(grammar.content_disposition, value)), value

    return drawn()


def content_dispositions() -> st.SearchStrategy[ContentDisposition]:
    """Content-Disposition (RFC 2183) values with a file name, often a hard one."""
    return strategy(grammar.disposition_value)


def wire_entities() -> st.SearchStrategy[Entity]:
    """A MIME entity as ``Entity(bytes, model)``: a leaf, a multipart or a message."""
    return strategy(grammar.entity)


def wire_messages() -> st.SearchStrategy[Entity]:
    """A whole message as ``Entity(bytes, model)``: trace fields, RFC 5322 fields in their
    varied wire forms, MIME-Version and a MIME tree (mixed, alternative, related, digest and
    report multiparts, nested message/rfc822, preambles and epilogues, every transfer
    encoding, 8-bit and binary bodies, many charsets)."""
    return strategy(grammar.message)


def text_parts() -> st.SearchStrategy[Mail]:
    """A text/* leaf: charset, text, and a transfer encoding the content can travel in."""
    return strategy(grammar.text_entity).map(lambda entity: entity.mail)


def data_parts() -> st.SearchStrategy[Mail]:
    """A non-text leaf, 8-bit and binary bodies included."""
    return strategy(grammar.data_entity).map(lambda entity: entity.mail)


def entities() -> st.SearchStrategy[Mail]:
    """A MIME entity model: a leaf, a multipart of entities, or an encapsulated message."""
    return wire_entities().map(lambda entity: entity.mail)


def messages() -> st.SearchStrategy[Mail]:
    """A whole message model: RFC 5322 header fields, MIME-Version and a MIME entity."""
    return wire_messages().map(lambda entity: entity.mail)
