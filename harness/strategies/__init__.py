"""The grammar of valid mail, and hypothesis strategies over it.

One description of valid mail drives every test that needs mail: property tests, corpus
generation and (later) structure-aware fuzzing.  It follows the RFCs production by
production, in two layers:

- :mod:`harness.strategies.grammar`: the grammar itself, plain functions over a
  :class:`~harness.strategies.source.Source` of choices.  Each production returns what it
  writes and the value a conformant reader must find in it.  Two drivers run it:
  hypothesis (:func:`~harness.strategies.source.strategy`, for tests and shrinking) and a
  seeded fast driver (:class:`~harness.strategies.source.RandomSource`, for corpora);
- :mod:`harness.strategies.rfc5322` and :mod:`harness.strategies.mime`: the strategies, one
  per production.  ``*_wire`` strategies give ``(text, value)`` pairs; the others give values.

The productions covered:

============================  ===============================================================
RFC 5322 3.2 lexical tokens   ``wsp fws quoted_pair comment cfws optional_cfws atom_text
                              dot_atom_text utf8_atext quoted_string``
RFC 5322 3.2.5 / RFC 2047     ``phrase_wire unstructured_wire unstructured_values``
                              (encoded-words B and Q in UTF-8, ISO-8859-1/2/5/7/15,
                              windows-1252, KOI8-R, Shift_JIS, GB2312, Big5, EUC-KR)
RFC 5322 3.3 / 4.3            ``date_time_wire date_times`` (every zone form, obsolete ones)
RFC 5322 3.4 / 4.4 / 6532     ``local_part_wire domain_wire domain_literals mailbox_wire
                              address_list_wire`` and the values ``local_parts domains
                              display_names mailboxes groups address_lists mailbox_lists``
RFC 5322 3.6.4                ``msg_id_wire msg_id_list_wire message_ids message_id_lists``
RFC 2045 / 2231 / 2183        ``tokens parameter_values parameters content_type_wire
                              content_disposition_wire content_dispositions``
RFC 2046 / 6522 / 3464        ``text_parts data_parts entities wire_entities``
whole messages                ``messages`` (models) and ``wire_messages`` (bytes and model)
hostile values                ``hostile_text`` (what an attacker puts in a HELO, an address,
                              a selector: injections, controls, lone surrogates, long runs)
============================  ===============================================================

Use them in your own tests::

    from hypothesis import given
    from harness.strategies import wire_messages

    @given(wire_messages())
    def test_my_parser_reads_every_valid_message(message):
        assert my_parser(message.data).subject == message.mail.get("subject")

For bulk data, run the grammar without hypothesis::

    from harness.strategies.grammar.mime import message
    from harness.strategies.source import RandomSource

    entity = message(RandomSource("seed/0"))  # same bytes on every machine
"""

from harness.strategies.hostile import hostile_text
from harness.strategies.mime import (
    Entity,
    content_disposition_wire,
    content_dispositions,
    content_type_wire,
    data_parts,
    entities,
    messages,
    parameter_values,
    parameters,
    text_parts,
    tokens,
    wire_entities,
    wire_messages,
)
from harness.strategies.rfc5322 import (
    address_list_wire,
    address_lists,
    atom_text,
    cfws,
    comment,
    date_time_wire,
    date_times,
    display_names,
    domain_literals,
    domain_wire,
    domains,
    dot_atom_text,
    fws,
    groups,
    local_part_wire,
    local_parts,
    mailbox_lists,
    mailbox_wire,
    mailboxes,
    message_id_lists,
    message_ids,
    msg_id_list_wire,
    msg_id_wire,
    optional_cfws,
    phrase_wire,
    quoted_pair,
    quoted_string,
    raw_values,
    unstructured_values,
    unstructured_wire,
    utf8_atext,
    wsp,
)

__all__ = [
    "Entity",
    "address_list_wire",
    "address_lists",
    "atom_text",
    "cfws",
    "comment",
    "content_disposition_wire",
    "content_dispositions",
    "content_type_wire",
    "data_parts",
    "date_time_wire",
    "date_times",
    "display_names",
    "domain_literals",
    "domain_wire",
    "domains",
    "dot_atom_text",
    "entities",
    "fws",
    "groups",
    "hostile_text",
    "local_part_wire",
    "local_parts",
    "mailbox_lists",
    "mailbox_wire",
    "mailboxes",
    "message_id_lists",
    "message_ids",
    "messages",
    "msg_id_list_wire",
    "msg_id_wire",
    "optional_cfws",
    "parameter_values",
    "parameters",
    "phrase_wire",
    "quoted_pair",
    "quoted_string",
    "raw_values",
    "text_parts",
    "tokens",
    "unstructured_values",
    "unstructured_wire",
    "utf8_atext",
    "wire_entities",
    "wire_messages",
    "wsp",
]
