"""Elsinore's harness: the grammar of valid mail and everything it drives.

It generates RFC 5322/MIME mail, checks the codec's isomorphisms, compares other parsers,
fuzzes, builds corpora, trains and scores the filter and simulates a small internet on
loopback.  It imports ``stack``; ``stack`` never imports it.
"""
