"""The serving file's layout, shared by its reader (:mod:`c360.api.serving`) and its writer.

See :mod:`c360.api.serving` for the named databases and the header; here are the constants,
the encodings of keys and values, and what a file's name and fingerprint are made of.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from typing import Any

from c360.spec.validate import Spec

FORMAT = 1
SENTINEL = "c360-serving-complete"
MAP_SIZE = 1 << 38  # address space only: the file grows with what is written
CHUNK = 10_000  # records per write transaction (bounds the writer's dirty pages)
_META = struct.Struct("<Qd")  # ``k``: a stored record's hash and when it last changed
_TIME = struct.Struct("<d")  # ``s:<consumer>``: when the projection last changed


class ServingFileError(Exception):
    """A serving file that cannot be served: missing, truncated, incomplete or another snapshot's."""


def record_hash(data: bytes) -> int:
    """A hash of a stored record that is the same in every process (``hash()`` is salted)."""
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def _email_key(email: str) -> bytes:
    raw = email.encode()
    # LMDB keys are at most 511 bytes: longer addresses are indexed by their digest.
    return raw if len(raw) <= 400 else b"#" + hashlib.blake2b(raw, digest_size=16).digest()


def fingerprint(version: int, run_id: str, spec: Spec, mask_key: bytes, mark: int = 0) -> str:
    """What a file's answers depend on: the snapshot, the last erasure applied to it in place
    (``mark``, its edit sequence number), the spec and the mask key."""
    h = hashlib.blake2b(digest_size=8)
    for part in (str(FORMAT), str(version), str(mark), run_id, spec.text, hashlib.sha256(mask_key).hexdigest()):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def file_name(version: int, fp: str) -> str:
    return f"v{version}-{fp}.lmdb"


def _max_dbs(spec: Spec) -> int:
    return 3 * len(spec.model.consumers) + 4


Reprojected = dict[str, dict[str, tuple[bytes, list[str]]]]
Overlay = tuple[dict[str, bytes | None], dict[str, float | None], dict[str, tuple[str, ...]]]


def overlaid(view: Any, snap: Any, wanted: Sequence[str], now: Reprojected) -> Overlay:
    """A shared view's overlay with ``wanted`` re-projected (``now``): bodies, own change times, e-mails.

    ``view`` is a file or Redis view (``overlay``, ``osince``, ``oemails``, ``consumer``, ``get``,
    ``changed_at``); an unchanged body keeps its change time, a removed one is served as gone.
    """
    overlay, osince = dict(view.overlay), dict(view.osince)
    oemails = {e: tuple(i for i in ids if i not in wanted) for e, ids in view.oemails.items()}
    for cid in wanted:
        old = view.get(cid)
        body, found = now.get(cid, {}).get(view.consumer, (None, []))
        overlay[cid] = body
        if body is None:
            osince[cid] = None
            continue
        osince[cid] = view.changed_at(snap, cid) if old == body else None
        for e in found:
            oemails[e] = (*oemails.get(e, ()), cid)
    return overlay, osince, {e: ids for e, ids in oemails.items() if ids}
