"""Issue 18: no token, secret query value or phone number reaches a JSON log line, whichever field carries it.

Django's `django.request` records carry the request object itself as the
`request` extra; its text holds the path and the query string, which the
message alone does not show. The lines here go through the project's own
LOGGING pipeline: its `redact` filter, then its JSON formatter.
"""

import io
import json
import logging

import pytest
from django.test import Client
from django.utils.module_loading import import_string

from sunusav.logs import PHONE_RE

pytestmark = pytest.mark.django_db

TOKEN = "log-audit-token-0123456789abcdefghij"
PHONES = ["+221771234567", "+221 77 123 45 67", "771234567", "00221771234567", "221.77.123.45.67", "77-123-45-67"]


@pytest.fixture
def json_lines(settings):
    """Capture every record of the test as the configured handlers write it; return a reader of the lines."""
    settings.AI_INTERNAL_TOKENS = [TOKEN]
    assert "redact" in settings.LOGGING["handlers"]["console"]["filters"]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(import_string(settings.LOGGING["filters"]["redact"]["()"])())
    handler.setFormatter(import_string(settings.LOGGING["formatters"]["json"]["()"])())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


def _leaks(lines: list[dict]) -> list[str]:
    texts = [json.dumps(line, ensure_ascii=False) for line in lines]
    return [
        text
        for text in texts
        if TOKEN in text or "hunter2" in text or "s3cr3t-value" in text or PHONE_RE.search(text) or "771234567" in text
    ]


def test_a_token_in_the_query_string_is_masked_in_django_request_records(json_lines):
    client = Client()
    response = client.get(f"/api/fraud/health?token={TOKEN}")  # no header: 401, logged by django.request
    assert response.status_code == 401
    client.get(f"/no-such-page?token={TOKEN}&password=hunter2&secret=s3cr3t-value&page=2")
    lines = json_lines()
    logged = [line for line in lines if line["logger"] == "django.request"]
    assert len(logged) == 2 and all("request" in line for line in logged)
    assert not _leaks(lines), _leaks(lines)
    assert "page=2" in logged[1]["request"]  # other query values are kept: the line stays useful
    assert "token=[" in logged[1]["request"] and "password=[secret]" in logged[1]["request"]


@pytest.mark.parametrize("phone", PHONES)
def test_a_phone_number_in_the_path_is_masked_in_every_field(json_lines, api_client, phone):
    api_client.credentials(HTTP_X_INTERNAL_TOKEN=TOKEN)
    response = api_client.get(f"/api/credit/members/{phone}/explanation")
    assert response.status_code in (400, 404)
    Client().get(f"/no-such-member/{phone}/page")
    lines = json_lines()
    assert [line for line in lines if line["logger"] == "django.request"]
    assert not _leaks(lines), _leaks(lines)


def test_extras_arguments_exceptions_and_stacks_are_masked(json_lines):
    logger = logging.getLogger("sunusav.test")
    logger.info("caller %s called from %s", TOKEN, "+221 77 123 45 67")
    logger.info(
        "payload",
        extra={
            "payload": {"phone": "771234567", "nested": [{"msisdn": "00221771234567"}], "ok": 1},
            "url": f"https://example.sn/cb?access_token={TOKEN}",
            "thing": type("Obj", (), {"__str__": lambda self: f"obj with {TOKEN}"})(),
        },
    )
    try:
        raise ValueError(f"bad token {TOKEN} for 77 123 45 67")
    except ValueError:
        logger.exception("failed")
    logger.warning("here", stack_info=True, extra={"note": "password=hunter2"})
    lines = json_lines()
    assert len(lines) == 4
    assert not _leaks(lines), _leaks(lines)
    assert lines[1]["payload"]["ok"] == 1 and lines[1]["payload"]["phone"] == "[phone]"
    assert "ValueError: bad token [token]" in lines[2]["exc"]


def test_the_plain_format_is_masked_too(settings):
    """LOG_FORMAT=plain: the same filter, logging's own formatter (which formats exceptions itself)."""
    settings.AI_INTERNAL_TOKENS = [TOKEN]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(import_string(settings.LOGGING["filters"]["redact"]["()"])())
    handler.setFormatter(logging.Formatter(settings.LOGGING["formatters"]["plain"]["format"]))
    logger = logging.getLogger("sunusav.test.plain")
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError(f"token {TOKEN}")
        except RuntimeError:
            logger.exception("phone %s", "+221771234567")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert TOKEN not in text and not PHONE_RE.search(text) and "[token]" in text


def test_every_token_set_during_the_run_is_known_to_the_final_audit(settings, configured_tokens):
    settings.AI_INTERNAL_TOKENS = ["audit-me-later-0123456789abcdef"]
    settings.AI_INTERNAL_TOKENS = [settings.DEV_INTERNAL_TOKEN]  # changed back: the audit still knows it
    assert "audit-me-later-0123456789abcdef" in configured_tokens
