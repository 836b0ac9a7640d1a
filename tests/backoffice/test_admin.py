"""Every admin page of the core domain opens for a staff user, in French by default."""

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.factories import ContributionFactory, EndorsementFactory, LoanFactory, PaymentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("analyste", "a@example.sn", "pw-analyste-123")
    client.force_login(user)
    return client


def test_every_changelist_and_change_page_opens(staff_client):
    ContributionFactory()
    EndorsementFactory()
    LoanFactory()
    PaymentFactory()
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        response = staff_client.get(url)
        assert response.status_code == 200, url
        obj = model_admin.get_queryset(response.wsgi_request).first()
        if obj is not None:
            change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
            assert staff_client.get(change).status_code == 200, change


def test_admin_speaks_french_by_default(staff_client):
    response = staff_client.get(reverse("admin:index"))
    assert "Back-office des risques" in response.content.decode()
