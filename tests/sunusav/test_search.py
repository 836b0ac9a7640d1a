"""Admin search on names ignores accents and case, on SQLite and PostgreSQL alike (sunusav/search.py)."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from alerts.models import AIAlert
from sunusav.models import Member, Tontine
from sunusav.search import unaccented
from tests.factories import MemberFactory, PaymentFactory, TontineFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):
    client.force_login(User.objects.create_superuser("chef", password="pw-chef-2026"))
    return client


@pytest.fixture
def diegane():
    """Diégane with a held payment and its fraud alert; a second member who must never match."""
    member = MemberFactory(display_name="Diégane Ndèye Faye")
    other = MemberFactory(display_name="Moussa Sarr")
    for who in (member, other):
        payment = PaymentFactory(member=who, status="held")
        AIAlert.objects.create(
            user=who,
            alert_type="fraud_suspect",
            created_at=timezone.now(),
            payload={"payment_id": str(payment.pk), "fraud_score": 0.9, "decision": "hold", "reasons": []},
        )
    return member


def test_unaccented_folds_the_letters_of_west_african_french_names():
    assert unaccented("Diégane Ndèye Çà Ïbrahima Œuvre Ñ") == "Diegane Ndeye Ca Ibrahima OEuvre N"
    assert unaccented(None) is None


def test_the_unaccent_lookup_matches_without_accents_or_case_on_this_database():
    MemberFactory(display_name="Diégane Faye")
    MemberFactory(display_name="Awa Diop")
    for typed in ("diegane", "DIEGANE", "Diegane"):
        names = Member.objects.filter(display_name__unaccent__icontains=unaccented(typed)).values_list(
            "display_name", flat=True
        )
        assert list(names) == ["Diégane Faye"], typed


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:sunusav_member_changelist",
        "admin:alerts_aialert_changelist",
        "admin:sunusav_heldpayment_changelist",
        "admin:sunusav_payment_changelist",
    ],
)
@pytest.mark.parametrize("typed", ["Diegane", "diégane", "DIÉGANE", "ndeye faye"])
def test_each_admin_finds_a_member_however_the_name_is_typed(superuser_client, diegane, url_name, typed):
    response = superuser_client.get(reverse(url_name), {"q": typed})
    assert response.status_code == 200
    found = list(response.context["cl"].result_list)
    assert found, (url_name, typed)
    members = {getattr(row, "user", None) or getattr(row, "member", None) or row for row in found}
    assert members == {diegane}, (url_name, typed)


def test_ids_are_still_exact_lookups(superuser_client, diegane):
    response = superuser_client.get(reverse("admin:sunusav_heldpayment_changelist"), {"q": str(diegane.pk)})
    assert [p.member_id for p in response.context["cl"].result_list] == [diegane.pk]


def test_tontine_names_are_found_without_their_accents(superuser_client):
    TontineFactory(name="Tontine Médina")
    TontineFactory(name="Tontine Pikine")
    response = superuser_client.get(reverse("admin:sunusav_tontine_changelist"), {"q": "medina"})
    assert [t.name for t in response.context["cl"].result_list] == ["Tontine Médina"]
    assert Tontine.objects.count() == 2
