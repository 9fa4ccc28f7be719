"""The serving file's layout, shared by its reader (:mod:`c360.api.serving`) and its writer.

See :mod:`c360.api.serving` for the named databases and the header; here are the constants,
the encodings of keys and values, and what a file's name and fingerprint are made of.
"""

from __future__ import annotations

import hashlib
import struct

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
