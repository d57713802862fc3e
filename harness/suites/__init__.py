"""Loaders for third-party conformance suites (read from ``../shared/conformance``).

Each module turns one suite's files into plain values (scenarios, their tests, the data they
need served) that tests and the harness's drivers share.
"""
