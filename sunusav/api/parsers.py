"""The JSON parser every API shares."""

import json

from django.conf import settings
from rest_framework import exceptions, parsers


class NumbersNamingJSONParser(parsers.JSONParser):
    """Parse JSON, letting NaN and Infinity through so the serializer rejects them by field name.

    DRF's strict parser refuses them before any field is known, and the answer
    would not say which field was wrong. Numbers too big for a float (`1e400`)
    parse as infinity and are refused the same way.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json.loads(stream.read().decode(encoding))
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
