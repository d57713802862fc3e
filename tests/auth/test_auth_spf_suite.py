"""The RFC 7208 test suite (all 203 tests) through our own DNS server and resolver.

Each scenario's zone data is served by our primary on loopback; :func:`check_host` asks it
through a :class:`~stack.dns.resolver.Resolver`, never the machine's DNS.  A result passes
when it is in the test's accepted set.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dns_testbed import ServerThread

from harness.suites.spf import SpfTest, load_suite, scenario_zones
from stack.auth.lookup import resolver_lookup
from stack.auth.spf import DEFAULT_EXPLANATION, SpfResult, check_host
from stack.dns.primary import Primary

pytestmark = pytest.mark.timeout(120)

#: The suite's TIMEOUT names never answer, so the per-try timeout (two tries) bounds the run; the
#: names that do answer come from loopback in well under a millisecond.
TRY_SECONDS = 0.5
SUITE_SIZE = 203


def run_suite(spf_suite: Path, servers: ServerThread) -> list[tuple[str, SpfTest, SpfResult]]:
    outcomes = []
    for scenario in load_suite(spf_suite):
        server = servers.serve(Primary(scenario_zones(scenario)).respond)
        with resolver_lookup(server, timeout=TRY_SECONDS, retries=1) as lookup:
            for test in scenario.tests:
                result = check_host(test.host, test.mailfrom, test.helo, lookup)
                outcomes.append((scenario.description, test, result))
    return outcomes


def _explanation(test: SpfTest) -> str:
    """The suite writes ``DEFAULT`` for the receiver's own explanation (§6.2)."""
    return DEFAULT_EXPLANATION if test.explanation == "DEFAULT" else str(test.explanation)


def _problem(test: SpfTest, result: SpfResult) -> str | None:
    if result.result not in test.results:
        return f"got {result.result}, want one of {test.results} ({test.spec})"
    if test.explanation is not None and result.explanation != _explanation(test):
        return f"explanation {result.explanation!r}, want {_explanation(test)!r} ({test.spec})"
    return None


def test_every_suite_result_is_in_its_accepted_set(
    spf_suite: Path, servers: ServerThread, capsys: pytest.CaptureFixture[str]
) -> None:
    outcomes = run_suite(spf_suite, servers)
    problems = [
        f"{scenario} / {test.name}: {problem}"
        for scenario, test, result in outcomes
        if (problem := _problem(test, result)) is not None
    ]
    with capsys.disabled():
        passed = len(outcomes) - len(problems)
        print(f"\nRFC 7208 suite: {passed}/{len(outcomes)} passed through our DNS server")
    assert len(outcomes) == SUITE_SIZE
    assert not problems, "\n".join(problems)
