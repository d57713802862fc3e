"""``elsinore user`` as an administrator runs it: records the alias map reads, hashes that
verify, and one line for every refusal."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from stack.auth.passwords import verify
from stack.config import SERVICES
from stack.relay.aliases import AliasMap, write_record
from stack.relay.cli import users_folder

pytestmark = pytest.mark.timeout(60)

ELSINORE = [sys.executable, "-m", "stack"]
DOMAIN = "castle.test"


def user(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*ELSINORE, "user", *args], input=stdin, capture_output=True, timeout=30, check=False
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def load(stack_dir: Path) -> AliasMap:
    return AliasMap.load(users_folder(stack_dir), DOMAIN, postmaster="root@bigmail.test")


def one_line_error(done: subprocess.CompletedProcess[str], status: int) -> str:
    assert done.returncode == status, done.stdout + done.stderr
    assert done.stderr.startswith("elsinore: error: ")
    assert done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr


@pytest.fixture
def stack_dir(tmp_path: Path) -> Path:
    (tmp_path / "castle" / "users").mkdir(parents=True)
    return tmp_path / "castle"


def test_users_live_in_the_stack_directorys_users_folder(tmp_path: Path) -> None:
    assert users_folder(tmp_path) == tmp_path / "users"


def test_add_writes_a_record_the_map_reads_with_a_hash_that_verifies(stack_dir: Path) -> None:
    done = user("add", str(stack_dir), "hamlet", "--target", "hamlet@bigmail.test",
                "--target", "h@outpost.test", "--password-stdin",
                stdin=b"to be, or not\n")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"added hamlet: {users_folder(stack_dir) / 'hamlet.json'}\n"
    record = load(stack_dir).lookup("Hamlet")
    assert record is not None
    assert record.targets == ("hamlet@bigmail.test", "h@outpost.test")
    assert record.password is not None and record.password.startswith("$scrypt$")
    assert verify(b"to be, or not", record.password).ok
    assert not verify(b"to be, or not\n", record.password).ok
    assert not record.insecure
    mode = (users_folder(stack_dir) / "hamlet.json").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_add_hashes_the_bytes_of_the_line_without_its_crlf(stack_dir: Path) -> None:
    password = "H\u00e9las".encode()
    done = user("add", str(stack_dir), "yorick", "--target", "y@bigmail.test",
                "--password-stdin", stdin=password + b"\r\nsecond line\n")  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = load(stack_dir).lookup("yorick")
    assert record is not None and record.password is not None
    assert verify(password, record.password).ok


def test_an_alias_has_no_password_and_insecure_is_kept(stack_dir: Path) -> None:
    assert user("add", str(stack_dir), "info", "--target", "hamlet@castle.test").returncode == 0
    assert user("add", str(stack_dir), "old", "--target", "o@b.test", "--insecure").returncode == 0
    aliases = load(stack_dir)
    info, old = aliases.lookup("info"), aliases.lookup("old")
    assert info is not None and info.password is None and not info.insecure
    assert old is not None and old.insecure


def test_a_name_that_exists_is_refused_in_any_case_unless_replace(stack_dir: Path) -> None:
    assert user("add", str(stack_dir), "hamlet", "--target", "a@b.test",
                "--password-stdin", stdin=b"pw\n").returncode == 0  # fmt: skip
    before = (users_folder(stack_dir) / "hamlet.json").read_bytes()
    for name in ("hamlet", "Hamlet"):
        error = one_line_error(user("add", str(stack_dir), name, "--target", "c@d.test"), 1)
        assert "exists; give --replace to rewrite it" in error
    error = one_line_error(
        user("add", str(stack_dir), "HAMLET", "--target", "c@d.test", "--replace"), 1
    )
    assert "in another case" in error
    assert (users_folder(stack_dir) / "hamlet.json").read_bytes() == before
    assert sorted(p.name for p in users_folder(stack_dir).iterdir()) == ["hamlet.json"]


def test_replace_rewrites_targets_and_keeps_the_password_unless_given(stack_dir: Path) -> None:
    assert user("add", str(stack_dir), "hamlet", "--target", "a@b.test",
                "--password-stdin", stdin=b"first\n").returncode == 0  # fmt: skip
    done = user("add", str(stack_dir), "hamlet", "--target", "c@d.test", "--replace")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("replaced hamlet: ")
    record = load(stack_dir).lookup("hamlet")
    assert record is not None and record.password is not None
    assert record.targets == ("c@d.test",)
    assert verify(b"first", record.password).ok
    done = user("add", str(stack_dir), "hamlet", "--target", "c@d.test", "--replace",
                "--password-stdin", stdin=b"second\n")  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = load(stack_dir).lookup("hamlet")
    assert record is not None and record.password is not None
    assert verify(b"second", record.password).ok


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("a@b", "is not a dot-atom local-part"),
        ("../escape", "holds a '/'"),
        (".hidden", "is not a dot-atom local-part"),
        ("two..dots", "is not a dot-atom local-part"),
        ("x" * 65, "longer than 64 octets"),
        ("new\nline", "is not a dot-atom local-part"),
    ],
)
def test_a_bad_name_is_exit_2_in_one_line_and_nothing_is_written(
    stack_dir: Path, name: str, reason: str
) -> None:
    error = one_line_error(user("add", str(stack_dir), name, "--target", "a@b.test"), 2)
    assert reason in error
    assert error.endswith("(see 'elsinore user add --help')\n")
    assert list(users_folder(stack_dir).iterdir()) == []
    assert list(stack_dir.parent.iterdir()) == [stack_dir]


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("not an address", "is not an address"),
        ("Hamlet <h@castle.test>", "is not a bare local-part@domain"),
        ("h@[127.0.0.1]", "has a domain literal"),
        ("nobody", "is not an address"),
    ],
)
def test_a_bad_target_is_exit_2_in_one_line_and_nothing_is_written(
    stack_dir: Path, target: str, reason: str
) -> None:
    error = one_line_error(user("add", str(stack_dir), "hamlet", "--target", target), 2)
    assert reason in error
    assert list(users_folder(stack_dir).iterdir()) == []


@pytest.mark.parametrize("stdin", [b"", b"\n", b"\r\n", b"x" * 1025 + b"\n"])
def test_an_empty_or_huge_password_is_refused(stack_dir: Path, stdin: bytes) -> None:
    done = user("add", str(stack_dir), "hamlet", "--target", "a@b.test", "--password-stdin",
                stdin=stdin)  # fmt: skip
    error = one_line_error(done, 2)
    assert "empty" in error or "longer than 1024 bytes" in error
    assert list(users_folder(stack_dir).iterdir()) == []


def test_a_record_with_nothing_in_it_is_refused(stack_dir: Path) -> None:
    error = one_line_error(user("add", str(stack_dir), "nobody"), 1)
    assert "no targets and no password: the record does nothing" in error


def test_a_directory_without_users_folder_is_refused_and_nothing_is_created(
    tmp_path: Path,
) -> None:
    error = one_line_error(user("add", str(tmp_path), "hamlet", "--target", "a@b.test"), 1)
    assert "no users folder" in error
    assert list(tmp_path.iterdir()) == []


def test_list_shows_every_record_and_json_never_shows_a_hash(stack_dir: Path) -> None:
    assert user("add", str(stack_dir), "hamlet", "--target", "a@b.test",
                "--password-stdin", stdin=b"pw\n").returncode == 0  # fmt: skip
    assert user("add", str(stack_dir), "info", "--target", "hamlet@castle.test",
                "--target", "o@outpost.test", "--insecure").returncode == 0  # fmt: skip
    done = user("list", str(stack_dir))
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "hamlet  -> a@b.test  (password)\n"
        "info    -> hamlet@castle.test, o@outpost.test  (insecure)\n"
    )
    done = user("list", str(stack_dir), "--json")
    assert json.loads(done.stdout) == [
        {"name": "hamlet", "targets": ["a@b.test"], "password": True, "insecure": False},
        {"name": "info", "targets": ["hamlet@castle.test", "o@outpost.test"],
         "password": False, "insecure": True},
    ]  # fmt: skip
    assert "$scrypt$" not in done.stdout


def test_list_of_an_empty_folder_is_empty(stack_dir: Path) -> None:
    assert user("list", str(stack_dir)).stdout == ""
    assert json.loads(user("list", str(stack_dir), "--json").stdout) == []


def test_list_refuses_a_record_the_relay_would_refuse_naming_the_file(stack_dir: Path) -> None:
    write_record(users_folder(stack_dir), "hamlet", ["a@b.test"], None)
    (users_folder(stack_dir) / "broken.json").write_text('{"target": ["a@b.test"]}')
    error = one_line_error(user("list", str(stack_dir)), 1)
    assert "broken.json: unknown key 'target'" in error


def test_passwd_sets_a_new_hash_and_keeps_the_rest(stack_dir: Path) -> None:
    write_record(users_folder(stack_dir), "hamlet", ["a@b.test"], None, insecure=True)
    done = user("passwd", str(stack_dir), "HAMLET", "--password-stdin", stdin=b"new one\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "changed the password of hamlet\n"
    record = load(stack_dir).lookup("hamlet")
    assert record is not None and record.password is not None
    assert verify(b"new one", record.password).ok
    assert (record.targets, record.insecure) == (("a@b.test",), True)


def test_passwd_without_a_terminal_or_stdin_flag_is_a_usage_error(stack_dir: Path) -> None:
    write_record(users_folder(stack_dir), "hamlet", ["a@b.test"], None)
    error = one_line_error(user("passwd", str(stack_dir), "hamlet", stdin=b"pw\n"), 2)
    assert "--password-stdin" in error
    record = load(stack_dir).lookup("hamlet")
    assert record is not None and record.password is None


def test_passwd_and_remove_of_an_unknown_user_are_one_line(stack_dir: Path) -> None:
    for command in (("passwd", "--password-stdin"), ("remove",)):
        error = one_line_error(user(command[0], str(stack_dir), "ghost", *command[1:],
                                    stdin=b"pw\n"), 1)  # fmt: skip
        assert error.endswith("ghost.json: no user ghost\n")


def test_remove_takes_the_record_away_even_a_broken_one(stack_dir: Path) -> None:
    write_record(users_folder(stack_dir), "hamlet", ["a@b.test"], None)
    (users_folder(stack_dir) / "Broken.json").write_text("{not json")
    for name, shown in (("hamlet", "hamlet"), ("broken", "Broken")):
        done = user("remove", str(stack_dir), name)
        assert done.returncode == 0, done.stderr
        assert done.stdout == f"removed {shown}\n"
    assert list(users_folder(stack_dir).iterdir()) == []


def test_postmaster_is_removed_only_when_stack_toml_names_another(stack_dir: Path) -> None:
    # RFC 5321 4.5.1: postmaster must always work; without its record and without
    # `postmaster` in stack.toml the relay and the MX could load no alias map.
    write_record(users_folder(stack_dir), "postmaster", ["root@bigmail.test"], None)
    error = one_line_error(user("remove", str(stack_dir), "Postmaster"), 1)
    assert "postmaster must always work" in error
    assert (users_folder(stack_dir) / "postmaster.json").exists()
    (stack_dir / "stack.toml").write_text(
        'domain = "castle.test"\npostmaster = "root@bigmail.test"\n'
        + "".join(f"[{name}]\nlisten = ['127.0.0.1:1']\n" for name in SERVICES)
    )
    assert user("remove", str(stack_dir), "postmaster").returncode == 0


def test_help_shows_examples() -> None:
    for command in ("add", "list", "passwd", "remove"):
        done = user(command, "--help")
        assert done.returncode == 0
        assert "$ elsinore user " in done.stdout
