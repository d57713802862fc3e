"""The grammar of valid mail as plain functions over a :class:`~harness.strategies.source.Source`.

- :mod:`~harness.strategies.grammar.rfc5322`: lexical tokens, phrases, unstructured text,
  dates, addresses, message ids and header folding (RFC 5322, its section 4 obsolete syntax,
  RFC 6532);
- :mod:`~harness.strategies.grammar.rfc2047`: encoded-words and the charsets text is written in;
- :mod:`~harness.strategies.grammar.mime`: parameters (RFC 2045, RFC 2231), content types and
  dispositions, transfer encodings, leaves, multiparts, message/rfc822, reports, whole
  messages.

Each production returns what it writes and, where the text means something, the value a
conformant reader must find in it, so that every driver gets a test oracle for free.
"""
