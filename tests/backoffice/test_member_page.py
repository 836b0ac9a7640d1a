"""The member risk page: score, band, reasons, history, contributions, alerts, holds, endorsements, rescore."""

import datetime as dt
import re

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ

from alerts.models import AIAlert, AIMetric
from sunusav.models import AnalystAction
from tests.factories import ContributionFactory, EndorsementFactory, MemberFactory, PaymentFactory

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    return re.sub(r"[\u00a0\u202f]", " ", response.content.decode())


def _page(member):
    return reverse("admin:sunusav_member_change", args=[member.pk])


def _scored_member(scores=(0.55, 0.61, 0.72)):
    now = timezone.now()
    member = MemberFactory(display_name="Fatou Sarr", credit_score=f"{scores[-1]:.3f}", credit_score_updated_at=now)
    for i, score in enumerate(scores):
        AIMetric.objects.create(
            user=member,
            metric_key="credit_score",
            metric_value=score,
            created_at=now - dt.timedelta(days=len(scores) - i),
            meta={"model_version": f"credit-v{i}", "band": "C", "reasons": ["LOW_PUNCTUALITY"], "confidence": 0.8},
        )
    return member


@pytest.fixture
def analyst_client(client, analyst_user):
    client.force_login(analyst_user)
    return client


def test_the_page_shows_the_members_risk(analyst_client):
    member = _scored_member()
    ContributionFactory(member=member, round_number=1)  # paid on time
    ContributionFactory(member=member, round_number=2, paid_at=timezone.now() - dt.timedelta(days=2))  # late
    ContributionFactory(member=member, round_number=3, paid_at=None)  # unpaid
    alert = AIAlert.objects.create(user=member, alert_type="credit_offer", payload={"score": 0.72, "band": "C"})
    hold = PaymentFactory(member=member, status="held", amount_sats=250_000)
    EndorsementFactory(endorser=member, endorsee=MemberFactory(display_name="Ousmane Diop"))
    EndorsementFactory(endorser=MemberFactory(display_name="Aminata Ba"), endorsee=member)

    page = _text(analyst_client.get(_page(member)))
    assert 'class="risk-score">0,720<' in page and "bande C" in page
    assert "credit-v2" in page  # the latest score's model
    assert "Trop de cotisations payées en retard ou impayées." in page  # LOW_PUNCTUALITY, in words
    polyline = re.search(r'<polyline points="([^"]+)"', page).group(1)
    assert len(polyline.split()) == 3  # one point per stored score
    assert "1 / 1 / 1" in page  # on time / late / unpaid
    assert reverse("admin:alerts_aialert_change", args=[alert.pk]) in page
    assert reverse("admin:sunusav_heldpayment_change", args=[hold.pk]) in page
    assert "250 000 sats (150 000 XOF)" in page
    assert "Ousmane Diop" in page and "Aminata Ba" in page
    assert 'id="rescore-form"' in page


def test_a_member_never_scored_still_has_a_page(analyst_client):
    page = _text(analyst_client.get(_page(MemberFactory())))
    assert "jamais calculé" in page and "<polyline" not in page


def test_the_page_stays_bounded_with_a_long_history(analyst_client, django_assert_max_num_queries):
    member = _scored_member(scores=[0.5 + i / 400 for i in range(100)])
    for i in range(40):
        ContributionFactory(member=member, round_number=i + 1)
        AIAlert.objects.create(user=member, alert_type="fraud_suspect", payload={"payment_id": f"p-{i}"})
        EndorsementFactory(endorsee=member)
    ContentType.objects.get_for_model(member)  # cached once per process: not the page's cost
    with django_assert_max_num_queries(26):
        page = analyst_client.get(_page(member)).content.decode()
    polyline = re.search(r'<polyline points="([^"]+)"', page).group(1)
    assert len(polyline.split()) == 60  # the last 60 scores


def test_rescore_enqueues_one_high_priority_check_and_audits(
    analyst_client, analyst_user, django_capture_on_commit_callbacks
):
    member = _scored_member()
    with django_capture_on_commit_callbacks(execute=True):
        response = analyst_client.post(
            reverse("admin:sunusav_member_changelist"),
            {"action": "rescore", "_selected_action": [str(member.pk)], "_from_page": "1"},
        )
    assert response.status_code == 302 and response.url == _page(member)
    jobs = list(OrmQ.objects.all())
    assert len(jobs) == 1
    assert jobs[0].key == "credit.high"
    assert jobs[0].task["func"] == "credit.tasks.credit_check" and jobs[0].task["args"][0] == str(member.pk)
    action = AnalystAction.objects.get()
    assert (action.actor, action.action, action.target_id) == (analyst_user, "rescore", str(member.pk))
    assert action.before["credit_score"] == "0.720"
    assert action.after["priority"] == "high" and action.after["run_id"] == jobs[0].task["args"][1]


def test_rescore_needs_its_permission(client, django_capture_on_commit_callbacks):
    member = _scored_member()
    viewer = User.objects.create_user("lecteur", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(content_type__app_label="sunusav", codename="view_member"))
    client.force_login(viewer)
    assert 'id="rescore-form"' not in client.get(_page(member)).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:sunusav_member_changelist"), {"action": "rescore", "_selected_action": [member.pk]})
    assert not OrmQ.objects.exists() and not AnalystAction.objects.exists()


def test_staff_without_the_group_gets_403(client, django_capture_on_commit_callbacks):
    member = _scored_member()
    client.force_login(User.objects.create_user("stagiaire", password="x", is_staff=True))
    assert client.get(_page(member)).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:sunusav_member_changelist"), {"action": "rescore", "_selected_action": [member.pk]}
        )
    assert response.status_code == 403
    assert not OrmQ.objects.exists() and not AnalystAction.objects.exists()
