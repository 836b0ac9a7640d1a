"""The back-office groups and the analysts' audit trail."""

import pytest
from django.contrib.auth.models import Group, User
from django.db import transaction

from sunusav.audit_trail import (
    ADMIN_GROUP,
    ADMIN_PERMISSIONS,
    ANALYST_GROUP,
    ANALYST_PERMISSIONS,
    COMPLIANCE_GROUP,
    COMPLIANCE_PERMISSIONS,
    action_record,
)
from sunusav.models import AnalystAction
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def _staff(group: str) -> User:
    user = User.objects.create_user(f"{group.split()[-1]}-user", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return User.objects.get(pk=user.pk)  # fresh permission cache


def test_the_migrations_create_the_groups_with_their_permissions():
    analyst, admin, compliance = _staff(ANALYST_GROUP), _staff(ADMIN_GROUP), _staff(COMPLIANCE_GROUP)
    assert all(analyst.has_perm(p) for p in ANALYST_PERMISSIONS)
    assert all(admin.has_perm(p) for p in ADMIN_PERMISSIONS)
    assert set(compliance.get_all_permissions()) == set(COMPLIANCE_PERMISSIONS)
    assert not analyst.has_perm("cases.approve_case") and not admin.has_perm("cases.approve_report")
    assert not analyst.has_perm("sunusav.activate_modelversion")
    assert not analyst.has_perm("sunusav.train_modelversion")
    assert not analyst.has_perm("alerts.delete_aialert")


def test_action_record_writes_who_what_before_and_after():
    analyst = _staff(ANALYST_GROUP)
    member = MemberFactory()
    with transaction.atomic():
        action_record(
            actor=analyst, action="rescore", target=member, before={"score": 0.4}, after={"queued": True}, note="n"
        )
    row = AnalystAction.objects.get()
    assert (row.actor, row.action, row.target_type, row.target_id) == (analyst, "rescore", "member", str(member.pk))
    assert (row.before, row.after, row.note) == ({"score": 0.4}, {"queued": True}, "n")


@pytest.mark.django_db(transaction=True)
def test_action_record_refuses_to_run_outside_a_transaction():
    with pytest.raises(RuntimeError):
        action_record(actor=None, action="expire", target=MemberFactory())
    assert not AnalystAction.objects.exists()
