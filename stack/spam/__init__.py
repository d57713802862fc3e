"""A Bayesian spam filter in the line of SpamOracle and spamtacus.

The parts, each in its own module:

- :mod:`~stack.spam.tokenizer` turns a message's bytes into tokens, through ``stack.mime``;
- :mod:`~stack.spam.counts` holds word counts in memory and builds training changes;
- :mod:`~stack.spam.store` keeps the counts in SQLite, :mod:`~stack.spam.redis_store` in
  Redis, both behind :class:`~stack.spam.store.WordStore`;
- :mod:`~stack.spam.graham` and :mod:`~stack.spam.fisher` are the two classifiers;
- :mod:`~stack.spam.filter` puts them together: bytes in, verdict out;
- :mod:`~stack.spam.backup` reads SpamOracle's ``spamoracle backup`` text format.

A filter only ever labels mail (``X-Spamtacus: yes|no|unknown``); it never drops any.
"""
