"""A dictionary that names one key twice, with two different values, is refused before the
consent (PDF_MALFORMED).

Readers disagree on which value counts: pyHanko and pypdf keep the first, poppler (and so
Kyso's own consent preview) the last. Signing writes the page and the catalog again from
pyHanko's reading, so a page listing ``/Contents`` twice showed one amount before signing and
another in the signed copy, in every viewer, under a valid signature; a harmless first
``/OpenAction`` hid a script from the consent. A key written twice with the same value (office
scanners and LaTeX do it) means the same to every reader and is let through.

Every object of the file is read once, strictly (:func:`read_every_object`): pyHanko then raises
at a repeat whatever the logging settings, and the object's own bytes are read again by
:func:`differing_repeats` to compare the values. The trailer, read when the file is opened, is
checked the same way by a strict opening (:func:`trailer_repeats`); pyHanko's warnings are also
collected per thread (:func:`repeated_keys`), for what a lenient reading meets.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Iterator
from typing import Any, BinaryIO

from agent.errors import KysoError

_REPEAT = "Multiple definitions in dictionary"
_SHOWN = 3  # repeats named in the refusal's detail
# The pass reads every object: pyHanko takes about 0.5 ms each. Past these it stops, and the
# consent says Kyso could not check all of the file (agent.signing.pdf.active.INCOMPLETE).
PASS_SECONDS = 3.0
PASS_OBJECTS = 100_000

# pyHanko's dictionary reader and the module whose level it shows at.
_GENERIC = "pyhanko.pdf_utils.generic"
_PARENT = "pyhanko.pdf_utils"


class _Collector(logging.Filter):
    """Takes pyHanko's repeated-key warnings raised on a thread that is collecting them."""

    def __init__(self) -> None:
        super().__init__()
        self.local = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        found: list[str] | None = getattr(self.local, "found", None)
        if found is None or _REPEAT not in str(record.msg):
            # Shown as pyHanko's other modules are (the logger's own level is pinned to
            # WARNING below, so that a silenced "pyhanko" cannot switch the check off; its
            # DEBUG lines are not shown even with -v).
            return record.levelno >= logging.getLogger(_PARENT).getEffectiveLevel()
        found.append(record.getMessage())
        return False  # said in the refusal instead


_COLLECTOR = _Collector()
_LOGGER = logging.getLogger(_GENERIC)
_LOGGER.setLevel(logging.WARNING)
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


@contextlib.contextmanager
def _not_collecting() -> Iterator[None]:
    """A repeat already judged (same value twice) is not collected again when read leniently."""
    outer = getattr(_COLLECTOR.local, "found", None)
    _COLLECTOR.local.found = None
    try:
        yield
    finally:
        _COLLECTOR.local.found = outer


def trailer_repeats(stream: BinaryIO) -> list[str]:
    """Repeated keys in the trailer, found by opening the file strictly once (pyHanko raises at
    the first); empty when the strict opening fails for any other reason (the lenient reading's
    warning is then what :func:`repeated_keys` collects)."""
    from pyhanko.pdf_utils.misc import PdfStrictReadError

    from agent.signing.pdf.walkbudget import BudgetedReader

    position = stream.tell()
    try:
        BudgetedReader(stream, strict=True)  # its cross-reference limit, as every opening
    except PdfStrictReadError as exc:
        if _REPEAT in str(exc):
            return [str(exc)]
    except Exception:  # another strictness pyHanko enforces: not this check's concern
        pass
    finally:
        stream.seek(position)
    return []


def read_every_object(reader: Any, found: list[str]) -> bool:
    """Parse every object the newest revision of the file can reach by number (what a viewer
    resolves), adding each key written twice with different values to ``found``; False when
    the pass stopped at :data:`PASS_SECONDS` or :data:`PASS_OBJECTS`. Streams are not decoded,
    and their bytes are not kept: a 50 MB file of page images is read through, not held."""
    from pyhanko.pdf_utils.generic import Reference, StreamObject
    from pyhanko.pdf_utils.misc import PdfStrictReadError

    xrefs, cache = reader.xrefs, reader.resolved_objects
    cache.clear()  # the catalog and page tree read on opening: read again, strictly
    seen: set[tuple[int, int]] = set()
    deadline = time.monotonic() + PASS_SECONDS
    original = reader.strict
    reader.strict = True  # this reader only: another thread's reader is not concerned
    try:
        for revision in range(xrefs.total_revisions):
            for ref in xrefs.explicit_refs_in_revision(revision):
                key = (ref.generation, ref.idnum)
                if key in seen:
                    continue
                if len(seen) >= PASS_OBJECTS or time.monotonic() > deadline:
                    return False
                seen.add(key)
                obj = None
                try:
                    obj = reader.get_object(Reference(ref.idnum, ref.generation, reader))
                except PdfStrictReadError as exc:
                    if _REPEAT in str(exc):  # also when wrapped ("Can't read object stream")
                        differing = differing_repeats(_object_bytes(reader, ref))
                        if differing is None or differing:
                            found.append(f"object {ref.idnum}: {differing or str(exc)}")
                            continue
                        with _not_collecting():  # the same value twice: read as any reader
                            obj = _read_leniently(reader, ref, original)
                    else:  # another strict rule: read as usual, warnings collected
                        obj = _read_leniently(reader, ref, original)
                except Exception:
                    # A damaged object: the objects a page or the catalog reaches are read
                    # again for the consent, and refused there if they cannot be read.
                    continue
                # Kept: dictionaries (small, read again for the consent) and object streams
                # (decoded once for all the objects inside).
                if isinstance(obj, StreamObject) and obj.get("/Type") != "/ObjStm":
                    cache.pop(key, None)
        return True
    finally:
        reader.strict = original


def _read_leniently(reader: Any, ref: Any, original: bool) -> Any:
    from pyhanko.pdf_utils.generic import Reference

    reader.strict = original
    try:
        return reader.get_object(Reference(ref.idnum, ref.generation, reader))
    except Exception:
        return None
    finally:
        reader.strict = True


def _object_bytes(reader: Any, ref: Any) -> bytes | None:
    """The object's own bytes: from its offset in the file, or its place in its object
    stream; None when they cannot be found."""
    try:
        marker = reader.xrefs[ref]
        if isinstance(marker, int):
            reader.stream.seek(marker)
            window = reader.stream.read(1 << 20)
            end = window.find(b"endobj")
            return window[: end if end >= 0 else len(window)]
        from pyhanko.pdf_utils.generic import Reference

        holder = reader.get_object(Reference(marker.obj_stream_id, 0, reader))
        data = holder.data
        count, first = int(holder["/N"]), int(holder["/First"])
        numbers = [int(n) for n in data[:first].split()]
        offsets = numbers[1::2][:count]
        index = marker.ix_in_stream
        start = first + offsets[index]
        stop = first + offsets[index + 1] if index + 1 < len(offsets) else len(data)
        return bytes(data[start:stop])
    except Exception:
        return None


# --- a small reader of PDF object syntax, for the one object that repeats a key ----------------

_TOKEN = re.compile(
    rb"\s*(?:%[^\r\n]*[\r\n]*\s*)*"
    rb"(?P<tok><<|>>|\[|\]|\{|\}|\((?P<lit>)|<(?P<hex>[0-9A-Fa-f\s]*)>|/[^\s/<>\[\]\(\)\{\}%]*"
    rb"|[^\s/<>\[\]\(\)\{\}%]+)"
)


def differing_repeats(raw: bytes | None) -> list[str] | None:
    """The keys some dictionary in ``raw`` (one object's bytes) writes twice with different
    values, as "/Key"; None when the bytes cannot be read (then the repeat counts as
    differing)."""
    if raw is None:
        return None
    try:
        body = raw.split(b"obj", 1)[1] if re.match(rb"\s*\d+\s+\d+\s+obj", raw) else raw
        differing: list[str] = []
        _Parser(body, differing).value()
        return differing
    except (ValueError, IndexError, RecursionError):
        return None


class _Parser:
    """Values as comparable tuples; every dictionary's repeated keys compared as it is read."""

    def __init__(self, data: bytes, differing: list[str]) -> None:
        self.data = data
        self.pos = 0
        self.differing = differing

    def token(self) -> bytes:
        match = _TOKEN.match(self.data, self.pos)
        if match is None:
            raise ValueError("end of object")
        self.pos = match.end()
        if match.group("lit") is not None:
            return b"(" + self._literal()
        return match.group("tok")

    def _literal(self) -> bytes:
        depth, start = 1, self.pos
        while depth:
            char = self.data[self.pos : self.pos + 1]
            if not char:
                raise ValueError("unterminated string")
            if char == b"\\":
                self.pos += 1
            elif char == b"(":
                depth += 1
            elif char == b")":
                depth -= 1
            self.pos += 1
        return self.data[start : self.pos - 1]

    def value(self, depth: int = 0) -> Any:
        if depth > 200:
            raise ValueError("nested too deep")
        tok = self.token()
        if tok == b"<<":
            return self._dictionary(depth)
        if tok == b"[":
            items: list[Any] = []
            while True:
                mark = self.pos
                if self.token() == b"]":
                    return ("array", tuple(items))
                self.pos = mark
                items.append(self.value(depth + 1))
        if tok.isdigit():  # "n g R" is one value
            mark = self.pos
            try:
                generation, keyword = self.token(), self.token()
                if generation.isdigit() and keyword == b"R":
                    return ("ref", int(tok), int(generation))
            except ValueError:
                pass
            self.pos = mark
        return ("atom", tok)

    def _dictionary(self, depth: int) -> Any:
        entries: dict[bytes, Any] = {}
        while True:
            key = self.token()
            if key == b">>":
                return ("dict", tuple(sorted(entries.items())))
            if not key.startswith(b"/"):
                raise ValueError("a dictionary key is not a name")
            value = self.value(depth + 1)
            if key in entries and entries[key] != value:
                self.differing.append(key.decode("latin-1"))
            entries.setdefault(key, value)


def refuse_repeats(found: list[str]) -> None:
    """PDF_MALFORMED naming the first keys written twice with different values, if any."""
    if not found:
        return
    shown = "; ".join(found[:_SHOWN])
    more = f" (+{len(found) - _SHOWN} more)" if len(found) > _SHOWN else ""
    raise KysoError(
        "PDF_MALFORMED",
        {
            "detail": "a dictionary names the same key twice with different values, which "
            f"viewers read differently: {shown}{more}"
        },
    )
