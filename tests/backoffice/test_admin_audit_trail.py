"""The analysts' audit trail in the admin: listed, filtered, read-only for everyone."""

import datetime as dt

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from sunusav.audit_trail import action_record
from sunusav.models import AnalystAction
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:sunusav_analystaction_changelist")


@pytest.fixture
def trail(analyst_user, risk_admin_user):
    member = MemberFactory()
    with transaction.atomic():
        rescore = action_record(actor=analyst_user, action="rescore", target=member, after={"queued": True})
        activate = action_record(actor=risk_admin_user, action="activate", target=member, note="nouvelle version")
        old = action_record(actor=analyst_user, action="resolve", target=member, before={"resolved": False})
    AnalystAction.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=30))
    return {"member": member, "rescore": rescore, "activate": activate, "old": old}


def _listed(client, query=None):
    return set(client.get(CHANGELIST, query or {}).context["cl"].result_list)


def test_the_trail_is_listed_and_filtered_by_action_actor_and_date(client, analyst_user, risk_admin_user, trail):
    client.force_login(analyst_user)
    assert _listed(client) == {trail["rescore"], trail["activate"], trail["old"]}
    assert _listed(client, {"action__exact": "rescore"}) == {trail["rescore"]}
    assert _listed(client, {"actor__id__exact": risk_admin_user.pk}) == {trail["activate"]}
    since = (timezone.now() - dt.timedelta(days=7)).isoformat()
    assert _listed(client, {"created_at__gte": since}) == {trail["rescore"], trail["activate"]}
    assert _listed(client, {"q": str(trail["member"].pk)}) == {trail["rescore"], trail["activate"], trail["old"]}


def test_a_row_shows_who_what_before_and_after_and_links_to_its_object(client, analyst_user, trail):
    client.force_login(analyst_user)
    page = client.get(reverse("admin:sunusav_analystaction_change", args=[trail["rescore"].pk])).content.decode()
    assert analyst_user.username in page and "&quot;queued&quot;: true" in page
    assert reverse("admin:sunusav_member_change", args=[trail["member"].pk]) in page


@pytest.mark.parametrize("who", ["analyst", "risk_admin", "superuser"])
def test_nobody_can_add_change_or_delete_a_row(client, analyst_user, risk_admin_user, trail, who):
    user = {
        "analyst": analyst_user,
        "risk_admin": risk_admin_user,
        "superuser": User.objects.create_superuser("root", "r@example.sn", "pw-root-2026-x"),
    }[who]
    client.force_login(user)
    row = trail["rescore"]
    assert client.get(reverse("admin:sunusav_analystaction_add")).status_code == 403
    change = reverse("admin:sunusav_analystaction_change", args=[row.pk])
    assert client.post(change, {"note": "réécrit", "action": "reject"}).status_code == 403
    assert client.post(reverse("admin:sunusav_analystaction_delete", args=[row.pk]), {"post": "yes"}).status_code == 403
    client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"})
    row.refresh_from_db()
    assert (row.action, row.note) == ("rescore", "")
    assert AnalystAction.objects.count() == 3


def test_staff_without_the_group_gets_403(client, trail):
    client.force_login(User.objects.create_user("stagiaire", password="x", is_staff=True))
    assert client.get(CHANGELIST).status_code == 403
