"""Issue 18: bad input is a JSON 400 (or 411/413) naming what is wrong, never an HTML 500.

Each case below crashed or was misread before: integers past 64 bits, 10,000
levels of nesting, lone surrogates echoed in errors, duplicate keys,
upper-case media types, chunked bodies.
"""

import contextlib
import http.client
import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest
from django.test import Client

from alerts.models import AIMetric
from sunusav.models import Payment
from tests.factories import MemberFactory
from tests.jobs_support import database_url
from tests.live_server import ROOT, TOKEN, LiveServer
from tests.sunusav.test_security import CREDIT, FRAUD, POSTS

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(settings):
    """A client with the token that returns a server error as a response (HTML 500), not by raising."""
    return Client(raise_request_exception=False, HTTP_X_INTERNAL_TOKEN=settings.AI_INTERNAL_TOKENS[0])


def _post(client, url, raw: str | bytes, content_type="application/json"):
    return client.post(url, data=raw, content_type=content_type)


def _json_400(response) -> dict:
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)  # strict: the body must be valid UTF-8 JSON


# --- Integers past 64 bits ------------------------------------------------------------------


@pytest.mark.parametrize("field", ["contributions_count", "community_endorsements"])
@pytest.mark.parametrize("value", [2**64, 2**63, 10**30, 1_000_001])
def test_credit_counts_past_their_maximum_are_400_naming_the_field(client, field, value):
    body = {**CREDIT, field: value}
    assert field in _json_400(_post(client, "/api/credit/predict", json.dumps(body)))
    errors = _json_400(_post(client, "/api/credit/batch-predict", json.dumps({"items": [CREDIT, body]})))
    item_errors = errors["items"]
    assert field in (item_errors["1"] if isinstance(item_errors, dict) else item_errors[1]), errors
    assert AIMetric.objects.count() == 0


def test_credit_counts_at_their_maximum_are_accepted(client):
    body = {**CREDIT, "contributions_count": 1_000_000, "community_endorsements": 1_000_000}
    assert _post(client, "/api/credit/predict", json.dumps(body)).status_code == 200


@pytest.mark.parametrize("field", ["tontine_contributions", "mobile_tx_volume", "avg_payment_delay_days"])
def test_credit_float_given_an_integer_beyond_any_float_is_400(client, field):
    raw = json.dumps({**CREDIT, field: 0}).replace(f'"{field}": 0', f'"{field}": 1{"0" * 400}')
    assert field in _json_400(_post(client, "/api/credit/predict", raw))


def test_every_integer_field_has_a_documented_maximum():
    schema = Client().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    unbounded = []
    for name, component in schema["components"]["schemas"].items():
        if not name.endswith("Request"):
            continue  # inputs only
        for field, spec in component.get("properties", {}).items():
            if spec.get("type") == "integer" and "maximum" not in spec:
                unbounded.append(f"{name}.{field}")
    assert not unbounded


def test_cycle_completed_round_number_past_64_bits_is_400(client):
    raw = json.dumps({"tontine_id": str(uuid.uuid4()), "round_number": 2**64})
    assert "round_number" in _json_400(_post(client, "/api/events/cycle-completed", raw))


# --- Nesting ------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", list(POSTS))
@pytest.mark.parametrize("shape", ["array", "object", "in a field"])
def test_deep_nesting_is_400_on_every_api_view(client, url, shape):
    depth = 10_000
    if shape == "array":
        raw = "[" * depth + "]" * depth
    elif shape == "object":
        raw = '{"a":' * depth + "1" + "}" * depth
    else:
        raw = json.dumps(POSTS[url])[:-1] + ', "user_id": ' + "[" * depth + "]" * depth + "}"
    payload = _json_400(_post(client, url, raw))
    assert "detail" in payload


def test_nesting_just_past_the_limit_is_refused_and_at_the_limit_is_parsed(client):
    from sunusav.api.parsers import MAX_DEPTH

    at_limit = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    past = "[" + at_limit + "]"
    assert "nested deeper" in _json_400(_post(client, "/api/events/payment", past))["detail"]
    # At the limit the parser lets it through: the serializer then refuses the shape.
    detail = _json_400(_post(client, "/api/events/payment", at_limit))
    assert "nested" not in json.dumps(detail)


# --- Lone surrogates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "raw"),
    [
        ("/api/fraud/check", json.dumps({**FRAUD, "\ud800": 1})),
        ("/api/credit/predict", json.dumps({**CREDIT, "\udfff": 1})),
        (
            "/api/events/payment",
            json.dumps(
                {"payment_id": str(uuid.uuid4()), "user_id": str(uuid.uuid4()), "amount_sats": 5, "kind": "\ud800"}
            ),
        ),
        ("/api/fraud/check", json.dumps({**FRAUD, "user_id": "a\ud800b"})),
    ],
    # Stable ids (one body holds fresh uuids): pytest-xdist's workers must collect the same names.
    ids=["fraud-key", "credit-key", "event-value", "fraud-user-id"],
)
def test_lone_surrogates_are_a_400_json_answer(client, url, raw):
    assert "\\ud8" in raw or "\\udf" in raw
    _json_400(_post(client, url, raw))


def test_a_valid_surrogate_pair_is_still_accepted(client):
    # "\ud83d\ude00" is one character (U+1F600), written as an escaped pair.
    raw = json.dumps({**FRAUD, "user_id": "emoji-\U0001f600"})
    assert "\\ud83d\\ude00" in raw
    assert _post(client, "/api/fraud/check", raw).status_code == 200


# --- Duplicate keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/fraud/check", "/api/credit/predict", "/api/events/payment"])
def test_duplicate_keys_are_400_naming_the_key(client, url):
    body = json.dumps(POSTS[url])
    raw = body[:-1] + ', "user_id": "someone-else"}'
    payload = _json_400(_post(client, url, raw))
    assert "duplicate key 'user_id'" in payload["detail"]
    assert AIMetric.objects.count() == 0


def test_a_duplicate_key_inside_a_batch_item_is_400(client):
    item = json.dumps(FRAUD)[:-1] + ', "amount_sats": 1}'
    payload = _json_400(_post(client, "/api/fraud/batch-check", '{"items": [' + item + "]}"))
    assert "amount_sats" in payload["detail"]


# --- Media types --------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", list(POSTS))
@pytest.mark.parametrize("content_type", ["APPLICATION/JSON", "Application/Json; charset=UTF-8", "application/JSON"])
def test_media_types_are_case_insensitive_on_every_view(client, url, content_type):
    lower = _post(client, url, json.dumps(POSTS[url]))
    other = _post(client, url, json.dumps(POSTS[url]), content_type=content_type)
    assert lower.status_code != 415
    assert other.status_code == lower.status_code, (url, other.content)
    assert other["Content-Type"] == "application/json"


def test_other_media_types_are_still_415(client):
    response = _post(client, "/api/fraud/check", json.dumps(FRAUD), content_type="text/plain")
    assert response.status_code == 415 and response["Content-Type"] == "application/json"


# --- Chunked bodies, over real HTTP ------------------------------------------------------------------


def _chunked_post(base_url: str, path: str, body: bytes, chunk: int = 1000) -> tuple[int, dict]:
    """POST `body` with Transfer-Encoding: chunked and no Content-Length; return status and JSON.

    A server that cannot read a chunked body answers (411) after the headers
    and closes: the rest of the body then meets a closed socket. That race is
    the transport's, not the answer's, so the body goes with the headers in
    one write, a broken pipe while writing is ignored, and a connection reset
    before the answer is read is tried again (three times at most).
    """
    host, port = base_url.removeprefix("http://").split(":")
    payload = b"".join(
        f"{len(body[start : start + chunk]):x}\r\n".encode() + body[start : start + chunk] + b"\r\n"
        for start in range(0, len(body), chunk)
    )
    payload += b"0\r\n\r\n"
    for attempt in range(3):
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            connection.putrequest("POST", path)
            connection.putheader("Content-Type", "application/json")
            connection.putheader("X-Internal-Token", TOKEN)
            connection.putheader("Transfer-Encoding", "chunked")
            # Answered before the whole body was written: the answer is still to be read.
            with contextlib.suppress(BrokenPipeError):
                connection.endheaders(message_body=payload)
            try:
                response = connection.getresponse()
                raw = response.read()
            except ConnectionResetError:
                if attempt == 2:
                    raise
                continue
            assert response.getheader("Content-Type", "").startswith("application/json"), raw[:200]
            return response.status, json.loads(raw)
        finally:
            connection.close()
    raise AssertionError("unreachable")


class GunicornServer(LiveServer):
    """The production server (gunicorn, one sync worker) instead of runserver: it decodes chunked bodies."""

    def start(self, timeout: float = 60) -> "GunicornServer":
        self.log_path = ROOT / "var" / f"gunicorn-test-{self.port}.log"
        self.log_path.parent.mkdir(exist_ok=True)
        self.log = open(self.log_path, "wb")  # noqa: SIM115
        env = {
            **self.env,
            "WEB_CONCURRENCY": "1",
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "PROMETHEUS_MULTIPROC_DIR": str(self.log_path.parent / f"gunicorn-test-{self.port}-prometheus"),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log_path.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(self.url + "/api/schema/", timeout=2).read()
                return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not answer in time")

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.log_path.parent / f"gunicorn-test-{self.port}-prometheus", ignore_errors=True)


@pytest.mark.django_db(transaction=True)
def test_chunked_bodies_are_read_by_gunicorn_up_to_the_limit():
    member = MemberFactory()
    payment_id = str(uuid.uuid4())
    event = {"payment_id": payment_id, "user_id": str(member.pk), "amount_sats": 5_000}
    with GunicornServer(database_url=database_url(), env={"API_MAX_BODY_BYTES": "20000"}) as server:
        status, body = _chunked_post(server.url, "/api/fraud/check", json.dumps(FRAUD).encode(), chunk=7)
        assert status == 200 and body["decision"] in {"allow", "review", "hold"}, body
        status, body = _chunked_post(server.url, "/api/events/payment", json.dumps(event).encode())
        assert status == 200 and body["payment_id"] == payment_id, body
        too_big = json.dumps({"items": [FRAUD] * 200}).encode()
        assert len(too_big) > 20_000
        status, body = _chunked_post(server.url, "/api/fraud/batch-check", too_big)
        assert (status, body["code"]) == (413, "request_too_large")
    assert Payment.objects.filter(pk=payment_id).exists()


@pytest.mark.django_db(transaction=True)
def test_chunked_bodies_on_a_server_that_cannot_read_them_are_411_json():
    with LiveServer(database_url=database_url()) as server:
        status, body = _chunked_post(server.url, "/api/fraud/check", json.dumps(FRAUD).encode())
    assert (status, body["code"]) == (411, "length_required")
