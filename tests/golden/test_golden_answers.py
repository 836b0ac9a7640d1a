"""Golden answers: what the API and the back-office answered before the layering move (issue 13).

Every answer below was recorded from the code as it stood before anything
moved (`GOLDEN_UPDATE=1` rewrites `answers.json`; never set it to make a
failing test pass). The bodies are compared byte for byte: a refactor that
changes one number, one key order or one status code fails here.
"""

import datetime as dt
import json
import os
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from sunusav.ml.lifecycle import artifacts_sync
from sunusav.ml.registry import registry
from tests.factories import (
    ContributionFactory,
    EndorsementFactory,
    MemberFactory,
    MembershipFactory,
    MobileMoneyTransferFactory,
    TontineFactory,
)

pytestmark = pytest.mark.django_db

ANSWERS = Path(__file__).with_name("answers.json")
SHIPPED = Path(settings.BASE_DIR) / "ml_artifacts"

MEMBER = uuid.UUID("00000000-0000-4000-8000-00000000a001")
TONTINE = uuid.UUID("00000000-0000-4000-8000-00000000b001")
PAYMENT = uuid.UUID("00000000-0000-4000-8000-00000000c001")

CREDIT_SEED = {
    "user_id": "test-user",
    "tontine_contributions": 50000,
    "punctuality_rate": 0.9,
    "contributions_count": 10,
    "mobile_tx_volume": 100000,
    "avg_payment_delay_days": 1,
    "community_endorsements": 5,
}
FRAUD_SEED = {
    "user_id": "test-user",
    "amount_sats": 1000000,
    "time_since_last_sec": 5,
    "invoices_last_min": 10,
    "device_changes": 3,
    "location_changes": 2,
}
CREDIT_BATCH = [
    CREDIT_SEED,
    {**CREDIT_SEED, "user_id": "u-2", "punctuality_rate": 0.3, "avg_payment_delay_days": 12},
    {**CREDIT_SEED, "user_id": "u-3", "contributions_count": 0, "tontine_contributions": 0, "mobile_tx_volume": 0},
    {**CREDIT_SEED, "user_id": "u-4", "community_endorsements": 0, "mobile_tx_volume": 2_500_000},
]
FRAUD_BATCH = [
    FRAUD_SEED,
    {
        **FRAUD_SEED,
        "user_id": "u-2",
        "amount_sats": 12000,
        "time_since_last_sec": 86400,
        "invoices_last_min": 0,
        "device_changes": 0,
        "location_changes": 0,
    },
    {
        **FRAUD_SEED,
        "user_id": "u-3",
        "amount_sats": 150000,
        "time_since_last_sec": 600,
        "invoices_last_min": 2,
        "device_changes": 1,
        "location_changes": 0,
    },
]
ADMIN_PAGES = [
    "/admin/",
    "/admin/dashboard/",
    "/admin/try-models/",
    "/admin/alerts/aialert/",
    "/admin/alerts/aimetric/",
    "/admin/sunusav/member/",
    f"/admin/sunusav/member/{MEMBER}/change/",
    "/admin/sunusav/tontine/",
    f"/admin/sunusav/tontine/{TONTINE}/change/",
    "/admin/sunusav/payment/",
    "/admin/sunusav/heldpayment/",
    "/admin/sunusav/loan/",
    "/admin/sunusav/modelversion/",
    "/admin/sunusav/analystaction/",
    "/admin/sunusav/contribution/",
    "/admin/sunusav/endorsement/",
    "/admin/sunusav/mobilemoneytransfer/",
]


@pytest.fixture
def shipped_models(settings):
    settings.ML_ARTIFACTS_DIR = SHIPPED
    artifacts_sync(activated_by="golden")
    registry.invalidate()


@pytest.fixture
def world():
    """One member with a year of punctual contributions, mobile money and endorsements, in one tontine."""
    now = timezone.now()
    member = MemberFactory(id=MEMBER, display_name="Awa Diop")
    tontine = TontineFactory(id=TONTINE, name="Tontine du marché", started_at=now - dt.timedelta(days=200))
    MembershipFactory(tontine=tontine, member=member, position=1)
    for i in range(8):
        due = now - dt.timedelta(days=7 * (i + 1))
        ContributionFactory(tontine=tontine, member=member, round_number=i + 1, due_at=due, paid_at=due)
    for i in range(3):
        MobileMoneyTransferFactory(member=member, amount_xof=20_000 + 1000 * i)
    for _ in range(2):
        EndorsementFactory(endorsee=member)
    return member


def _answers() -> dict:
    return json.loads(ANSWERS.read_text()) if ANSWERS.exists() else {}


def _check(name: str, value) -> None:
    """Compare `value` with the recorded answer `name` (or record it under GOLDEN_UPDATE=1)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if os.environ.get("GOLDEN_UPDATE") == "1":
        answers = _answers()
        answers[name] = text
        ANSWERS.write_text(json.dumps(answers, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
        return
    recorded = _answers()
    assert name in recorded, f"no golden answer {name!r}: record it before changing the code"
    assert text == recorded[name]


def test_credit_predict_seed_example(api_client, shipped_models):
    response = api_client.post("/api/credit/predict", CREDIT_SEED, format="json")
    _check("credit_predict", [response.status_code, response.content.decode()])


def test_credit_batch_predict(api_client, shipped_models):
    response = api_client.post("/api/credit/batch-predict", {"items": CREDIT_BATCH}, format="json")
    _check("credit_batch_predict", [response.status_code, response.content.decode()])


def test_fraud_check_seed_example(api_client, shipped_models):
    response = api_client.post("/api/fraud/check", FRAUD_SEED, format="json")
    _check("fraud_check", [response.status_code, response.content.decode()])


def test_fraud_batch_check(api_client, shipped_models):
    response = api_client.post("/api/fraud/batch-check", {"items": FRAUD_BATCH}, format="json")
    _check("fraud_batch_check", [response.status_code, response.content.decode()])


def test_payment_event(api_client, shipped_models, world):
    body = {
        "payment_id": str(PAYMENT),
        "user_id": str(MEMBER),
        "kind": "invoice",
        "amount_sats": 2_500_000,
        "device_id": "dev-new",
        "location": "Touba",
    }
    first = api_client.post("/api/events/payment", body, format="json")
    again = api_client.post("/api/events/payment", body, format="json")
    conflict = api_client.post("/api/events/payment", {**body, "amount_sats": 7}, format="json")
    _check(
        "payment_event",
        [[r.status_code, r.content.decode()] for r in (first, again, conflict)],
    )


def test_queue_stats(api_client):
    response = api_client.get("/api/queues/stats")
    _check("queue_stats", [response.status_code, response.content.decode()])


def test_cycle_completed(api_client, world):
    response = api_client.post("/api/events/cycle-completed", {"tontine_id": str(TONTINE)}, format="json")
    _check("cycle_completed", [response.status_code, response.content.decode()])


def test_explanation_endpoint(api_client, shipped_models, world):
    response = api_client.get(f"/api/credit/members/{MEMBER}/explanation")
    _check("explanation", [response.status_code, response.content.decode()])


def test_health_endpoints(api_client, shipped_models):
    bodies = []
    for url in ("/api/credit/health", "/api/fraud/health"):
        body = api_client.get(url).json()
        body.pop("age_seconds", None)
        body.pop("age_days", None)
        bodies.append(body)
    _check("health_keys", bodies)


def test_admin_pages_status_codes(shipped_models, world):
    User.objects.create_superuser("golden", password="pw-golden-2026")
    client = Client()
    client.force_login(User.objects.get(username="golden"))
    _check("admin_pages", {url: client.get(url).status_code for url in ADMIN_PAGES})
