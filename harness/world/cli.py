"""``elsinore loop``: start the simulated internet, run scenarios in it, show every hop.

The world is started once for all the scenarios asked for (all of them by default), in a
folder under ``--out``, and torn down at the end whatever happened.  For each message a
scenario looked at, every hop it passed is shown with the fields it added, and every message
is written as ``.eml`` as each hop received it, byte for byte: the suffix of the delivered
message below that hop's fields (see :mod:`harness.world.hops`).
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import click
from rich.console import Console

from harness.world.net import DEFAULT_NETWORK
from harness.world.scenarios import Scenario, ScenarioError, ScenarioResult, builtin, load, run
from harness.world.world import World

_ENTRY = re.compile(r"\s*([a-z-]+)=([\w.-]+)", re.IGNORECASE)
_TAG = re.compile(r"\b([ivdsac]|cv)=([^;\s]+)")


def summary(name: str, value: str) -> str:
    """What a field says, in a few words: the results of a check, the tags of a signature."""
    lowered = name.lower()
    if lowered in ("authentication-results", "arc-authentication-results"):
        said = []
        for entry in value.split(";")[1:]:  # the first part is the authserv-id
            found = _ENTRY.match(entry)
            if found is not None:
                method = found.group(1) + ("(helo)" if "smtp.helo" in entry else "")
                said.append(f"{method}={found.group(2)}")
        return " ".join(said)
    if lowered == "received-spf":
        return value.split(None, 1)[0] if value else ""
    if lowered in ("x-spamtacus", "x-spamtacus-score"):
        return value
    if lowered in ("dkim-signature", "arc-seal", "arc-message-signature"):
        wanted = {"d", "s", "a", "i", "cv"}
        return " ".join(f"{k}={v}" for k, v in _TAG.findall(value) if k in wanted)
    return ""


def _choose(names: tuple[str, ...]) -> list[Scenario]:
    shipped = builtin()
    if not names:
        return list(shipped.values())
    chosen = []
    for name in names:
        if name.endswith(".toml"):
            chosen.append(load(Path(name)))
        elif name in shipped:
            chosen.append(shipped[name])
        else:
            raise click.BadParameter(
                f"no scenario {name!r} (shipped: {', '.join(shipped)}; or give a .toml file)",
                param_hint="SCENARIO",
            )
    return chosen


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9@._-]+", "_", text)[:80]


def write_messages(result: ScenarioResult, out: Path) -> list[Path]:
    """Every observed message as each hop received it, and as delivered, under ``out``."""
    folder = out / _file_name(result.scenario.name)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for seen in result.observed:
        stem = f"step{seen.step}-{_file_name(seen.mailbox)}"
        for number, hop in enumerate(seen.hops, 1):
            path = folder / f"{stem}-hop{number}-{_file_name(hop.by)}.eml"
            path.write_bytes(hop.received)
            written.append(path)
        delivered = folder / f"{stem}-delivered-{seen.folder}.eml"
        delivered.write_bytes(seen.data)
        written.append(delivered)
    return written


def _show(console: Console, result: ScenarioResult) -> None:
    mark = "[green]passed[/]" if result.passed else "[red]FAILED[/]"
    console.rule(f"{result.scenario.name}: {mark} ({result.seconds:.1f} s)")
    console.print(result.scenario.title)
    for number, step in enumerate(result.scenario.steps, 1):
        console.print(f"[bold]{number}.[/] {step.say}")
        for check in (c for c in result.checks if c.step == number):
            sign = "[green]✓[/]" if check.passed else "[red]✗[/]"
            detail = "" if check.passed or not check.detail else f"  [dim]({check.detail})[/]"
            console.print(f"   {sign} {check.what}{detail}", highlight=False)
        for seen in (s for s in result.observed if s.step == number):
            console.print(f"   [bold]{seen.mailbox} {seen.folder}[/], the hops in order:")
            for index, hop in enumerate(seen.hops, 1):
                console.print(
                    f"   {index}. {hop.by}  [dim]from {hop.came_from}[/]", highlight=False
                )
                for name, value in hop.added:
                    said = summary(name, value)
                    console.print(
                        f"        + {name}" + (f": {said}" if said else ""), highlight=False
                    )
    if result.error:
        console.print(f"[red]stopped: {result.error}[/]", highlight=False)


async def _run_all(world: World, scenarios: list[Scenario]) -> list[ScenarioResult]:
    await world.start()
    try:
        return [await run(world, scenario) for scenario in scenarios]
    finally:
        await world.stop()


@click.command("loop")
@click.argument("scenarios", nargs=-1)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write every message, as seen at every hop, here (default: a new folder, named at "
    "the end).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option(
    "--network",
    default=DEFAULT_NETWORK,
    show_default=True,
    help="The /16 of 127.0.0.0/8 the world's hosts take their addresses from.",
)
def loop(scenarios: tuple[str, ...], out: Path | None, as_json: bool, network: str) -> None:
    """Run the seed's Gmail loop, and the ways it fails, in a simulated internet.

    Starts a small internet on loopback (a root DNS server and the .test TLD; castle.test,
    ours, run exactly as `elsinore stack up` runs it; bigmail.test, Gmail-like; outpost.test,
    Outlook-like), runs the SCENARIOS (default: all), prints each hop of each message with
    the fields it added and each check's result, and tears everything down.  Exits 0 only
    when every expectation held.

    \b
    Examples:
      elsinore loop
      elsinore loop recap missing-ptr --out loop-out/
      elsinore loop --json | jq '.scenarios[] | {name, passed}'
    """
    try:
        chosen = _choose(scenarios)
    except ScenarioError as exc:
        raise click.UsageError(str(exc)) from None
    out = out if out is not None else Path(tempfile.mkdtemp(prefix="elsinore-loop-"))
    console = Console(stderr=as_json)
    world = World(out / "world", network)
    if world.note:
        console.print(f"loop: {world.note}", highlight=False)
    started = time.monotonic()
    with console.status("starting the world: DNS, castle.test, bigmail.test, outpost.test"):
        results = asyncio.run(_run_all(world, chosen))
    elapsed = time.monotonic() - started
    for result in results:
        write_messages(result, out)
    passed = sum(result.passed for result in results)
    if as_json:
        document = {
            "scenarios": [result.to_json() for result in results],
            "passed": passed,
            "failed": len(results) - passed,
            "seconds": round(elapsed, 1),
            "out": str(out),
            "ports": "high" if world.ports.high else "standard",
        }
        click.echo(json.dumps(document))
    else:
        for result in results:
            _show(console, result)
        if world.spam is not None:
            trained = world.spam
            console.print(
                f"castle.test's spam filter: trained on {trained.source} ({trained.spam} spam, "
                f"{trained.ham} ham{', from the cache' if trained.cached else ''})",
                highlight=False,
            )
        console.print(
            f"{passed} of {len(results)} scenarios passed in {elapsed:.1f} s; "
            f"every message at every hop is in {out}",
            highlight=False,
        )
    sys.exit(0 if passed == len(results) else 1)


__all__ = ["loop", "write_messages"]
