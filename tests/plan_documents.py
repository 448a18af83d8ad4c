"""Tampering with a stored plan document in tests, whichever kind it is: a plan/1 or /2 zlib text, or a plan/3
container (engine.ledger.plan_columns), edited through the plan's canonical text."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable

from engine.ledger import plan_columns
from engine.plan.model import Visit, visit_frame


def text_of(blob: bytes) -> str:
    """The stored plan's canonical JSON text (a plan/3 document as plan/2's rules write it)."""
    if plan_columns.is_columnar(blob):
        return plan_columns.document_text(bytes(blob))[0]
    return zlib.decompress(bytes(blob)).decode("utf-8")


def rewrite(blob: bytes, edit: Callable[[str], str]) -> tuple[bytes, str]:
    """The stored document with its text edited, stored as the same kind; (bytes, their hash as a reader gets it)."""
    text = edit(text_of(blob))
    if not plan_columns.is_columnar(blob):
        return zlib.compress(text.encode("utf-8")), hashlib.sha256(text.encode("utf-8")).hexdigest()
    doc = json.loads(text)
    visits = [Visit.from_dict(v) for v in doc.pop("visit_list")]
    written = plan_columns.write(doc, [visit_frame(visits)])
    return written.data, written.sha256
