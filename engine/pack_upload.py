"""A changed rule pack uploaded through the web app, unpacked into a directory the rules tools read.

    upload = unpack([("national.zip", data)], root)            # a zip of the pack directory
    upload = unpack([("national/pack.yaml", …), …], root)      # the files of a pack directory
    directory_of(root, upload.id)                              # the same directory later (None if unknown)

The upload's id is a content hash of its files (paths and bytes), so the same pack uploaded twice is one directory
and a page can name it in a URL. Nothing outside `root/<id>` is ever written: absolute paths, `..`, links and
oversized archives are refused with one line (in Chinese, naming the field) before a byte is written. A pack whose
pack.yaml names a `parent:` that is not in the upload reads the bundled pack of that name (engine.rules.read).
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

import rules as bundled_packs
from entities.errors import InputError

FIELD = "规则包文件"
MAX_FILES = 500
MAX_BYTES = 20 * 1024 * 1024  # unpacked; a pack is some hundred KB of YAML
_ID = re.compile(r"[0-9a-f]{16}")


@dataclass(frozen=True)
class Upload:
    id: str
    directory: Path  # the pack's own directory (holding pack.yaml)
    files: tuple[str, ...]


def _refuse(message: str) -> InputError:
    return InputError(f"{FIELD}：{message}")


def _clean(name: str) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if not name or path.is_absolute() or ".." in path.parts or any(p in ("", ".") for p in path.parts[:-1]):
        raise _refuse(f"文件名 {name!r} 不是包内的相对路径")
    return path


def _from_zip(name: str, data: bytes) -> list[tuple[PurePosixPath, bytes]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise _refuse(f"{name} 不是有效的 zip 压缩包") from None
    members = [m for m in archive.infolist() if not m.is_dir()]
    if len(members) > MAX_FILES:
        raise _refuse(f"{name} 含 {len(members)} 个文件，超过上限 {MAX_FILES}")
    if sum(m.file_size for m in members) > MAX_BYTES:
        raise _refuse(f"{name} 解压后超过 {MAX_BYTES // (1024 * 1024)} MB")
    out = []
    for m in members:
        if (m.external_attr >> 16) & 0o170000 == 0o120000:
            raise _refuse(f"{name} 中的 {m.filename} 是符号链接，不接受")
        with archive.open(m) as f:
            out.append((_clean(m.filename), f.read(MAX_BYTES + 1)))
    return out


def _files(given: Sequence[tuple[str, bytes]]) -> list[tuple[PurePosixPath, bytes]]:
    if not given:
        raise _refuse("请选择规则包的 zip 压缩包，或规则包目录中的文件")
    if len(given) == 1 and given[0][0].lower().endswith(".zip"):
        files = _from_zip(*given[0])
    else:
        if len(given) > MAX_FILES:
            raise _refuse(f"共 {len(given)} 个文件，超过上限 {MAX_FILES}")
        files = [(_clean(name), data) for name, data in given]
    if sum(len(d) for _, d in files) > MAX_BYTES:
        raise _refuse(f"文件合计超过 {MAX_BYTES // (1024 * 1024)} MB")
    files = [(p, d) for p, d in files if not p.name.startswith(".") and "__MACOSX" not in p.parts]
    seen: set[PurePosixPath] = set()
    for path, _ in files:
        if path in seen:
            raise _refuse(f"文件 {path} 出现了两次")
        seen.add(path)
    return files


def _pack_root(files: list[tuple[PurePosixPath, bytes]]) -> PurePosixPath:
    """The folder holding pack.yaml: the top level, or the one folder a zip of the directory wraps it in."""
    manifests = sorted((p.parent for p, _ in files if p.name == "pack.yaml"), key=lambda p: (len(p.parts), str(p)))
    if not manifests:
        raise _refuse("没有 pack.yaml：请上传整个规则包目录（含 pack.yaml）")
    return manifests[0]


def upload_id(files: Sequence[tuple[PurePosixPath, bytes]]) -> str:
    """The content hash naming an upload: SHA-256 over every path and its bytes, in path order."""
    h = hashlib.sha256()
    for path, data in sorted(files, key=lambda f: str(f[0])):
        h.update(str(path).encode("utf-8") + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()[:16]


def unpack(given: Sequence[tuple[str, bytes]], root: Path) -> Upload:
    """Unpack an uploaded pack (one zip, or the files of its directory) under `root`; refused in one line if it is
    not a pack directory's files."""
    files = _files(given)
    top = _pack_root(files)
    inside = [(p.relative_to(top), d) for p, d in files if p.is_relative_to(top)]
    uid = upload_id(inside)
    target = root / uid
    pack_dir = target / "pack"
    if not (pack_dir / "pack.yaml").is_file():
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{uid}-", dir=root))
        try:
            for path, data in inside:
                dest = staging / "pack" / Path(*path.parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(data)
            _bundled_parents(staging / "pack")
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)  # whole or nothing: a half-written upload is never read
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    return Upload(uid, pack_dir, tuple(sorted(str(p) for p, _ in inside)))


def _bundled_parents(pack_dir: Path) -> None:
    """Put the bundled packs a `parent: ../national` names next to the upload, as they sit next to each other in
    rules/: a pack edited from a copy of guangdong keeps reading the national pack it extends."""
    seen: set[str] = set()
    current = pack_dir
    while True:
        try:
            manifest = yaml.safe_load((current / "pack.yaml").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            return  # `rules check` names what is wrong with it
        parent = manifest.get("parent") if isinstance(manifest, dict) else None
        if not isinstance(parent, str):
            return
        name = PurePosixPath(parent.replace("\\", "/")).name
        sibling = pack_dir.parent / name
        source = bundled_packs.bundled(name)
        if name in seen or source is None or (current.parent / parent).exists() or sibling.exists():
            return
        seen.add(name)
        shutil.copytree(source, sibling)
        current = sibling


def directory_of(root: Path, uid: str) -> Path | None:
    """The pack directory of an earlier upload, or None (an id that is not one of ours names nothing)."""
    if not _ID.fullmatch(uid):
        return None
    pack_dir = root / uid / "pack"
    return pack_dir if (pack_dir / "pack.yaml").is_file() else None
