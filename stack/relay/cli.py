"""``elsinore user``: the users and aliases of a stack directory, one record each.

The records live in the stack's users folder (:func:`users_folder`), one ``NAME.json`` each,
and are read and written only through :mod:`.aliases`, the module the relay and submission
read them with: :func:`~.aliases.write_record` checks a record as the map does and replaces
the file atomically, so a service that reloads the folder (their :class:`~.aliases.Watcher`)
sees the old record or the new one, never half of one, and never one it would refuse.

Names are compared as the map compares them, ignoring case: ``add Alice`` is refused when
``alice.json`` exists, since the map would refuse the two together.

Errors are one line, as everywhere in the stack: exit 2 for a name, address or password the
command cannot take (nothing is read or written), 1 for what the folder refuses (a name
taken, a name unknown, a record that does not read, a folder that cannot be written).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import BinaryIO

import click

from stack.auth.passwords import hash_password
from stack.config import config_path, load
from stack.relay.aliases import (
    POSTMASTER,
    SUFFIX,
    AliasError,
    Record,
    check_name,
    check_target,
    read_record,
    remove_record,
    write_record,
)

#: The longest password read.  AUTH carries it base64-encoded on one command line, and no
#: client a user types a password into sends one near this long.
MAX_PASSWORD_BYTES = 1024


def users_folder(stack_dir: Path) -> Path:
    """Where the stack in ``stack_dir`` keeps its users: ``users`` of its ``stack.toml``
    (``DIR/users`` as ``elsinore stack init`` makes it), or ``DIR/users`` when there is no
    ``stack.toml``.  The one place that knows; nothing here creates it."""
    if config_path(stack_dir).exists():
        return load(stack_dir).users
    return stack_dir / "users"


def _folder(stack_dir: Path) -> Path:
    folder = users_folder(stack_dir)
    if not folder.is_dir():
        raise AliasError(folder, "no users folder: is DIR a stack directory (elsinore stack init)?")
    return folder


def _records(folder: Path) -> list[Path]:
    """Every file of the folder that the map reads (dot files are not records), by name."""
    try:
        return sorted(path for path in folder.iterdir() if not path.name.startswith("."))
    except OSError as error:
        raise AliasError(folder, f"cannot read the folder: {error.strerror or error}") from None


def _find(folder: Path, name: str) -> Path | None:
    """The record file of ``name``, in whatever case it was written, or None."""
    wanted = f"{name}{SUFFIX}".casefold()
    return next((path for path in _records(folder) if path.name.casefold() == wanted), None)


def _existing(folder: Path, name: str) -> Path:
    found = _find(folder, name)
    if found is None:
        raise AliasError(folder / f"{name}{SUFFIX}", f"no user {name}")
    return found


def read_password(stream: BinaryIO) -> bytes:
    """One line of ``stream``, without its line end: the password as AUTH will send it
    (bytes, not decoded, so the hash is of exactly what a client sends)."""
    line = stream.readline(MAX_PASSWORD_BYTES + 2)
    password = line.removesuffix(b"\n").removesuffix(b"\r")
    if len(password) > MAX_PASSWORD_BYTES:
        raise click.UsageError(f"the password is longer than {MAX_PASSWORD_BYTES} bytes")
    if not password:
        raise click.UsageError("the password read from stdin is empty")
    return password


def _name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    problem = check_name(value)
    if problem is not None:
        raise click.BadParameter(problem, ctx, param)
    return value


def _targets(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[str]:
    for value in values:
        problem = check_target(value)
        if problem is not None:
            raise click.BadParameter(problem, ctx, param)
    return list(values)


_stack_dir = click.argument(
    "stack_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path)
)
_user_name = click.argument("name", callback=_name)


@click.group(name="user")
def user_group() -> None:
    """The domain's users and aliases: where each address's mail goes, and its password.

    DIR is a stack directory (made by elsinore stack init); the records are DIR/users/NAME.json.
    A running relay and submission service pick every change up without a restart.

    \b
    Examples:
      $ elsinore user add castle hamlet --target hamlet@bigmail.test --password-stdin < pw
      $ elsinore user add castle info --target hamlet@castle.test --target horatio@outpost.test
      $ elsinore user list castle --json
      $ elsinore user passwd castle hamlet --password-stdin < new-pw
      $ elsinore user remove castle info
    """


@user_group.command("add")
@_stack_dir
@_user_name
@click.option("--target", "targets", multiple=True, callback=_targets, metavar="ADDR",
              help="Forward NAME's mail to ADDR; repeatable.")  # fmt: skip
@click.option("--password-stdin", is_flag=True,
              help="Read a password (one line) from stdin and store its salted scrypt hash: "
                   "NAME may then log in to submission.")  # fmt: skip
@click.option("--insecure", is_flag=True,
              help="The seed's per-user flag: may submit without TLS.")  # fmt: skip
@click.option("--replace", is_flag=True,
              help="Rewrite the record if NAME exists: targets and --insecure as given now; "
                   "the password too with --password-stdin, else the old one is kept.")  # fmt: skip
def add(
    *,
    stack_dir: Path,
    name: str,
    targets: list[str],
    password_stdin: bool,
    insecure: bool,
    replace: bool,
) -> None:
    """Add a user, or an alias (no password): NAME@our-domain goes to each --target.

    \b
    Examples:
      $ elsinore user add castle hamlet --target hamlet@bigmail.test --password-stdin < pw
      $ elsinore user add castle info --target hamlet@castle.test
      $ elsinore user add castle info --target horatio@outpost.test --replace
    """
    folder = _folder(stack_dir)
    existing = _find(folder, name)
    if existing is not None and not replace:
        raise AliasError(existing, f"{name} exists; give --replace to rewrite it")
    if existing is not None and existing.name != f"{name}{SUFFIX}":
        raise AliasError(existing, f"exists for {name} in another case; give the name as it is")
    password = hash_password(read_password(sys.stdin.buffer)) if password_stdin else None
    if password is None and existing is not None:
        password = read_record(existing).password
    path = write_record(folder, name, targets, password, insecure=insecure)
    click.echo(f"{'replaced' if existing else 'added'} {name}: {path}")


def _record_json(record: Record) -> dict[str, object]:
    # The hash stays in the file: it is a secret an attacker can grind offline.
    return {
        "name": record.name,
        "targets": list(record.targets),
        "password": record.password is not None,
        "insecure": record.insecure,
    }


@user_group.command("list")
@_stack_dir
@click.option("--json", "as_json", is_flag=True,
              help='A list of {"name", "targets", "password": bool, "insecure"}.')  # fmt: skip
def list_users(*, stack_dir: Path, as_json: bool) -> None:
    """List the users and aliases: each name, where its mail goes, whether it logs in.

    Every record is read as the relay reads it: one it would refuse is an error here too.

    \b
    Examples:
      $ elsinore user list castle
      hamlet  -> hamlet@bigmail.test  (password)
      info    -> hamlet@castle.test, horatio@outpost.test
      $ elsinore user list castle --json | jq -r '.[] | select(.password) | .name'
    """
    records = [read_record(path) for path in _records(_folder(stack_dir))]
    if as_json:
        click.echo(json.dumps([_record_json(record) for record in records], indent=2))
        return
    width = max((len(record.name) for record in records), default=0)
    for record in records:
        notes = [
            note
            for note, on in (("password", record.password), ("insecure", record.insecure))
            if on
        ]
        shown = f"  ({', '.join(notes)})" if notes else ""
        click.echo(f"{record.name:<{width}}  -> {', '.join(record.targets) or '-'}{shown}")


@user_group.command("passwd")
@_stack_dir
@_user_name
@click.option("--password-stdin", is_flag=True,
              help="Read the new password (one line) from stdin; else it is asked for on a "
                   "terminal, twice.")  # fmt: skip
def passwd(*, stack_dir: Path, name: str, password_stdin: bool) -> None:
    """Set a user's password (a new salted scrypt hash); targets are kept.

    \b
    Examples:
      $ elsinore user passwd castle hamlet
      $ printf '%s\\n' "$NEW" | elsinore user passwd castle hamlet --password-stdin
    """
    folder = _folder(stack_dir)
    record = read_record(_existing(folder, name))
    if password_stdin:
        password = read_password(sys.stdin.buffer)
    elif sys.stdin.isatty():
        typed: str = click.prompt("New password", hide_input=True, confirmation_prompt=True)
        password = typed.encode("utf-8", "surrogateescape")
        if not password:
            raise click.UsageError("the password is empty")
    else:
        raise click.UsageError("no terminal to ask on: give the password with --password-stdin")
    write_record(folder, record.name, record.targets, hash_password(password),
                 insecure=record.insecure)  # fmt: skip
    click.echo(f"changed the password of {record.name}")


@user_group.command("remove")
@_stack_dir
@_user_name
def remove(*, stack_dir: Path, name: str) -> None:
    """Remove a user or alias: its address takes no more mail, and it logs in no more.

    The record need not read well: a broken one is removed all the same.

    \b
    Example:
      $ elsinore user remove castle info
    """
    path = _existing(_folder(stack_dir), name)
    if path.name.removesuffix(SUFFIX).lower() == POSTMASTER and not _postmaster_configured(
        stack_dir
    ):
        # RFC 5321 4.5.1: postmaster must always work.  Without this record and without
        # `postmaster` in stack.toml, the relay and the MX could load no alias map at all.
        raise AliasError(
            path, "postmaster must always work: set postmaster in stack.toml before removing it"
        )
    remove_record(path)
    click.echo(f"removed {path.name.removesuffix(SUFFIX)}")


def _postmaster_configured(stack_dir: Path) -> bool:
    return config_path(stack_dir).exists() and load(stack_dir).postmaster is not None
