"""The RFC 7208 suite's zone data, served by our primary and read back through our resolver."""

from __future__ import annotations

import asyncio
from pathlib import Path

import dns.rdatatype
import pytest
from dns_testbed import ServerThread

from harness.suites.spf import Scenario, load_suite, scenario_zones
from stack.dns.addresses import Endpoint
from stack.dns.errors import ResolveError
from stack.dns.primary import Primary
from stack.dns.resolver import Resolver

pytestmark = pytest.mark.timeout(60)

#: Short, so the suite's TIMEOUT names cost little; names that should answer get a generous
#: timeout instead, so a loaded machine cannot turn a slow answer into a false TIMEOUT.
TIMEOUT_SECONDS = 0.15
ANSWER_SECONDS = 3.0


async def _check_scenario(scenario: Scenario, server: Endpoint) -> list[str]:
    """Every name and type of the scenario, asked through a resolver; the mismatches."""
    hasty = Resolver(forwarders=[server], timeout=TIMEOUT_SECONDS, retries=0)
    patient = Resolver(forwarders=[server], timeout=ANSWER_SECONDS, retries=1)
    problems = []
    for name in scenario.zonedata:
        served = scenario.served(name)
        for rdtype in sorted({*served, "TXT", "A"}):
            if "CNAME" in served and rdtype != "CNAME":
                continue  # chased to the target (or a loop): checked under the target's name
            resolver = hasty if scenario.times_out(name, rdtype) else patient
            try:
                answer = await resolver.resolve(name, rdtype)
            except ResolveError as exc:
                if not scenario.times_out(name, rdtype):
                    problems.append(f"{name} {rdtype}: {exc}")
                continue
            if scenario.times_out(name, rdtype):
                problems.append(f"{name} {rdtype}: answered, but the suite says TIMEOUT")
                continue
            # DNS names compare without case, and an RRset is a set: duplicates collapse.
            got = sorted({r.to_text().lower() for r in answer.rrset() or ()})
            want = sorted({r.to_text().lower() for r in served.get(rdtype, [])})
            if got != want:
                problems.append(f"{name} {rdtype}: got {got}, want {want}")
    return problems


def test_every_scenario_loads_with_its_tests(spf_suite: Path) -> None:
    scenarios = load_suite(spf_suite)
    assert len(scenarios) == 16
    assert sum(len(s.tests) for s in scenarios) > 150
    assert all(s.zonedata for s in scenarios)


def test_suite_zone_data_is_served_as_the_yaml_says(spf_suite: Path, servers: ServerThread) -> None:
    problems = []
    for scenario in load_suite(spf_suite):
        server = servers.serve(Primary(scenario_zones(scenario)).respond)
        problems += [
            f"{scenario.description}: {p}" for p in asyncio.run(_check_scenario(scenario, server))
        ]
    assert not problems, "\n".join(problems)


def test_spf_records_are_served_as_txt_too_unless_txt_is_listed(spf_suite: Path) -> None:
    (lookup,) = [s for s in load_suite(spf_suite) if s.description == "Record lookup"]
    assert [r.to_text() for r in lookup.served("spfonly.example.net")["SPF"]] == ['"v=spf1 -all"']
    assert "TXT" not in lookup.served("spfonly.example.net")  # "TXT: NONE" stops the copy
    assert lookup.served("both.example.net")["TXT"]
    assert lookup.times_out("spftimeout.example.net", "SPF")
    assert not lookup.times_out("spftimeout.example.net", "TXT")
    assert lookup.times_out("alltimeout.example.net", dns.rdatatype.to_text(dns.rdatatype.A))
