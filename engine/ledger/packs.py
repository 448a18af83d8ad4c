"""Rule-pack versions by content: the hash over every file of a pack and its parents, stored once, restorable.

The semantic hash (`Pack.hash`) covers what decides a result (under suijian-pack-2 the plan policy and the
catalogue too); the files hash covers every byte of every file (the cases and comments too), so a pack version
is exactly what was on disk.
"""

from __future__ import annotations

import io
import posixpath
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlalchemy.engine import Connection

from engine.ledger import blobs, canonical
from engine.rules import Pack, load_pack
from entities.errors import InputError, PackError, PackVersionProblem, UnknownScheme

_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_PACKAGED = Path(__file__).resolve().parents[2] / "rules"


@dataclass(frozen=True)
class PackVersion:
    files_hash: str
    root: str  # the pack's directory relative to the common root of its layers
    files: dict[str, bytes]  # path relative to the common root -> bytes


def _layers(directory: Path) -> list[tuple[Path, str | None]]:
    """The pack directory and its ancestors, resolved the way the loader does (next to it, then rules/), each
    with the `parent` reference that led from it to the next."""
    found: list[tuple[Path, str | None]] = []
    current: Path | None = directory.resolve()
    while current is not None and all(current != d for d, _ in found):
        try:
            manifest = yaml.safe_load((current / "pack.yaml").read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            manifest = {}
        parent = manifest.get("parent") if isinstance(manifest, dict) else None
        ref = parent.strip() if isinstance(parent, str) and parent.strip() else None
        found.append((current, ref))
        nxt = None
        if ref is not None:
            for candidate in (current / ref, _PACKAGED / ref):
                if candidate.is_dir():
                    nxt = candidate.resolve()
                    break
        current = nxt
    return found


def _layout(directory: Path) -> list[tuple[Path, str]]:
    """Each layer's real directory and its place in a stored version: the pack under its own name, every
    parent where the pack's `parent` reference finds it first. The place depends on names and references
    only, never on where the pack sits on disk (the same pack hashes the same in /tmp and in a checkout)."""
    layers = _layers(directory)
    base = layers[0][0]
    prefix: list[str] = []
    while True:
        places = [posixpath.join(*prefix, base.name)]
        for _, ref in layers[:-1]:
            places.append(posixpath.normpath(posixpath.join(places[-1], str(ref))))
        if not any(p == ".." or p.startswith("../") for p in places):
            return [(d, p) for (d, _), p in zip(layers, places, strict=True)]
        ancestors = base.parents
        if len(prefix) >= len(ancestors) - 1:
            raise InputError(f"{directory}: a parent reference climbs above the file system root")
        prefix.insert(0, ancestors[len(prefix)].name)


def _files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).parts
        if path.is_file() and not any(p.startswith(".") or p == "__pycache__" for p in rel) and path.suffix != ".pyc":
            yield path


def files_hash(files: dict[str, bytes], scheme: str = canonical.PACK_FILES) -> str:
    """A pack version's hash over every file (canonical.PACK_FILES)."""
    return canonical.pack_files_hash(files, scheme)


# Everything reading a damaged zip can raise: a flipped byte surfaces as any of these, depending on where it falls
# (the directory, a header, the deflate stream, the CRC).
_UNREADABLE = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    KeyError,
    OSError,
    EOFError,
    ValueError,
    NotImplementedError,
    RuntimeError,
    UnicodeDecodeError,
)


def version_of(pack: Pack) -> PackVersion:
    """Every file of the pack and its parents, with paths as laid out by `_layout`."""
    layout = _layout(Path(pack.directory))
    files: dict[str, bytes] = {}
    for real, place in layout:
        for path in _files(real):
            files[f"{place}/{path.relative_to(real).as_posix()}"] = path.read_bytes()
    return PackVersion(files_hash(files), layout[0][1], files)


def save(conn: Connection, version: PackVersion) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo(".root", _ZIP_TIME), version.root.encode(), compress_type=zipfile.ZIP_STORED)
        for rel in sorted(version.files):
            zf.writestr(
                zipfile.ZipInfo(f"files/{rel}", _ZIP_TIME), version.files[rel], compress_type=zipfile.ZIP_DEFLATED
            )
    blobs.put(conn, "pack", version.files_hash, buf.getvalue())


def fetch(conn: Connection, digest: str, scheme: str = canonical.PACK_FILES) -> PackVersion:
    """The stored pack version `digest`, checked against its hash (made by `scheme`)."""
    data = blobs.get(conn, digest)
    if data is None:
        raise PackVersionProblem(digest, "is missing from the store")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            root = zf.read(".root").decode()
            files = {i.filename[len("files/") :]: zf.read(i) for i in zf.infolist() if i.filename.startswith("files/")}
    except _UNREADABLE as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PackVersionProblem(digest, f"is unreadable ({detail})") from None
    unsafe = [rel for rel in (root, *files) if rel.startswith("/") or ".." in rel.split("/") or "\\" in rel]
    if unsafe:
        raise PackVersionProblem(digest, f"holds an unsafe path {unsafe[0]!r}; it was not written by suijian")
    found = files_hash(files, scheme)
    if found != digest:
        raise PackVersionProblem(digest, f"has been altered: its files hash to {found[:12]}")
    return PackVersion(digest, root, files)


@contextmanager
def restored(
    conn: Connection, digest: str, semantic_hash: str | None = None, scheme: str = canonical.PACK
) -> Iterator[Pack]:
    """The pack version written to a temporary directory and loaded from there (as it was when recorded);
    `semantic_hash` is the pack hash the entry recorded, made by the pack scheme `scheme` the entry names."""
    version = fetch(conn, digest)
    with tempfile.TemporaryDirectory(prefix="suijian-pack-") as tmp:
        for rel, data in version.files.items():
            path = Path(tmp, rel)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        try:
            pack = load_pack(Path(tmp, version.root))
        except PackError as exc:
            raise InputError(f"rule-pack version {digest[:12]} no longer loads: {exc}") from None
        found = pack.hash_under(scheme)
        if found is None:
            raise UnknownScheme(f"{scheme!r} is not a pack hashing scheme this suijian knows")
        if semantic_hash is not None and found != semantic_hash:
            raise InputError(
                f"rule-pack version {digest[:12]} loads as pack hash {found[:12]} ({scheme}), not the recorded "
                f"{semantic_hash[:12]}; this suijian reads packs differently from the one that made the run"
            )
        yield pack
