"""Rotation exposure on a small hand-built tontine, and its part in the liquidity alert."""

import datetime as dt

import pytest
from django.utils import timezone

from alerts.models import AIAlert
from credit.exposure import rotation_exposures
from credit.features import features_for_members
from credit.liquidity import liquidity_check, liquidity_projections
from credit.scoring import rules_score
from sunusav.models import Member
from tests.factories import ContributionFactory, MembershipFactory, TontineFactory

pytestmark = pytest.mark.django_db


def _tontine(scores, paid_rounds):
    """A weekly tontine of 4 seats, 10,000 sats each, 2.5 weeks in: round 3 in progress, pays out in 3.5 days.

    Seats 1 and 2 took the pots of rounds 1 and 2. `paid_rounds[i]` lists the rounds seat i+1 has paid.
    """
    now = timezone.now()
    tontine = TontineFactory(started_at=now - dt.timedelta(days=17.5), contribution_sats=10_000)
    people = [MembershipFactory(tontine=tontine, position=i + 1).member for i in range(4)]
    for member, score in zip(people, scores, strict=True):
        if score is not None:
            Member.objects.filter(pk=member.pk).update(credit_score=score)
    for member, rounds in zip(people, paid_rounds, strict=True):
        for round_number in (1, 2, 3):
            due = tontine.started_at + dt.timedelta(days=7 * round_number - 1)
            ContributionFactory(
                tontine=tontine,
                member=member,
                round_number=round_number,
                due_at=due,
                paid_at=min(due, now) if round_number in rounds else None,
            )
    return tontine, people


ALL = (1, 2, 3)


def test_exposure_is_what_recipients_still_owe_weighted_by_default_risk():
    # Seat 1: score 0.8, paid rounds 1-3, owes round 4: 10,000 x (1 - 0.8) = 2,000.
    # Seat 2: score 0.4, skipped round 2, owes rounds 2 and 4: 20,000 x (1 - 0.4) = 12,000.
    # Seats 3 and 4 have not taken a pot yet: no exposure.
    # Exposure 14,000 over the payouts left (rounds 3 and 4: 2 x 40,000) = 0.175.
    tontine, people = _tontine(["0.800", "0.400", "0.100", None], [ALL, (1, 3), ALL, ALL])
    exposure = rotation_exposures()[str(tontine.id)]
    assert exposure["round"] == 3 and exposure["cycle_rounds"] == [1, 4]
    assert [(r["member_id"], r["owed_sats"], r["p_default"]) for r in exposure["recipients"]] == [
        (str(people[0].pk), 10_000, 0.2),
        (str(people[1].pk), 20_000, 0.6),
    ]
    assert exposure["owed_by_recipients_sats"] == 30_000
    assert exposure["exposure_sats"] == 14_000
    assert exposure["remaining_payouts_sats"] == 80_000
    assert exposure["exposure_share"] == 0.175


def test_an_unscored_recipient_takes_the_rule_fallback():
    tontine, people = _tontine([None, "0.900", None, None], [ALL, ALL, ALL, ALL])
    exposure = rotation_exposures()[str(tontine.id)]
    first = exposure["recipients"][0]
    expected_pd = 1 - float(rules_score(features_for_members([people[0].pk]))[0])
    assert first["pd_source"] == "rules" and first["p_default"] == pytest.approx(expected_pd, abs=1e-3)
    assert exposure["recipients"][1]["pd_source"] == "score"
    assert exposure["exposure_sats"] == round(10_000 * expected_pd + 10_000 * 0.1)


def test_exposure_alone_raises_the_liquidity_alert(settings):
    settings.LIQUIDITY_LOOKAHEAD_DAYS = 4
    tontine, people = _tontine(["0.800", "0.400", "0.900", "0.900"], [ALL, (1, 3), ALL, ALL])
    [projection] = liquidity_projections()
    assert projection["shortfall_share"] == 0.0  # everyone paid round 3
    assert projection["exposure_share"] == 0.175 > settings.LIQUIDITY_SHORTFALL_SHARE
    [alert] = liquidity_check()
    assert alert.user_id == people[2].pk  # seat 3 takes round 3's pot
    assert alert.payload["triggers"] == ["rotation_exposure"]
    assert alert.payload["exposure_sats"] == 14_000 and alert.payload["risk_share"] == 0.175
    assert liquidity_check() == []  # still once per tontine round
    assert AIAlert.objects.filter(alert_type="liquidity_short").count() == 1


def test_low_exposure_raises_nothing(settings):
    settings.LIQUIDITY_LOOKAHEAD_DAYS = 4
    _tontine(["0.950", "0.950", "0.900", "0.900"], [ALL, ALL, ALL, ALL])
    [projection] = liquidity_projections()
    assert projection["exposure_share"] == pytest.approx(20_000 * 0.05 / 80_000, abs=1e-4)
    assert liquidity_check() == []


def test_the_tontine_page_shows_its_rotation_exposure(client, analyst_user):
    tontine, people = _tontine(["0.800", "0.400", "0.100", None], [ALL, (1, 3), ALL, ALL])
    client.force_login(analyst_user)
    page = client.get(f"/admin/sunusav/tontine/{tontine.pk}/change/").content.decode().replace("\u202f", " ")
    panel = page[page.index('id="rotation-exposure"') :]
    assert 'class="exposure-sats">14000 sats' in panel.replace("\u00a0", "")
    assert "18 %" in panel  # 0.175 of the payouts left, rounded
    assert str(people[1].pk)[:12] in panel
