"""The back-office dashboard: panels from real rows, bounded windows, permissions, navigation, no CDN."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from alerts.models import AIAlert, AIMetric
from backoffice import selectors
from sunusav.audit_trail import ADMIN_GROUP, ANALYST_GROUP
from sunusav.queues import enqueue
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/dashboard/"


def _staff(group: str | None, username: str) -> User:
    user = User.objects.create_user(username, password="x", is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def analyst_client(client):
    client.force_login(_staff(ANALYST_GROUP, "aminata"))
    return client


@pytest.fixture
def admin_client_(client):
    client.force_login(_staff(ADMIN_GROUP, "moussa"))
    return client


def _metric(key, value, *, at, meta=None):
    row = AIMetric.objects.create(metric_key=key, metric_value=value, meta=meta or {})
    AIMetric.objects.filter(pk=row.pk).update(created_at=at)  # created_at has a default: set it after
    return row


@pytest.fixture
def world():
    now = timezone.now()
    for score in ("0.950", "0.910", "0.850", "0.700", "0.600", "0.300", "0.100"):
        MemberFactory(credit_score=Decimal(score))
    MemberFactory(credit_score=None)
    AIAlert.objects.create(alert_type="fraud_suspect", payload={"payment_id": "p1"})
    AIAlert.objects.create(alert_type="fraud_suspect", payload={"payment_id": "p2"}, resolved=True)
    AIAlert.objects.create(alert_type="credit_offer", payload={})
    # Three fraud checks in the last hours (one hold), one two hours ago, one older than the day.
    stages = {"validation": 100, "features": 20, "model": 50, "rules": 10, "writes": 300}
    _metric("fraud_check", 0.9, at=now - dt.timedelta(minutes=5), meta={"decision": "hold", "stages_us": stages})
    _metric("fraud_check", 0.1, at=now - dt.timedelta(minutes=6), meta={"decision": "allow", "stages_us": stages})
    _metric(
        "fraud_check",
        0.2,
        at=now - dt.timedelta(hours=2, minutes=1),
        meta={"decision": "allow", "stages_us": {**stages, "model": 5000}},
    )
    _metric("fraud_check", 0.99, at=now - dt.timedelta(days=3), meta={"decision": "hold"})
    _metric("credit_prediction", 0.8, at=now - dt.timedelta(minutes=1), meta={"stages_us": {"model": 40}})
    # Outside both windows: never averaged.
    _metric("credit_score", 0.0, at=now - dt.timedelta(days=30))
    _metric("credit_score", 0.6, at=now - dt.timedelta(hours=1))
    return now


def test_dashboard_shows_every_panel_for_an_analyst_and_an_admin(world, client):
    for username, group in (("aminata", ANALYST_GROUP), ("moussa", ADMIN_GROUP)):
        client.force_login(_staff(group, username))
        response = client.get(DASHBOARD)
        assert response.status_code == 200, group
        html = response.content.decode()
        for panel in ("alerts", "bands", "checks", "holds", "queues", "models", "metrics", "stages"):
            assert f'id="panel-{panel}"' in html
        assert html.count("<svg") >= 5


def test_panels_hold_the_seed_monitoring_numbers(world, analyst_client):
    data = analyst_client.get(DASHBOARD).context["data"]
    alerts = {row["alert_type"]: row for row in data["alerts"]}
    assert (alerts["fraud_suspect"]["open"], alerts["fraud_suspect"]["total"]) == (1, 2)
    assert (alerts["credit_offer"]["open"], alerts["liquidity_short"]["total"]) == (1, 0)
    assert data["credit"]["scored"] == 7 and data["credit"]["members"] == 8
    assert data["credit"]["average"] == pytest.approx(round((0.95 + 0.91 + 0.85 + 0.7 + 0.6 + 0.3 + 0.1) / 7, 3))
    assert data["credit"]["bands"] == {"A": 2, "B": 1, "C": 1, "D": 1, "E": 2}
    averages = {m["metric_key"]: m for m in data["metrics"]}
    # 24 h window: the 3-day-old check and the 30-day-old score are left out.
    assert averages["fraud_check"]["n"] == 3
    assert averages["fraud_check"]["average"] == pytest.approx((0.9 + 0.1 + 0.2) / 3)
    assert (averages["credit_score"]["n"], averages["credit_score"]["average"]) == (1, pytest.approx(0.6))
    assert sum(h["checks"] for h in data["per_hour"]) == 3 and sum(h["holds"] for h in data["per_hour"]) == 1
    assert len(data["per_hour"]) == 24
    assert data["per_hour"][-1]["checks"] + data["per_hour"][-2]["checks"] >= 2
    fraud_stages = {
        s["stage"]: s for s in next(k for k in data["stages"] if k["metric_key"] == "fraud_check")["stages"]
    }
    assert (fraud_stages["model"]["p50"], fraud_stages["model"]["p99"]) == (50, 5000)
    assert fraud_stages["writes"]["p50"] == 300 and fraud_stages["total"]["p99"] == 5430
    credit_stages = next(k for k in data["stages"] if k["metric_key"] == "credit_prediction")
    assert credit_stages["stages"][0] == {"stage": "model", "p50": 40, "p99": 40, "n": 1}


def test_seven_day_window_counts_more_rows(world, analyst_client):
    data = analyst_client.get(DASHBOARD, {"window": "7d"}).context["data"]
    averages = {m["metric_key"]: m for m in data["metrics"]}
    assert averages["fraud_check"]["n"] == 4
    assert averages["fraud_check"]["average"] == pytest.approx((0.9 + 0.1 + 0.2 + 0.99) / 4)
    assert averages["credit_score"]["n"] == 1  # 30 days old: still outside


def test_finished_days_are_summed_once_then_read_from_the_cache(world):
    week = {m["metric_key"]: m for m in selectors.metric_averages_days(now=world, days=7)}
    assert week["fraud_check"]["n"] == 4
    # A row written into a finished day is not seen again (those days are cached); today's rows are live.
    _metric("fraud_check", 0.5, at=world - dt.timedelta(days=3))
    _metric("fraud_check", 0.5, at=timezone.localtime(world).replace(hour=0, minute=0, second=1))
    again = {m["metric_key"]: m for m in selectors.metric_averages_days(now=world, days=7)}
    assert again["fraud_check"]["n"] == 5
    cache.clear()
    fresh = {m["metric_key"]: m for m in selectors.metric_averages_days(now=world, days=7)}
    assert fresh["fraud_check"]["n"] == 6


def test_charts_draw_the_panel_data(world, analyst_client):
    charts = analyst_client.get(DASHBOARD).context["charts"]
    bands = re.findall(r'class="bar" data-label="([A-E])" data-series="[^"]*" data-value="([\d.]+)"', charts["bands"])
    assert [(b, float(v)) for b, v in bands] == [("A", 2), ("B", 1), ("C", 1), ("D", 1), ("E", 2)]
    holds = [float(v) for v in re.findall(r'data-value="([\d.]+)"', charts["holds"])]
    assert sum(holds) == 1 and len(holds) == 24


def test_queue_stats_and_model_health_panels(world, analyst_client):
    response = analyst_client.get(DASHBOARD)
    queues = response.context["data"]["queues"]["queues"]
    assert set(queues) == {"credit", "fraud"}
    assert set(queues["credit"]) == {"waiting", "active", "completed", "failed"}
    health = {h["name"]: h for h in response.context["health"]}
    assert set(health) >= {"credit", "fraud"}
    assert all(isinstance(h["fallback"], bool) for h in health.values())


def test_queue_counts_reach_the_panel(analyst_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        enqueue("tests.jobs_support.record_run", "x", queue="fraud")
    queues = analyst_client.get(DASHBOARD).context["data"]["queues"]["queues"]
    assert queues["fraud"]["waiting"] == 1 and queues["credit"]["waiting"] == 0


def test_aggregates_are_cached_briefly(world, analyst_client):
    assert analyst_client.get(DASHBOARD).context["data"]["alerts"][0]["total"] == 2
    AIAlert.objects.create(alert_type="fraud_suspect", payload={"payment_id": "p3"})
    assert analyst_client.get(DASHBOARD).context["data"]["alerts"][0]["total"] == 2  # from the cache
    selectors.dashboard_cache_clear()
    assert analyst_client.get(DASHBOARD).context["data"]["alerts"][0]["total"] == 3


def test_metric_keys_are_found_without_scanning_the_table(world):
    assert selectors.metric_keys() == ["credit_prediction", "credit_score", "fraud_check"]


def test_login_is_required_and_staff_without_permission_is_refused(client):
    response = client.get(DASHBOARD)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.force_login(_staff(None, "visiteur"))
    assert client.get(DASHBOARD).status_code == 403


def test_header_links_language_switch_and_admin_index(analyst_client):
    html = analyst_client.get(reverse("admin:index")).content.decode()
    for url in (DASHBOARD, reverse("admin:sunusav_modelversion_changelist"), reverse("backoffice:try_models")):
        assert f'href="{url}"' in html
    assert 'id="backoffice-links"' in html and 'class="bo-nav"' in html
    assert 'action="/i18n/setlang/"' in html and 'name="language"' in html
    assert '<html lang="fr"' in html
    response = analyst_client.post("/i18n/setlang/", {"language": "en", "next": DASHBOARD})
    assert response.status_code == 302 and response["Location"] == DASHBOARD
    assert '<html lang="en"' in analyst_client.get(DASHBOARD).content.decode()


def test_login_page_has_the_language_switcher(client):
    html = client.get("/admin/login/").content.decode()
    assert 'name="language"' in html


def test_no_page_loads_anything_from_outside(world, analyst_client):
    for url in (DASHBOARD, reverse("backoffice:try_models"), reverse("admin:sunusav_modelversion_changelist")):
        html = analyst_client.get(url).content.decode()
        external = re.findall(r'(?:src|href)="(https?:)?//', html)
        assert external == [], url


def test_drift_and_alert_capacity_panels_warn(analyst_client, settings):
    settings.ANALYST_DAILY_CAPACITY = 2
    base = {"model": "credit", "model_version": "v1", "run_id": "credit:v1:today", "computed_at": "now"}
    for feature, window, value in (("punctuality_rate", "day", 0.41), ("punctuality_rate", "week", 0.12)):
        _metric("psi", value, at=timezone.now(), meta={**base, "feature": feature, "window": window, "value": value})
    for _ in range(20):  # 20 alerts today against a capacity of 2 a day
        AIAlert.objects.create(alert_type="fraud_suspect", payload={})
    page = analyst_client.get(reverse("backoffice:dashboard")).content.decode()
    drift = page[page.index('id="panel-drift"') : page.index('id="panel-capacity"')]
    assert "taux de ponctualité" in drift and "punctuality_rate" not in drift  # the feature's label, not its code
    assert "0,410" in drift and 'class="bo-bad"' in drift
    capacity = page[page.index('id="panel-capacity"') :]
    assert "<svg" in capacity and 'class="bo-bad"' in capacity


def test_no_drift_yet_and_calm_volume_are_said_plainly(analyst_client):
    page = analyst_client.get(reverse("backoffice:dashboard")).content.decode()
    drift = page[page.index('id="panel-drift"') : page.index('id="panel-capacity"')]
    assert "pas encore été calculée" in drift and "bo-bad" not in drift
    capacity = page[page.index('id="panel-capacity"') :]
    assert "reste dans la capacité" in capacity.replace("\u2019", "'")
