"""factory-boy factories for the core domain."""

import datetime as dt

import factory
from django.utils import timezone

from sunusav import models


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Member

    display_name = factory.Sequence(lambda n: f"Membre {n}")
    region = models.Region.DAKAR


class TontineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Tontine

    name = factory.Sequence(lambda n: f"Tontine {n}")
    contribution_sats = 10_000
    cycle = models.Tontine.Cycle.WEEKLY
    started_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=120))


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Membership

    tontine = factory.SubFactory(TontineFactory)
    member = factory.SubFactory(MemberFactory)
    position = factory.Sequence(lambda n: n + 1)


class ContributionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Contribution

    tontine = factory.SubFactory(TontineFactory)
    member = factory.SubFactory(MemberFactory)
    round_number = factory.Sequence(lambda n: n + 1)
    amount_sats = 10_000
    due_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=7))
    paid_at = factory.LazyAttribute(lambda o: o.due_at)


class MobileMoneyTransferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.MobileMoneyTransfer

    member = factory.SubFactory(MemberFactory)
    provider = models.MobileMoneyTransfer.Provider.WAVE
    amount_xof = 5_000
    direction = models.MobileMoneyTransfer.Direction.IN


class EndorsementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Endorsement

    endorser = factory.SubFactory(MemberFactory)
    endorsee = factory.SubFactory(MemberFactory)


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Payment

    member = factory.SubFactory(MemberFactory)
    amount_sats = 5_000
    device_id = "device-1"
    location = "dakar"


class LoanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Loan

    member = factory.SubFactory(MemberFactory)
    offered_amount_xof = 25_000


def suspicious_history(member, *, now=None):
    """The seed's suspicious example as stored history: 9 invoices in the last minute from 4 devices and 3 places.

    A 1,000,000-sat invoice from a fifth device and a fourth place right after
    it derives the seed's example features (10 invoices in a minute, device
    and location changes, seconds after the last).
    """
    now = now or timezone.now()
    for i in range(9):
        PaymentFactory(
            member=member,
            kind="invoice",
            amount_sats=2_000,
            device_id=f"device-{i % 4}",
            location=f"place-{i % 3}",
            created_at=now - dt.timedelta(seconds=50 - i * 5),
        )
    return now
