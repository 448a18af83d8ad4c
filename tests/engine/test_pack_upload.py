"""Uploaded rule packs: a zip or a directory's files become a pack directory the rules tools read; anything that
could write outside the upload's own directory, or is not a pack, is refused in one Chinese line naming the field."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

import rules as bundled_packs
from engine.pack_upload import FIELD, directory_of, unpack
from engine.rules import read_pack
from entities.errors import InputError


def _pack_files(name: str = "guangdong") -> list[tuple[str, bytes]]:
    base = bundled_packs.bundled(name)
    assert base is not None
    return [
        (f"{name}/{p.relative_to(base).as_posix()}", p.read_bytes()) for p in sorted(base.rglob("*")) if p.is_file()
    ]


def _zip(files: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files:
            z.writestr(name, data)
    return buf.getvalue()


def test_a_zip_and_the_same_files_are_one_upload_that_reads_as_the_pack(tmp_path: Path) -> None:
    files = _pack_files()
    by_zip = unpack([("guangdong.zip", _zip(files))], tmp_path)
    by_files = unpack(files, tmp_path)
    assert by_zip == by_files
    assert directory_of(tmp_path, by_zip.id) == by_zip.directory
    pack, findings = read_pack(str(by_zip.directory))  # the parent (national) is the bundled one
    assert pack is not None and pack.name == "guangdong"
    assert not [f for f in findings if f.severity == "error"]


def test_a_changed_file_is_another_upload(tmp_path: Path) -> None:
    files = _pack_files()
    changed = [(n, d.replace(b"0.25", b"0.2") if n.endswith("pack.yaml") else d) for n, d in files]
    assert unpack(files, tmp_path).id != unpack(changed, tmp_path).id


BAD = [
    ([], "请选择规则包"),
    ([("../pack.yaml", b"name: x")], "不是包内的相对路径"),
    ([("/etc/pack.yaml", b"name: x")], "不是包内的相对路径"),
    ([("rules.yaml", b"x: 1")], "没有 pack.yaml"),
    ([("p.zip", b"not a zip")], "不是有效的 zip"),
    ([("p.zip", _zip([("../../evil/pack.yaml", b"name: x")]))], "不是包内的相对路径"),
]


@pytest.mark.parametrize(("given", "words"), BAD)
def test_refused_in_one_line_and_nothing_written(tmp_path: Path, given: list[tuple[str, bytes]], words: str) -> None:
    root = tmp_path / "uploads"
    with pytest.raises(InputError) as caught:
        unpack(given, root)
    message = str(caught.value)
    assert message.startswith(f"{FIELD}：") and words in message and "\n" not in message
    assert not root.exists() or not any(root.iterdir())


def test_an_unknown_id_names_nothing(tmp_path: Path) -> None:
    assert directory_of(tmp_path, "../../etc") is None
    assert directory_of(tmp_path, "0123456789abcdef") is None
