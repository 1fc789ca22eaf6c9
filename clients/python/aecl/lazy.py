"""Outputs whose content only shows when the caller reads them: a generator, another
iterator (``map``, ``zip``, a cursor), an async iterator and a file object. Recorded as they
are, they would be ``"<generator object read_mail at 0x...>"``: the text the caller then
reads (a page's link, an invoice's IBAN) was never shown to aecl, and a value taken from
it would pass the data-flow check as the model's own (red team round 27, flow D2).

So a guarded tool's lazy output is read to its end first. What was read is recorded,
and the caller gets the same content back in the same form: an iterator over the items,
an async iterator, or an in-memory file (``io.BytesIO`` or ``io.StringIO``, with the
original's ``name``). The caller's iteration then starts after the tool's work is done,
which is what recording before handing on means; a stream that never ends never returns.
"""

from __future__ import annotations

import collections.abc
import io
from typing import Any, AsyncIterator, List, Tuple

#: (what is recorded, what the caller gets) for one output.
Settled = Tuple[Any, Any]


def is_file(value: Any) -> bool:
    """A readable file object (an open file, a socket's ``makefile``, a response's raw
    stream): its content is what the caller reads, not its ``repr``."""
    if isinstance(value, (io.StringIO, io.BytesIO)):
        return False  # Already in memory: ``output_value`` records its content.
    if isinstance(value, io.IOBase):
        try:
            return value.readable()
        except (ValueError, OSError):  # A closed file: nothing left to read.
            return False
    return False


def is_lazy(value: Any) -> bool:
    """Whether ``value`` is an iterator or a file whose content only reading shows."""
    if isinstance(value, (str, bytes, bytearray, memoryview, dict, list, tuple)):
        return False
    if isinstance(value, io.IOBase):
        return is_file(value)  # A file iterates its lines, but is read whole.
    return isinstance(value, collections.abc.Iterator)


#: How deep a dict's or a list's lazy members are looked for (``output_value``'s own depth).
_MAX_DEPTH = 32


def settle(value: Any, depth: int = 0) -> Settled:
    """Reads a lazy output to its end; returns what to record and what to hand on. A
    value that is not lazy is both. An async iterator is not read here (see
    :func:`asettle`). A lazy member of a dict, a list or a tuple (a paginated client's
    ``{"messages": <iterator>}``) is read too: the dict or list is handed on with the
    member replaced by its replay, a tuple as a new tuple (red team round 31, flow F4:
    only the top level was read, and the member was recorded as its ``repr``)."""
    if is_file(value):
        return _settle_file(value)
    if is_lazy(value):
        items = list(value)
        return recorded_form(items), iter(items)
    if depth >= _MAX_DEPTH or not isinstance(value, (dict, list, tuple)):
        return value, value
    pairs = list(value.items() if isinstance(value, dict) else enumerate(value))
    settled = [(key, settle(item, depth + 1)) for key, item in pairs]
    if all(handed is item for (_, (_, handed)), (_, item) in zip(settled, pairs)):
        return value, value
    if isinstance(value, dict):
        for key, (_, handed) in settled:
            value[key] = handed
        return {key: recorded for key, (recorded, _) in settled}, value
    recorded_items = [recorded for _, (recorded, _) in settled]
    if isinstance(value, list):
        value[:] = [handed for _, (_, handed) in settled]
        return recorded_items, value
    return recorded_items, tuple(handed for _, (_, handed) in settled)


async def asettle(value: Any) -> Settled:
    """:func:`settle`, and an async iterator (an async generator, a stream) read too,
    handed on as an async iterator over the same items."""
    if isinstance(value, collections.abc.AsyncIterator):
        items = [item async for item in value]
        return recorded_form(items), _replay(items)
    return settle(value)


async def _replay(items: List[Any]) -> AsyncIterator:
    for item in items:
        yield item


def recorded_form(items: List[Any]) -> Any:
    """Chunks of text or bytes are recorded as the one text the caller puts together (a
    value split across two chunks is still one value); other items as the list."""
    if items and all(isinstance(item, str) for item in items):
        return "".join(items)
    if items and all(isinstance(item, (bytes, bytearray, memoryview)) for item in items):
        return b"".join(bytes(item) for item in items).decode("utf-8", "replace")
    return items


def _settle_file(file: Any) -> Settled:
    content = file.read()
    name = getattr(file, "name", None)
    try:
        file.close()
    except Exception:  # noqa: BLE001 - the content is read; a failed close loses none.
        pass
    copy: Any
    if isinstance(content, str):
        copy = io.StringIO(content)
        recorded: Any = content
    else:
        data = bytes(content or b"")
        copy = io.BytesIO(data)
        recorded = data.decode("utf-8", "replace")
    if name is not None:
        copy.name = name
    return recorded, copy
