"""The orjson renderer writes the same JSON values DRF's JSONRenderer does."""

import datetime as dt
import json
import uuid
from decimal import Decimal

from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer

from sunusav.api.renderers import OrjsonRenderer


def test_same_values_as_drf():
    data = {
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "when": dt.datetime(2026, 11, 24, 12, 30, 5, 123456, tzinfo=dt.UTC),
        "score": Decimal("0.731"),
        "label": gettext_lazy("English"),
        "errors": {1: {"amount_sats": ["must be >= 1"]}},
        "text": 'é " \\ \t',
        "items": [1, 2.5, None, True],
    }
    ours = json.loads(OrjsonRenderer().render(data))
    theirs = json.loads(JSONRenderer().render(data))
    assert ours == theirs
    assert ours["when"].endswith("Z") and ours["errors"] == {"1": {"amount_sats": ["must be >= 1"]}}


def test_nothing_renders_empty():
    assert OrjsonRenderer().render(None) == b""


def test_lone_surrogates_in_echoed_input_render_as_replacement_characters():
    """An error naming a bad key must not become a 500: orjson refuses lone surrogates, the renderer replaces them."""
    from rest_framework.exceptions import ErrorDetail

    data = {"\ud800": [ErrorDetail("Unknown field.", code="unknown")], "kind": ["«\udfff» is not a valid choice."]}
    body = OrjsonRenderer().render(data)
    assert json.loads(body) == {"\ufffd": ["Unknown field."], "kind": ["«\ufffd» is not a valid choice."]}
    # A valid pair stays the one character it encodes.
    assert json.loads(OrjsonRenderer().render({"x": "\U0001f600", "y": "\ud800"})) == {"x": "\U0001f600", "y": "\ufffd"}
