"""A dictionary that names one key twice is refused before the consent (PDF_MALFORMED).

Readers disagree on which value counts: pyHanko and pypdf keep the first, poppler (and so
Kyso's own consent preview) the last. Signing writes the page and the catalog again from
pyHanko's reading, so a page listing ``/Contents`` twice showed one amount before signing and
another in the signed copy, in every viewer, under a valid signature; a harmless first
``/OpenAction`` hid a script from the consent. pyHanko reports each repeat only as a warning
on its logger, so :func:`repeated_keys` collects those warnings (for this thread only) while
every object of the file is read once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

from agent.errors import KysoError

_PYHANKO_LOGGER = "pyhanko.pdf_utils.generic"
_REPEAT = "Multiple definitions in dictionary"
_SHOWN = 3  # repeats named in the refusal's detail


class _Collector(logging.Filter):
    """Takes pyHanko's repeated-key warnings raised on a thread that is collecting them."""

    def __init__(self) -> None:
        super().__init__()
        self.local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        found: list[str] | None = getattr(self.local, "found", None)
        if found is None or not str(record.msg).startswith(_REPEAT):
            # Shown as pyHanko's other modules are: the logger's own level is WARNING only so
            # that a silenced "pyhanko" cannot switch the check off.
            return record.levelno >= logging.getLogger(_PARENT).getEffectiveLevel()
        found.append(record.getMessage())
        return False  # said in the refusal instead


_PARENT = "pyhanko.pdf_utils"
_COLLECTOR = _Collector()
_LOGGER = logging.getLogger(_PYHANKO_LOGGER)
_LOGGER.setLevel(logging.WARNING)  # the trailer is read before the strict pass, with a warning
_LOGGER.addFilter(_COLLECTOR)


@contextlib.contextmanager
def repeated_keys() -> Iterator[list[str]]:
    """Collect pyHanko's "Multiple definitions in dictionary" warnings of this thread."""
    outer = getattr(_COLLECTOR.local, "found", None)
    found: list[str] = []
    _COLLECTOR.local.found = found
    try:
        yield found
    finally:
        _COLLECTOR.local.found = outer
        if outer is not None:
            outer.extend(found)


def read_every_object(reader: Any, found: list[str]) -> None:
    """Parse every object the newest revision of the file can reach by number (what a viewer
    resolves), adding each repeated key to ``found``. Streams are not decoded, and their bytes
    are not kept: a 50 MB file of page images is read through, not held.

    The pass reads strictly, where pyHanko raises at a repeated key whatever the logging
    settings (the warning alone is lost once pyHanko's logger is silenced); an object that
    strict reading refuses for another reason is read again leniently, where the warning is
    collected (:func:`repeated_keys`)."""
    from pyhanko.pdf_utils.generic import Reference, StreamObject
    from pyhanko.pdf_utils.misc import PdfStrictReadError

    xrefs, cache = reader.xrefs, reader.resolved_objects
    cache.clear()  # the catalog and page tree read on opening: read again, strictly
    seen: set[tuple[int, int]] = set()
    lenient = reader.strict
    reader.strict = True  # this reader only: another thread's reader is not concerned
    try:
        for revision in range(xrefs.total_revisions):
            for ref in xrefs.explicit_refs_in_revision(revision):
                key = (ref.generation, ref.idnum)
                if key in seen:
                    continue
                seen.add(key)
                try:
                    obj = reader.get_object(Reference(ref.idnum, ref.generation, reader))
                except PdfStrictReadError as exc:
                    if str(exc).startswith(_REPEAT):
                        found.append(str(exc))
                        continue
                    obj = _lenient(reader, ref, lenient)
                except Exception:
                    # An object no page or catalog reaches may be damaged: what is reached is
                    # checked where it is read; here only the repeated keys count.
                    continue
                # Kept: dictionaries (small, read again for the consent) and object streams
                # (decoded once for all the objects inside).
                if isinstance(obj, StreamObject) and obj.get("/Type") != "/ObjStm":
                    cache.pop(key, None)
    finally:
        reader.strict = lenient


def _lenient(reader: Any, ref: Any, strict: bool) -> Any:
    from pyhanko.pdf_utils.generic import Reference

    reader.strict = strict
    try:
        return reader.get_object(Reference(ref.idnum, ref.generation, reader))
    except Exception:
        return None
    finally:
        reader.strict = True


def refuse_repeats(found: list[str]) -> None:
    """PDF_MALFORMED naming the first repeated keys, when there are any."""
    if not found:
        return
    shown = "; ".join(found[:_SHOWN])
    more = f" (+{len(found) - _SHOWN} more)" if len(found) > _SHOWN else ""
    raise KysoError(
        "PDF_MALFORMED",
        {
            "detail": f"a dictionary names the same key twice, which viewers read differently: "
            f"{shown}{more}"
        },
    )
