"""`demo_admin` prints three logins that work, with the right roles."""

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import RequestFactory

pytestmark = pytest.mark.django_db


def test_prints_a_superuser_an_analyst_a_risk_admin_and_a_compliance_officer_that_can_log_in():
    out = StringIO()
    call_command("demo_admin", stdout=out)
    logins = dict(line.split(": ", 1)[1].split(" / ") for line in out.getvalue().splitlines())
    assert set(logins) == {"admin", "analyste", "admin-risques", "conformite"}
    users = {
        name: authenticate(RequestFactory().post("/admin/login/"), username=name, password=secret)
        for name, secret in logins.items()
    }
    assert users["admin"].is_superuser
    assert users["analyste"].has_perm("alerts.resolve_aialert")
    assert not users["analyste"].has_perm("sunusav.activate_modelversion")
    assert users["admin-risques"].has_perm("sunusav.activate_modelversion") and not users["admin-risques"].is_superuser
    # The second pair of eyes approves a decision or a report, and decides nothing alone.
    assert users["conformite"].has_perm("cases.approve_report") and users["conformite"].has_perm("cases.approve_case")
    assert not users["conformite"].has_perm("cases.decide_case")
    assert not users["analyste"].has_perm("cases.approve_report")


def test_running_it_again_resets_the_passwords():
    first, second = StringIO(), StringIO()
    call_command("demo_admin", stdout=first)
    call_command("demo_admin", stdout=second)
    assert first.getvalue() != second.getvalue()
