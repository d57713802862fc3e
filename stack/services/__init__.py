"""The seed's five services on the hop (submission, signer, verifier, spamfilter, relay),
with the DNS primary and resolver beside them; :mod:`.build` makes each from ``stack.toml``."""
