"""The grammar of valid mail, as hypothesis strategies.

One description of valid mail drives every test that needs mail: property tests, corpus
generation and structure-aware fuzzing.  Modules follow the RFCs production by production:

- :mod:`harness.strategies.rfc5322`: lexical tokens, addresses, dates, message ids, unstructured
  text (RFC 5322, RFC 6532);
- :mod:`harness.strategies.mime`: parameters (RFC 2045, RFC 2231), content types and
  dispositions, transfer encodings, bodies and message trees (RFC 2046).

Use them in your own tests::

    from hypothesis import given
    from harness.strategies import messages

    @given(messages())
    def test_my_parser_reads_every_valid_message(mail): ...
"""

from harness.strategies.mime import (
    content_dispositions,
    data_parts,
    entities,
    messages,
    parameter_values,
    parameters,
    text_parts,
)
from harness.strategies.rfc5322 import (
    address_list_wire,
    address_lists,
    cfws,
    comment,
    date_times,
    display_names,
    domains,
    dot_atom_text,
    groups,
    local_parts,
    mailbox_lists,
    mailboxes,
    message_id_lists,
    message_ids,
    quoted_string,
    raw_values,
    unstructured_values,
)

__all__ = [
    "address_list_wire",
    "address_lists",
    "cfws",
    "comment",
    "content_dispositions",
    "data_parts",
    "date_times",
    "display_names",
    "domains",
    "dot_atom_text",
    "entities",
    "groups",
    "local_parts",
    "mailbox_lists",
    "mailboxes",
    "message_id_lists",
    "message_ids",
    "messages",
    "parameter_values",
    "parameters",
    "quoted_string",
    "raw_values",
    "text_parts",
    "unstructured_values",
]
