"""Redis stopped while it is the broker: enqueuing fails loudly, nothing accepted is dropped silently."""

import shutil
import socket
import subprocess
import time

import pytest
from django_q.conf import Conf

from alerts.models import Notification
from tests.factories import MemberFactory, MembershipFactory, TontineFactory, suspicious_history

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def dead_redis(monkeypatch, tmp_path):
    """A private redis-server, started then stopped: the broker points at a Redis that is gone."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is needed for this test")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    for _ in range(50):
        try:
            redis.from_url(url).ping()
            break
        except redis.ConnectionError:
            time.sleep(0.1)
    monkeypatch.setattr(Conf, "BROKER_CLASS", "sunusav.brokers.ReliableRedis")
    monkeypatch.setattr(Conf, "REDIS", url)
    server.terminate()
    server.wait(timeout=10)
    return url


def test_enqueue_with_redis_down_is_a_503_json_not_a_silent_loss(api_client, dead_redis):
    tontine = TontineFactory()
    MembershipFactory(tontine=tontine, position=1)
    response = api_client.post("/api/events/cycle-completed", {"tontine_id": str(tontine.pk)}, format="json")
    assert response.status_code == 503
    assert response.json()["code"] == "queue_unavailable"
    assert response["Retry-After"]


def test_a_held_payment_still_reaches_the_outbox_when_redis_is_down(api_client, dead_redis):
    """The delivery nudge is best effort: the outbox row is committed and the schedule sends it."""
    import uuid

    member = MemberFactory()
    suspicious_history(member)
    body = {
        "payment_id": str(uuid.uuid4()),
        "user_id": str(member.pk),
        "kind": "invoice",
        "amount_sats": 1_000_000,
        "device_id": "device-9",
        "location": "place-9",
    }
    response = api_client.post("/api/events/payment", body, format="json")
    assert response.status_code == 200 and response.json()["decision"] == "hold"
    assert Notification.objects.filter(kind="payment_held", status="pending").count() == 1
