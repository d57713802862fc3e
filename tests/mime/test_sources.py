"""What a PATH means on the command line: a file, a folder, a Maildir or an mbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from stack.errors import ElsinoreError
from stack.mime.sources import count_messages, iter_entries, iter_messages

MBOX = (
    b"From a@b.example Thu Aug 22 12:36:23 2002\nSubject: one\n\nbody\n>From here\n\n"
    b"From c@d.example Thu Aug 22 12:37:00 2002\nSubject: two\n\nx\n\n"
)


def test_a_folder_is_read_recursively_in_path_order_without_hidden_files_or_manifests(
    tmp_path: Path,
) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.eml").write_bytes(b"Subject: 2\n\n")
    (tmp_path / "1.eml").write_bytes(b"Subject: 1\n\n")
    (tmp_path / ".hidden").write_bytes(b"Subject: no\n\n")
    (tmp_path / "manifest.json").write_text("{}")
    labels = [Path(source.label).name for source in iter_messages([tmp_path])]
    assert labels == ["1.eml", "2.eml"]
    assert count_messages([tmp_path]) == 2


def test_folder_order_is_component_by_component_and_symlinked_folders_are_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a/b", "a-c/x", ".hid/y", "top"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"Subject: " + name.encode() + b"\n\n")
    (tmp_path / "loop").symlink_to(tmp_path)
    (tmp_path / "linked.eml").symlink_to(tmp_path / "top")
    expected = [".hid/y", "a/b", "a-c/x", "linked.eml", "top"]
    labels = [source.label for source in iter_messages([tmp_path])]
    assert labels == [str(tmp_path / name) for name in expected]
    # Named as the path was given: "." lists "a/b", not "./a/b".
    monkeypatch.chdir(tmp_path)
    assert [source.label for source in iter_messages(["."])] == expected
    assert list(iter_entries(["."])) == expected


def test_a_maildir_reads_cur_then_new(tmp_path: Path) -> None:
    for sub in ("cur", "new", "tmp"):
        (tmp_path / sub).mkdir()
    (tmp_path / "new" / "a").write_bytes(b"Subject: new\n\n")
    (tmp_path / "cur" / "z").write_bytes(b"Subject: cur\n\n")
    (tmp_path / "tmp" / "t").write_bytes(b"Subject: in delivery\n\n")
    assert [source.data for source in iter_messages([tmp_path])] == [
        b"Subject: cur\n\n",
        b"Subject: new\n\n",
    ]


def test_an_mbox_is_split_and_from_quoting_undone(tmp_path: Path) -> None:
    path = tmp_path / "inbox"
    path.write_bytes(MBOX)
    messages = list(iter_messages([path]))
    assert [m.label for m in messages] == [f"{path}:0", f"{path}:1"]
    assert messages[0].data == b"Subject: one\n\nbody\nFrom here\n"
    assert messages[1].data == b"Subject: two\n\nx\n"


def test_a_single_message_with_a_from_line_is_not_an_mbox(tmp_path: Path) -> None:
    path = tmp_path / "one"
    data = b"From a@b.example Thu Aug 22 12:36:23 2002\nSubject: one\n\nFrom the desk of\n"
    path.write_bytes(data)
    assert [source.data for source in iter_messages([path])] == [data]


def test_a_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"Subject: x\n\n")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    for absent in ("absent", "file/under-a-file"):
        with pytest.raises(ElsinoreError, match="no such file or folder"):
            list(iter_messages([tmp_path / absent]))
    with pytest.raises(ElsinoreError, match=r"cannot read .*loop: Too many levels"):
        list(iter_messages([tmp_path / "loop"]))


@pytest.mark.parametrize("blank", [b"\n\n", b"\r\n\r\n", b"\n\r\n", b"\r\n\n"])
def test_an_mbox_separator_is_found_whatever_its_line_breaks(tmp_path: Path, blank: bytes) -> None:
    head = b"From a@example.com Thu Aug 22 12:36:23 2002\nSubject: one\n\nbody one"
    tail = b"From b@example.com Thu Aug 22 12:37:00 2002\nSubject: two\n\nbody two\n"
    path = tmp_path / "box"
    path.write_bytes(head + blank + tail)
    assert [source.label for source in iter_messages([path])] == [f"{path}:0", f"{path}:1"]


def test_a_from_line_in_a_body_without_a_blank_line_before_it_is_not_a_separator(
    tmp_path: Path,
) -> None:
    path = tmp_path / "one"
    path.write_bytes(
        b"From a@example.com Thu Aug 22 12:36:23 2002\nSubject: x\n\ntext\n"
        b"From b@example.com Thu Aug 22 12:37:00 2002\n"
    )
    assert [source.label for source in iter_messages([path])] == [str(path)]
