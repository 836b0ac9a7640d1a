"""The JSON parser every API shares (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES).

Bad JSON is a 400 that says what is wrong, never a crash further down:
- NaN, Infinity and numbers too big for a float get through, so the
  serializer refuses them by field name;
- a key given twice in one object is refused, naming the key (Python's json
  would silently keep the last one, and two readers of the body could then
  disagree on what was sent);
- nesting deeper than MAX_DEPTH is refused (the serializers, the audit row's
  orjson and the error renderer all recurse over the data);
- a lone UTF-16 surrogate (`"\\ud800"`) is refused: it is not a character,
  and no UTF-8 encoder (orjson, the database) takes it.
"""

import json
import re

from django.conf import settings
from rest_framework import exceptions, parsers

# Three levels are enough for every body the API takes ({"items": [{...}]});
# 32 leaves room for nested metadata while keeping every recursion short.
MAX_DEPTH = 32
_CONTAINERS = frozenset((dict, list))
# A lone surrogate can only come from a \uD800-\uDFFF escape: UTF-8 decoding
# already refuses the raw bytes. Seeing one is rare, so only then are strings walked.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class _DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _object_without_duplicates(pairs: list[tuple[str, object]]) -> dict:
    """Return the object of `pairs`; raise _DuplicateKey when a key comes twice."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_object_without_duplicates)


def _deeper_than(value: object, limit: int) -> bool:
    """Return whether containers in `value` nest more than `limit` levels (a scalar is level 0)."""
    level = [value] if type(value) in _CONTAINERS else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below = []
        for node in level:
            children = node.values() if type(node) is dict else node
            if not _CONTAINERS.isdisjoint(map(type, children)):
                below.extend(child for child in children if type(child) in _CONTAINERS)
        level = below
    return False


def _has_lone_surrogate(value: object) -> bool:
    """Return whether a string (key or value) anywhere in `value` holds an unpaired surrogate."""
    stack = [value]
    while stack:
        node = stack.pop()
        if type(node) is str:
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif type(node) is dict:
            stack.extend(node)
            stack.extend(node.values())
        elif type(node) is list:
            stack.extend(node)
    return False


class NumbersNamingJSONParser(parsers.JSONParser):
    """Parse JSON, letting NaN and Infinity through so the serializer rejects them by field name.

    DRF's strict parser refuses them before any field is known, and the answer
    would not say which field was wrong. Numbers too big for a float (`1e400`)
    parse as infinity and are refused the same way. Duplicate keys, nesting
    past MAX_DEPTH and lone surrogates are refused here (module docstring).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
            data = _DECODER.decode(text)
        except _DuplicateKey as exc:
            raise exceptions.ParseError(f"JSON parse error - duplicate key {exc.key!r}.") from exc
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            # RecursionError: Python's own limit (~1,000 levels) came before ours.
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
        # Counting brackets is a fast bound (strings may hold some): most bodies skip the walk.
        if text.count("[") + text.count("{") > MAX_DEPTH and _deeper_than(data, MAX_DEPTH):
            raise exceptions.ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.")
        if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(data):
            raise exceptions.ParseError("JSON parse error - a string holds a lone surrogate (not valid Unicode).")
        return data
