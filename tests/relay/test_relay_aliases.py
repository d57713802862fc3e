"""The alias map: a folder of per-user records, checked whole, looked up case-insensitively,
postmaster always there, and reread on change without a bad record ever taking effect."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.strategies import dot_atom_text, hostile_text, mailboxes
from stack.auth.passwords import Cost, Passwords
from stack.errors import ElsinoreError
from stack.mime.errors import EncodeError
from stack.mime.fields.address import Mailbox
from stack.mime.fields.lexer import is_dot_atom_text
from stack.relay.aliases import (
    MAX_RECORD_BYTES,
    AliasError,
    AliasMap,
    Record,
    Watcher,
    write_record,
)

DOMAIN = "castle.test"
HASH = Passwords(Cost(log_n=4, r=8, p=1)).hash("hunter2")
SEED_HASH = hashlib.blake2b(b"hunter2").hexdigest()


def put(directory: Path, name: str, value: object) -> Path:
    """A record written in place, as an editor would (not atomically)."""
    path = directory / name
    path.write_text(value if isinstance(value, str) else json.dumps(value))
    return path


def castle(directory: Path) -> Path:
    put(directory, "alice.json", {"targets": ["alice@bigmail.test"], "password": HASH})
    put(directory, "bob.json", {"targets": ["bob@outpost.test"], "password": SEED_HASH})
    put(directory, "info.json", {"targets": ["alice@castle.test", "bob@castle.test"]})
    put(directory, "postmaster.json", {"targets": ["alice@castle.test"]})
    return directory


def refusal(directory: Path, postmaster: str | None = "root@bigmail.test") -> str:
    with pytest.raises(AliasError) as raised:
        AliasMap.load(directory, DOMAIN, postmaster=postmaster)
    assert isinstance(raised.value, ElsinoreError)
    text = str(raised.value)
    assert "\n" not in text
    return text


def test_a_folder_of_records_loads_and_looks_up(tmp_path: Path) -> None:
    aliases = AliasMap.load(castle(tmp_path), DOMAIN)
    assert aliases.lookup("alice") == Record("alice", ("alice@bigmail.test",), HASH, False)
    assert aliases.lookup("bob") == Record("bob", ("bob@outpost.test",), SEED_HASH, False)
    info = aliases.lookup("info")
    assert info is not None and info.password is None
    assert aliases.lookup("carol") is None


def test_the_seed_record_form_with_insecure_loads(tmp_path: Path) -> None:
    put(tmp_path, "dave.json", {"targets": ["d@x.test"], "password": SEED_HASH, "insecure": True})
    aliases = AliasMap.load(tmp_path, DOMAIN, postmaster="root@x.test")
    assert aliases.lookup("dave") == Record("dave", ("d@x.test",), SEED_HASH, True)


def test_lookup_ignores_case(tmp_path: Path) -> None:
    aliases = AliasMap.load(castle(tmp_path), DOMAIN)
    assert aliases.lookup("ALICE") == aliases.lookup("Alice") == aliases.lookup("alice")


def test_two_names_that_differ_only_in_case_are_refused(tmp_path: Path) -> None:
    put(tmp_path, "alice.json", {"targets": ["a@x.test"]})
    put(tmp_path, "Alice.json", {"targets": ["b@x.test"]})
    assert (
        refusal(tmp_path) == f"{tmp_path / 'alice.json'}: the same name as Alice.json, but for case"
    )


@given(name=dot_atom_text(), target=mailboxes())
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_record_is_written_and_read_back_or_refused_unwritten(
    tmp_path: Path, name: str, target: Mailbox
) -> None:
    directory = tmp_path / str(len(list(tmp_path.iterdir())))
    directory.mkdir()
    try:
        address = target.addr_spec
    except EncodeError:
        return  # a value mail cannot carry at all
    try:
        write_record(directory, name, [address], HASH)
    except AliasError as error:
        # Only what the map refuses by design: a name with a '/' (a file name) or over 64
        # octets; a target with a literal, or that no envelope carries (a space or an angle
        # bracket in a quoted local-part, over 254 octets).  A plain one always goes in.
        assert list(directory.iterdir()) == []
        bad_name = "/" in name or len(name.encode()) > 64
        assert bad_name or error.reason.startswith("the target")
        plain = is_dot_atom_text(target.local) and target.domain[:1] != "["
        assert bad_name or not plain or len(address.encode("utf-8", "replace")) > 254
        return
    record = AliasMap.load(directory, DOMAIN, postmaster="root@x.test").lookup(name)
    assert record == Record(name, (address,), HASH, False)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{", "line 1 column 2: not JSON: Expecting property name enclosed in double quotes"),
        ("[]", 'not a JSON object {"targets": [...], ...}'),
        ('{"password": null}', 'no "targets" list'),
        ('{"targets": "a@x.test"}', '"targets" is not a list'),
        ('{"targets": [1]}', "a target is int, not a string"),
        ('{"target": ["a@x.test"]}', "unknown key 'target' (known: insecure, password, targets)"),
        ('{"targets": ["a@x.test"], "targets": []}', "the key 'targets' appears twice"),
        ('{"targets": [], "password": NaN}', "NaN is not JSON"),
        ('{"targets": ["Al <a@x.test>"]}', "the target 'Al <a@x.test>' is not a bare local-part@"),
        ('{"targets": ["a@x.test (me)"]}', "the target 'a@x.test (me)' is not a bare local-part@"),
        ('{"targets": ["a@[127.0.0.1]"]}', "the target 'a@[127.0.0.1]' has a domain literal"),
        ('{"targets": ["nobody"]}', "the target 'nobody' is not an address: "),
        ('{"targets": ["a@b@c.test"]}', "the target 'a@b@c.test' is not an address: "),
        ('{"targets": ["' + "a" * 65 + '@x.test"]}', "the target 'aaaa"),
        (
            '{"targets": ["a@x.test"], "password": 5}',
            '"password" is neither a hash string nor null',
        ),
        ('{"targets": [], "password": "abc"}', '"password": stored password hash, character 0: '),
        ('{"targets": ["a@x.test"], "insecure": "no"}', '"insecure" is not true or false'),
        ('{"targets": []}', "no targets and no password: the record does nothing"),
        ('{"targets": ' + json.dumps(["a@x.test"] * 101) + "}", "101 targets, over 100"),
        (b"\xff{}", "byte 0: not UTF-8"),
    ],
)
def test_a_bad_record_is_one_line_naming_the_file_and_the_problem(
    tmp_path: Path, content: str | bytes, reason: str
) -> None:
    path = tmp_path / "carol.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert refusal(tmp_path).startswith(f"{path}: {reason}")


def test_a_record_nested_deeper_than_the_parser_goes_is_one_line(tmp_path: Path) -> None:
    put(tmp_path, "carol.json", "[" * 60_000)
    assert refusal(tmp_path) == f"{tmp_path / 'carol.json'}: nested too deeply to be a record"


@given(
    content=st.one_of(
        st.binary(max_size=300),
        hostile_text().map(lambda text: json.dumps({"targets": [text]})),
        hostile_text().map(lambda text: json.dumps({"targets": [], "password": text})),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | hostile_text(),
            lambda inner: st.lists(inner) | st.dictionaries(st.sampled_from(["targets"]), inner),
        ).map(json.dumps),
    )
)
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_file_content_is_a_record_or_one_line(tmp_path: Path, content: str | bytes) -> None:
    path = tmp_path / "carol.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    try:
        AliasMap.load(tmp_path, DOMAIN, postmaster="root@x.test")
    except AliasError as error:
        assert str(error).startswith(f"{path}: ") and "\n" not in str(error)


@given(name=hostile_text())
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_name_is_written_or_refused_in_one_line(tmp_path: Path, name: str) -> None:
    directory = tmp_path / str(len(list(tmp_path.iterdir())))
    directory.mkdir()
    try:
        path = write_record(directory, name, ["a@x.test"], None)
    except AliasError as error:
        assert "\n" not in str(error) and list(directory.iterdir()) == []
    else:
        assert path.parent == directory


def test_a_file_name_with_a_line_break_is_quoted_on_one_line(tmp_path: Path) -> None:
    put(tmp_path, "a\nb.json", {"targets": ["a@x.test"]})
    assert refusal(tmp_path).endswith(
        "nb.json': the name 'a\\nb' is not a dot-atom local-part (RFC 5322 3.2.3)"
    )


def test_a_password_hash_with_an_absurd_cost_is_refused_at_load(tmp_path: Path) -> None:
    salt, digest = HASH.split("$")[3:]
    put(tmp_path, "eve.json", {"targets": [], "password": f"$scrypt$ln=25,r=8,p=1${salt}${digest}"})
    assert refusal(tmp_path) == (
        f'{tmp_path / "eve.json"}: "password": stored password hash, character 8: '
        "ln must be 1 to 20, not 25"
    )


@pytest.mark.parametrize(
    ("file_name", "reason"),
    [
        ('"quoted".json', "the name '\"quoted\"' is not a dot-atom local-part"),
        ("a..b.json", "the name 'a..b' is not a dot-atom local-part"),
        (f"{'a' * 65}.json", "the name is longer than 64 octets"),
        ("alice.txt", "not a record (records are NAME.json files)"),
    ],
)
def test_a_file_that_is_not_a_record_is_refused(
    tmp_path: Path, file_name: str, reason: str
) -> None:
    put(tmp_path, file_name, {"targets": ["a@x.test"]})
    assert refusal(tmp_path).startswith(f"{tmp_path / file_name}: {reason}")


def test_hidden_files_are_not_records(tmp_path: Path) -> None:
    castle(tmp_path)
    (tmp_path / ".git").mkdir()
    put(tmp_path, ".alice.json.0123.tmp", '{"targets": [')
    assert AliasMap.load(tmp_path, DOMAIN).lookup("alice") is not None


def test_a_record_too_large_is_refused_unread(tmp_path: Path) -> None:
    put(tmp_path, "big.json", " " * (MAX_RECORD_BYTES + 1))
    assert refusal(tmp_path) == f"{tmp_path / 'big.json'}: larger than 65,536 bytes"


def test_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    assert refusal(tmp_path / "nowhere") == (
        f"{tmp_path / 'nowhere'}: cannot read the folder: no such file or directory"
    )


# -- postmaster (RFC 5321 4.5.1) ------------------------------------------------------------


def test_postmaster_resolves_to_its_record_in_any_case(tmp_path: Path) -> None:
    aliases = AliasMap.load(castle(tmp_path), DOMAIN, postmaster="root@bigmail.test")
    for spelling in ("postmaster", "PostMaster", "POSTMASTER"):
        assert aliases.lookup(spelling) == Record("postmaster", ("alice@castle.test",))


def test_postmaster_without_a_record_goes_to_the_configured_address(tmp_path: Path) -> None:
    put(tmp_path, "alice.json", {"targets": ["alice@bigmail.test"]})
    aliases = AliasMap.load(tmp_path, DOMAIN, postmaster="root@bigmail.test")
    assert aliases.lookup("Postmaster") == Record("postmaster", ("root@bigmail.test",))


def test_an_empty_folder_with_a_postmaster_address_loads(tmp_path: Path) -> None:
    aliases = AliasMap.load(tmp_path, DOMAIN, postmaster="root@bigmail.test")
    assert aliases.lookup("alice") is None
    assert aliases.lookup("postmaster") is not None


def test_a_map_where_postmaster_resolves_nowhere_is_refused(tmp_path: Path) -> None:
    put(tmp_path, "alice.json", {"targets": ["alice@bigmail.test"]})
    assert refusal(tmp_path, postmaster=None) == (
        f"{tmp_path}: no postmaster.json and no postmaster address: RFC 5321 4.5.1 requires "
        "postmaster to work"
    )


def test_a_bad_postmaster_address_is_refused(tmp_path: Path) -> None:
    assert refusal(tmp_path, postmaster="root").startswith(
        "the postmaster address: the target 'root' is not an address"
    )


# -- who may send as what -------------------------------------------------------------------


def test_a_user_sends_as_itself_and_the_aliases_that_forward_to_it(tmp_path: Path) -> None:
    aliases = AliasMap.load(castle(tmp_path), DOMAIN)
    assert aliases.addresses_of("alice") == {
        "alice@castle.test",
        "info@castle.test",
        "postmaster@castle.test",
    }
    assert aliases.addresses_of("bob") == {"bob@castle.test", "info@castle.test"}
    assert aliases.addresses_of("carol") == frozenset()


def test_sending_as_is_checked_without_case(tmp_path: Path) -> None:
    aliases = AliasMap.load(castle(tmp_path), DOMAIN)
    assert aliases.may_send_as("Alice", "INFO@Castle.Test")
    assert not aliases.may_send_as("bob", "alice@castle.test")
    assert not aliases.may_send_as("bob", "bob@bigmail.test")


# -- writing and reloading -------------------------------------------------------------------


def test_write_record_replaces_a_record_whole_and_private(tmp_path: Path) -> None:
    castle(tmp_path)
    path = write_record(tmp_path, "alice", ["alice@outpost.test"], HASH)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    record = AliasMap.load(tmp_path, DOMAIN).lookup("alice")
    assert record == Record("alice", ("alice@outpost.test",), HASH, False)


@pytest.mark.parametrize(
    ("name", "targets", "password", "reason"),
    [
        ("../evil", ["a@x.test"], None, "the name '../evil' holds a '/'"),
        ("a b", ["a@x.test"], None, "the name 'a b' is not a dot-atom local-part"),
        ("carol", ["not an address"], None, "the target 'not an address' is not an address"),
        ("carol", [], "plaintext", '"password": stored password hash, character 0'),
    ],
)
def test_write_record_refuses_what_load_would_and_writes_nothing(
    tmp_path: Path, name: str, targets: list[str], password: str | None, reason: str
) -> None:
    with pytest.raises(AliasError) as raised:
        write_record(tmp_path, name, targets, password)
    assert raised.value.reason.startswith(reason)
    assert list(tmp_path.iterdir()) == []


def test_a_changed_record_takes_effect_on_the_next_poll(tmp_path: Path) -> None:
    watcher = Watcher(castle(tmp_path), DOMAIN)
    old = watcher.map
    assert watcher.poll() is None and watcher.map is old  # nothing changed: nothing read
    write_record(tmp_path, "alice", ["alice@outpost.test"], HASH)
    assert watcher.poll() is None
    assert watcher.map is not old
    assert watcher.map.lookup("alice") == Record("alice", ("alice@outpost.test",), HASH)


def test_a_new_and_a_removed_record_take_effect(tmp_path: Path) -> None:
    watcher = Watcher(castle(tmp_path), DOMAIN)
    write_record(tmp_path, "carol", ["carol@bigmail.test"], None)
    (tmp_path / "bob.json").unlink()
    assert watcher.poll() is None
    assert watcher.map.lookup("carol") is not None
    assert watcher.map.lookup("bob") is None


def test_a_record_rewritten_in_place_with_the_same_size_is_seen(tmp_path: Path) -> None:
    put(tmp_path, "alice.json", {"targets": ["alice@bigmail.test"]})
    watcher = Watcher(tmp_path, DOMAIN, postmaster="root@x.test")
    path = put(tmp_path, "alice.json", {"targets": ["alice@bigmail.tesT"]})
    status = path.stat()  # the same inode and size: only the mtime tells
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000))
    assert watcher.poll() is None
    assert watcher.map.lookup("alice") == Record("alice", ("alice@bigmail.tesT",))


def test_a_half_written_record_keeps_the_old_map_and_is_reported_once(tmp_path: Path) -> None:
    watcher = Watcher(castle(tmp_path), DOMAIN)
    old = watcher.map
    put(tmp_path, "alice.json", '{"targets": ["alice@outp')
    error = watcher.poll()
    assert error is not None
    assert str(error).startswith(f"{tmp_path / 'alice.json'}: line 1 column 14: not JSON")
    assert watcher.map is old and watcher.error == error
    assert watcher.map.lookup("alice") == Record("alice", ("alice@bigmail.test",), HASH)
    assert watcher.poll() is None  # the same folder: not read nor reported again
    assert watcher.map is old


def test_a_fixed_record_after_a_bad_one_takes_effect(tmp_path: Path) -> None:
    watcher = Watcher(castle(tmp_path), DOMAIN)
    put(tmp_path, "alice.json", '{"targets": ["alice@outp')
    assert watcher.poll() is not None
    write_record(tmp_path, "alice", ["alice@outpost.test"], HASH)
    assert watcher.poll() is None
    assert watcher.error is None
    assert watcher.map.lookup("alice") == Record("alice", ("alice@outpost.test",), HASH)


def test_one_bad_record_keeps_every_other_change_out_too(tmp_path: Path) -> None:
    watcher = Watcher(castle(tmp_path), DOMAIN)
    write_record(tmp_path, "carol", ["carol@bigmail.test"], None)
    put(tmp_path, "bob.json", {"targets": ["bob@outpost.test"], "pasword": SEED_HASH})
    assert watcher.poll() is not None
    assert watcher.map.lookup("carol") is None  # the map is swapped whole or not at all


def test_a_removed_folder_keeps_the_old_map(tmp_path: Path) -> None:
    folder = tmp_path / "aliases"
    folder.mkdir()
    watcher = Watcher(castle(folder), DOMAIN)
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    error = watcher.poll()
    assert error is not None and "cannot read the folder" in str(error)
    assert watcher.map.lookup("alice") is not None
    assert watcher.poll() is None  # reported once, not on every poll
    folder.mkdir()
    castle(folder)
    assert watcher.poll() is None and watcher.error is None


def test_the_first_load_raises(tmp_path: Path) -> None:
    put(tmp_path, "alice.json", "{")
    with pytest.raises(AliasError):
        Watcher(tmp_path, DOMAIN, postmaster="root@x.test")


@given(st.lists(dot_atom_text(), min_size=1, max_size=5, unique_by=str.casefold))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=20)
def test_every_name_written_is_found_in_any_case(tmp_path: Path, names: list[str]) -> None:
    directory = tmp_path / str(len(list(tmp_path.iterdir())))
    directory.mkdir()
    names = [name for name in names if len(name.encode()) <= 64 and "/" not in name]
    for name in names:
        write_record(directory, name, ["a@x.test"], None)
    aliases = AliasMap.load(directory, DOMAIN, postmaster="root@x.test")
    for name in names:
        assert aliases.lookup(name.upper()) == Record(name, ("a@x.test",))
