"""The pack's catalogue is the authority on check items; the store's `check_item` table is an import of it.

A plan draws items by their targets, kinds, methods and qualifications, so the items a plan reads must be the
ones of the pack that graded and plans: `require_same_catalogue(pack, store_items)` refuses, in one line naming
the first differing items and fields, a store whose check items differ from the pack's catalogue (a pack and a
different catalogue never mix silently). A pack without a catalogue (a test pack, a custom pack that names none)
leaves the store's items as they are.

`catalogue_hash(items)` is the hash a ledger entry records for the catalogue (record.save_pack): the snapshot
scheme over the items as a plan's snapshot keeps them (table `items`, one JSON record per item), so the items in
a plan's snapshot can be compared with the catalogue its entry names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.ledger import canonical
from engine.rules.data import CATALOGUE
from engine.rules.model import Pack
from entities.errors import InputError
from entities.models import CheckItemCreate

_SHOWN = 3  # differing items named in the refusal; the rest are counted


def pack_items(pack: Pack) -> list[CheckItemCreate] | None:
    """The check items of the pack's catalogue (its own, or the nearest parent's), or None if it has none.
    A loaded pack's catalogue passed `rules check`, so every item validates."""
    data = pack.data.get(CATALOGUE)
    if not isinstance(data, Mapping) or not isinstance(data.get("items"), list):
        return None
    return [CheckItemCreate.model_validate(raw) for raw in data["items"]]


def _records(items: Sequence[CheckItemCreate]) -> dict[str, dict[str, Any]]:
    return {i.code: i.model_dump(mode="json") for i in items}


def catalogue_hash(items: Sequence[CheckItemCreate]) -> str:
    """The hash of a catalogue's items, as a plan's snapshot table `items` (canonical.SNAPSHOT)."""
    return canonical.content_hash({"items": list(_records(items).values())}, canonical.SNAPSHOT)


def catalogue_drift(authority: Sequence[CheckItemCreate], store_items: Sequence[CheckItemCreate]) -> list[str]:
    """How the store's items differ from the pack's catalogue, one phrase per item, by code."""
    want, have = _records(authority), _records(store_items)
    out = []
    for code in sorted(set(want) | set(have)):
        if code not in have:
            out.append(f"{code} is missing from the store")
        elif code not in want:
            out.append(f"{code} is in the store but not in the pack's catalogue")
        else:
            fields = [k for k in sorted(set(want[code]) | set(have[code])) if want[code].get(k) != have[code].get(k)]
            if fields:
                out.append(f"{code} differs in {', '.join(fields)}")
    return out


def require_same_catalogue(pack: Pack, store_items: Sequence[CheckItemCreate]) -> None:
    """Refuse (InputError, one line) a store whose check items differ from the pack's catalogue."""
    authority = pack_items(pack)
    if authority is None:
        return
    drift = catalogue_drift(authority, store_items)
    if not drift:
        return
    more = f" and {len(drift) - _SHOWN} more" if len(drift) > _SHOWN else ""
    raise InputError(
        f"the store's check items differ from the catalogue of pack {pack.name} {pack.version} "
        f"({'; '.join(drift[:_SHOWN])}{more}); the pack's catalogue is the authority: load its catalogue.yaml "
        "into the store, or plan with the pack whose catalogue the store holds"
    )
