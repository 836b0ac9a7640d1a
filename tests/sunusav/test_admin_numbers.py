"""Admin edit forms read numbers the French way: "0,85" is 0.85, "25 000" is 25000 (sunusav.forms)."""

from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import RequestFactory
from django.urls import reverse

from sunusav.forms import LocalizedDecimalField, LocalizedFloatField, LocalizedIntegerField
from sunusav.models import Member, Tontine
from tests.factories import TontineFactory

pytestmark = pytest.mark.django_db


def _superuser_request():
    request = RequestFactory().get("/admin/")
    request.user = User.objects.create_superuser("chef", password="pw-chef-2026")
    return request


def test_every_number_field_of_every_admin_form_is_localized():
    request = _superuser_request()
    checked = 0
    for model, model_admin in admin.site._registry.items():
        if not model_admin.has_add_permission(request) and not model_admin.has_change_permission(request):
            continue
        if model._meta.app_label in {"django_q", "axes"}:  # their packages' own forms
            continue
        form = model_admin.get_form(request)()
        for name, field in form.fields.items():
            db_field = model._meta.get_field(name) if name in {f.name for f in model._meta.fields} else None
            if db_field is None or db_field.choices:
                continue
            kind = db_field.get_internal_type()
            if kind in {"IntegerField", "BigIntegerField", "PositiveIntegerField", "PositiveSmallIntegerField"}:
                assert isinstance(field, LocalizedIntegerField), (model, name)
                checked += 1
            elif kind in {"FloatField", "DecimalField"}:
                assert isinstance(field, LocalizedFloatField | LocalizedDecimalField), (model, name)
                checked += 1
    assert checked >= 4  # tontine contribution, payment amount, loan amount, transfer amount at least


def test_typed_numbers_mean_what_a_french_reader_means():
    request = _superuser_request()
    tontine_form = admin.site._registry[Tontine].get_form(request)()
    assert tontine_form.fields["contribution_sats"].clean("25 000") == 25000
    assert tontine_form.fields["contribution_sats"].clean("25\u202f000") == 25000
    member_admin = admin.site._registry[Member]
    field = Member._meta.get_field("credit_score").formfield(form_class=LocalizedDecimalField)
    assert field.clean("0,85") == Decimal("0.85")  # never 85
    assert member_admin.formfield_for_dbfield(Member._meta.get_field("credit_score"), request).clean("0,85") == Decimal(
        "0.85"
    )


def test_a_superuser_saves_a_tontine_with_a_grouped_amount(client):
    tontine = TontineFactory(contribution_sats=10_000)
    client.force_login(User.objects.create_superuser("chef", password="pw-chef-2026"))
    url = reverse("admin:sunusav_tontine_change", args=[tontine.pk])
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(
        {
            "contribution_sats": "25 000",
            "started_at_0": "01/09/2026",
            "started_at_1": "10:00:00",
            "created_at_0": "01/09/2026",
            "created_at_1": "10:00:00",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        }
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    tontine.refresh_from_db()
    assert tontine.contribution_sats == 25_000
