"""A Bayesian spam filter in the line of SpamOracle and spamtacus.

The parts, each in its own module:

- :mod:`~stack.spam.tokenizer` turns a message's bytes into tokens, through ``stack.mime``
  (:mod:`~stack.spam.html` reduces HTML to text and links);
- :mod:`~stack.spam.counts` holds word counts in memory and builds training changes;
- :mod:`~stack.spam.stores` keeps the counts in SQLite, in Redis or in memory, behind one
  interface, :class:`~stack.spam.stores.WordStore`; :mod:`~stack.spam.backup` reads and
  writes SpamOracle's ``spamoracle backup`` text format;
- :mod:`~stack.spam.graham` (SpamOracle's) and :mod:`~stack.spam.fisher` (Robinson–Fisher)
  are the classifiers on counts, on the base in :mod:`~stack.spam.classifier` and the
  per-token memo in :mod:`~stack.spam.memo`;
- :mod:`~stack.spam.regression` is the on-line logistic regression on the hashed byte
  4-grams of :mod:`~stack.spam.ngrams`, trained beside the counts in the same store, and
  :mod:`~stack.spam.combined` adds it to Fisher's clues (``fisher-lr``, the default);
- :mod:`~stack.spam.calibration` sets each database's cutoffs, and fisher-lr's weight, from
  held-out scores of the mail that trained it;
- :mod:`~stack.spam.training` is a whole training run (``spam train``, and the simulated
  world's filter);
- :mod:`~stack.spam.filter` puts them together: bytes in, :class:`~stack.spam.verdict.Score`
  out, on one core or several;
- :mod:`~stack.spam.mark` prepends ``X-Spamtacus`` without touching any other byte;
- :mod:`~stack.spam.evaluation` and :mod:`~stack.spam.report` measure a filter on known mail;
- :mod:`~stack.spam.cli` is ``elsinore spam``.

A filter only ever labels mail (``X-Spamtacus: yes|no|unknown``); it never drops any.
"""
