"""The record of the last full check of the loopback TLS material, so that a start need not
repeat it.

A full check (:func:`agent.localtls.plan.inspect_material`) parses the three files with
cryptography: the CA chain, the key pair, the names, the dates. Its verdict depends only on the
files' bytes and on the clock, so the agent keeps it with a digest of those bytes and the
window of time in which the answer stays "use": the same bytes inside that window need no
second check (and no cryptography at start). Other bytes, an unreadable record or a time
outside the window mean a full check, which writes a new record. The record sits beside the
key it describes: whoever could rewrite it could rewrite the key itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

RECORD = "checked.json"
_VERSION = 1


@dataclass(frozen=True)
class CheckedMaterial:
    """What a full check found, for material with this digest."""

    digest: str  # material_digest() of the CA, server certificate and key files
    not_before: dt.datetime  # the later of the two certificates' starts
    renew_from: dt.datetime  # from then on, the check says "expiring": renew
    not_after: dt.datetime
    ca_common_name: str
    ca_sha256: str
    ca_sha1: str

    def still_good(self, digest: str, now: dt.datetime) -> bool:
        """True when the files are the ones checked and ``now`` is inside the usable window."""
        return self.digest == digest and self.not_before <= now < self.renew_from

    def to_bytes(self) -> bytes:
        """The record's file content."""
        return json.dumps(
            {
                "version": _VERSION,
                "digest": self.digest,
                "not_before": self.not_before.isoformat(),
                "renew_from": self.renew_from.isoformat(),
                "not_after": self.not_after.isoformat(),
                "ca_common_name": self.ca_common_name,
                "ca_sha256": self.ca_sha256,
                "ca_sha1": self.ca_sha1,
            },
            indent=1,
        ).encode()


def material_digest(*files: bytes | None) -> str:
    """SHA-256 over the files' bytes, each length-prefixed (a missing file counts as absent,
    not as empty)."""
    h = hashlib.sha256()
    for content in files:
        if content is None:
            h.update(b"\xff" * 8)
            continue
        h.update(len(content).to_bytes(8, "big"))
        h.update(content)
    return h.hexdigest()


def parse_record(data: bytes | None) -> CheckedMaterial | None:
    """The record in ``data``; None when absent, of another version or malformed in any way."""
    if not data:
        return None
    try:
        raw = json.loads(data)
        if raw.get("version") != _VERSION:
            return None
        times = [
            dt.datetime.fromisoformat(raw[k]) for k in ("not_before", "renew_from", "not_after")
        ]
        if any(t.tzinfo is None for t in times):
            return None
        texts = [raw[k] for k in ("digest", "ca_common_name", "ca_sha256", "ca_sha1")]
        if not all(isinstance(t, str) and t for t in texts):
            return None
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return CheckedMaterial(texts[0], times[0], times[1], times[2], *texts[1:])
