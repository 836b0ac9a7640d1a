"""Every back-office page in French shows no English product string and no raw code; in English, no French.

A small world gives every page something to show: the shipped models and a
retrained credit version, a member with a year of contributions, mobile
money, endorsements and loans in a tontine, a payment held by the fraud
check and another one rejected by an analyst, credit offers, timed real-time
decisions, a drift run and a finished retraining. Each page is read as a
person sees it: without <script>, <style>, HTML attributes (tooltips,
data-*), comments, and the folded-away raw payload (a closed <details>).
"""

import datetime as dt
import html
import re
import shutil
import uuid
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from django_q.models import Task

from alerts.models import AIAlert, AIMetric
from cases.models import Case
from credit.features import FEATURES as CREDIT_FEATURES
from credit.services import members_credit_check
from credit.training import Dataset, credit_model_train
from fraud.features import FEATURES as FRAUD_FEATURES
from fraud.services import payment_review, payment_screen
from sunusav.ml import lifecycle
from sunusav.ml.registry import registry
from sunusav.models import ModelVersion, Payment
from tests.factories import (
    ContributionFactory,
    EndorsementFactory,
    LoanFactory,
    MemberFactory,
    MembershipFactory,
    MobileMoneyTransferFactory,
    PaymentFactory,
    TontineFactory,
    suspicious_history,
)

pytestmark = pytest.mark.django_db

SHIPPED = Path(settings.BASE_DIR) / "ml_artifacts"

# English found on the French pages by an analyst (and what would come back with them): product
# words, the retraining's own English sentence, model and object codes, services' note prefixes.
ENGLISH = [
    "kept",
    "held-out",
    "held out",
    "beats",
    "same rows",
    "on request",
    "usable",
    "aialert",
    "modelversion",
    "analystaction",
    "heldpayment",
    "reject:",
    "release:",
    "expired",
    "features",
    "rules",
    "writes",
    "model",
    "member",
    "none",
    "true",
    "false",
    "held",
    "settled",
    "pending",
    "hold",
    "allow",
    "review",
    "invoice",
    "payment",
    "credit",
    "fraud",
    "database",
    "closed loans",
    "classifier",
    "learned",
    "unusable",
    "training",
    "select",
]
# Codes that must never be read where a person reads: features, metric keys, stages, fraud patterns.
CODES = [
    *CREDIT_FEATURES,
    *FRAUD_FEATURES,
    "credit_prediction",
    "credit_score",
    "credit_score_run",
    "fraud_check",
    "payment_review",
    "alert_resolved",
    "account_takeover",
    "invoice_burst",
    "rapid_repeat",
    "structuring",
    "auc_on_this_held_out",
    "pr_auc_on_this_test",
    "n_train",
    "repaid_rate",
]
# Strings of the French catalog an English page must not show (their English is in the .po).
FRENCH = [
    "Tableau de bord",
    "Essayer les modèles",
    "Alertes IA",
    "Paiements retenus",
    "Fraude suspectée",
    "Offre de crédit",
    "Cotisations aux tontines",
    "taux de ponctualité",
    "règles de secours",
    "Modèle de crédit",
    "Modèle de fraude",
    "Mettre en service",
    "Entraînement",
    "jeu de test",
    "Motifs",
    "montant",
    "Rejet",
    "version de modèle",
    "crédit",
    "fraude",
    "Affichage",
    "Sélectionnez",
]
WORD = r"(?<![\w/-]){}(?![\w/-])"
# "0.968" (an English decimal point) and "1272082" (five digits or more, ungrouped), outside codes and versions.
ENGLISH_DECIMAL = re.compile(r"(?<![\w.,/-])\d+\.\d+(?![\w.])")
# (An id shortened with "…", such as "membre 54084041…", is no number.)
UNGROUPED = re.compile(r"(?<![\w.,/:°-])\d{5,}(?![\w/:…-])")  # "n°12345" is an identifier


def visible_text(page: str) -> str:
    """Return what a person reads on the page: no scripts, styles, attributes, comments or folded-away parts."""
    page = re.sub(r"(?is)<(script|style|template)\b.*?</\1\s*>", " ", page)
    page = re.sub(r"(?s)<!--.*?-->", " ", page)
    page = re.sub(r"(?is)<details\b(?![^>]*\bopen\b)[^>]*>.*?</details\s*>", " ", page)
    # Code (a rule's expression, a name a rule reads) and text marked as English on purpose
    # (the rule editor documents each name in both languages) are not French prose.
    page = re.sub(r"(?is)<code\b[^>]*>.*?</code\s*>", " ", page)
    page = re.sub(r"(?is)<(td|span|p|div)\b[^>]*\blang=\"en\"[^>]*>.*?</\1\s*>", " ", page)
    text = html.unescape(re.sub(r"(?s)<[^>]*>", " ", page))
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ").replace("\u202f", " "))


def english_left(text: str) -> list[str]:
    words = [w for w in ENGLISH if re.search(WORD.format(re.escape(w)), text, re.IGNORECASE)]
    codes = [c for c in CODES if re.search(WORD.format(re.escape(c)), text)]
    return words + codes + ENGLISH_DECIMAL.findall(text) + UNGROUPED.findall(text)


def french_left(text: str) -> list[str]:
    found = [w for w in FRENCH if re.search(WORD.format(re.escape(w)), text, re.IGNORECASE)]
    codes = [c for c in CODES if re.search(WORD.format(re.escape(c)), text)]
    return found + codes


def test_the_reader_keeps_only_what_a_person_reads():
    page = (
        '<html><head><style>.model{}</style><script>var credit = 1;</script></head><body title="amount_sats">'
        '<p data-code="rapid_repeat">Montant : 7 371</p><!-- fraud_check --><details><summary>Contenu brut</summary>'
        '<pre>{"amount_sats": 7371.0}</pre></details><svg><title>Variables</title></svg></body></html>'
    )
    text = visible_text(page)
    assert text.split() == ["Montant", ":", "7", "371", "Variables"]
    assert english_left(text) == [] and english_left("amount_sats = 7914.0 (1272082 µs)") == [
        "amount_sats",
        "7914.0",
        "1272082",
    ]
    assert english_left("kept 20261124-182210-434-b7c4e4: its held-out AUC, lightgbm 4.7.0") == ["kept", "held-out"]
    assert english_left("GET /api/credit/members/<id>/explanation · retrain-credit-da687b055bcb") == []


# --- The world -------------------------------------------------------------------------------------


def _credit_rows(seed: int, n: int = 800):
    rng = np.random.default_rng(seed)
    punctuality, delay, endorsements = rng.beta(5, 1.5, n), rng.gamma(1.2, 1.5, n), rng.poisson(2.5, n)
    count = rng.integers(0, 30, n)
    X = np.column_stack([count * 10_000, punctuality, count, rng.gamma(2, 60_000, n), delay, endorsements])
    y = (rng.random(n) > 1 / (1 + np.exp(-(2.5 - 5 * punctuality + 0.5 * delay - 0.35 * endorsements)))).astype(int)
    return Dataset(X=X.astype(float), y=y, times=None, source="csv: essai.csv")


def _held_payment(member) -> Payment:
    now = suspicious_history(member, now=timezone.now() - dt.timedelta(minutes=3))
    payment = PaymentFactory(
        member=member, kind="invoice", amount_sats=1_000_000, device_id="device-9", location="place-9", created_at=now
    )
    payment_screen(payment=payment)
    payment.refresh_from_db()
    assert payment.status == "held"
    return payment


@pytest.fixture
def world(artifacts_dir, risk_admin_user, django_capture_on_commit_callbacks):
    for name in ("credit", "fraud"):
        shutil.copytree(SHIPPED / name, artifacts_dir / name)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.artifacts_sync(activated_by="models_sync")
        retrained = credit_model_train(data=_credit_rows(4), rounds=20).model_version  # kept or not: both show
    registry.invalidate()

    now = timezone.now()
    awa = MemberFactory(display_name="Awa Diop")
    tontine = TontineFactory(
        name="Tontine du marché", started_at=now - dt.timedelta(days=200), contribution_sats=25_000
    )
    people = [awa, *(MemberFactory() for _ in range(3))]
    for position, member in enumerate(people, start=1):
        MembershipFactory(tontine=tontine, member=member, position=position)
        for r in range(12):
            due = now - dt.timedelta(days=7 * (r + 1))
            late = dt.timedelta(days=4) if r % 5 == 0 else dt.timedelta(0)
            paid = None if (member != awa and r == 0) else due + late
            ContributionFactory(
                tontine=tontine, member=member, round_number=12 - r, amount_sats=25_000, due_at=due, paid_at=paid
            )
        MobileMoneyTransferFactory(member=member, amount_xof=125_000)
    for member in people[1:]:
        EndorsementFactory(endorser=member, endorsee=awa)
    LoanFactory(member=awa, offered_amount_xof=150_000, status="repaid", offered_at=now - dt.timedelta(days=90))
    LoanFactory(member=people[1], offered_amount_xof=75_000, status="defaulted", offered_at=now - dt.timedelta(days=60))
    members_credit_check(member_ids=[m.pk for m in people], run_id="essai")

    held = _held_payment(awa)
    rejected = _held_payment(people[2])
    payment_review(payment_id=rejected.pk, action="reject", actor=risk_admin_user, reason="Appareil volé, confirmé.")

    stages = {"validation": 1_272_082, "features": 148, "model": 578, "rules": 150, "writes": 12_345}
    for key in ("fraud_check", "credit_prediction"):
        for _ in range(3):
            AIMetric.objects.create(
                user=awa, metric_key=key, metric_value=0.42, meta={"decision": "allow", "stages_us": stages}
            )
    credit_version = ModelVersion.objects.get(name="credit", status="active").version
    base = {
        "model": "credit",
        "model_version": credit_version,
        "run_id": "credit:essai",
        "computed_at": now.isoformat(),
    }
    for window, value in (("day", 0.31), ("week", 0.12)):
        AIMetric.objects.create(
            metric_key="psi",
            metric_value=value,
            meta={**base, "feature": "punctuality_rate", "window": window, "value": value},
        )

    action = lifecycle.model_retrain_enqueue(actor=risk_admin_user, name="credit", note="")
    active = ModelVersion.objects.get(name="credit", status="active")
    Task.objects.create(
        id=uuid.uuid4().hex,
        name=action.after["task_name"],
        func="sunusav.ml.tasks.model_train",
        started=now,
        stopped=now,
        success=True,
        result={
            "model": "credit",
            "version": retrained.version,
            "activated": False,
            "why": f"kept {active.version}: its held-out auc 0.7563 >= 0.7324 on the same rows",
            "rows": 800,
            "metric": "auc",
            "score": 0.7324,
            "active_version": active.version,
            "active_score_on_same_rows": 0.7563,
            "metrics": {"auc": 0.7324},
        },
    )
    cache.clear()
    yield {
        "member": awa,
        "tontine": tontine,
        "held": held,
        "fraud_alert": AIAlert.objects.get(alert_type="fraud_suspect", payload__payment_id=str(held.pk)),
        "credit_alert": AIAlert.objects.filter(alert_type="credit_offer").first(),
        "retrained": retrained,
        "run": action,
    }
    cache.clear()


def _pages(world) -> dict[str, tuple[str, dict | None]]:
    credit = ModelVersion.objects.get(name="credit", status="active")
    fraud = ModelVersion.objects.get(name="fraud", status="active")
    inactive = ModelVersion.objects.filter(name="credit").exclude(status="active").first()
    pages = {
        "dashboard": (reverse("backoffice:dashboard"), None),
        "try": (reverse("backoffice:try_models"), None),
        "try credit": (
            reverse("backoffice:try_models"),
            {"model": "credit", **{f"credit-{k}": v for k, v in _credit_example().items()}},
        ),
        "try fraud": (
            reverse("backoffice:try_models"),
            {"model": "fraud", **{f"fraud-{k}": v for k, v in _fraud_example().items()}},
        ),
        "alerts": (reverse("admin:alerts_aialert_changelist"), None),
        "fraud alert": (reverse("admin:alerts_aialert_change", args=[world["fraud_alert"].pk]), None),
        "held payments": (reverse("admin:sunusav_heldpayment_changelist"), None),
        "held payment": (reverse("admin:sunusav_heldpayment_change", args=[world["held"].pk]), None),
        "member": (reverse("admin:sunusav_member_change", args=[world["member"].pk]), None),
        "tontine": (reverse("admin:sunusav_tontine_change", args=[world["tontine"].pk]), None),
        "models": (reverse("admin:sunusav_modelversion_changelist"), None),
        "credit version": (reverse("admin:sunusav_modelversion_change", args=[credit.pk]), None),
        "fraud version": (reverse("admin:sunusav_modelversion_change", args=[fraud.pk]), None),
        "retrained version": (reverse("admin:sunusav_modelversion_change", args=[world["retrained"].pk]), None),
        "run": (reverse("admin:sunusav_modelversion_run", args=[world["run"].pk]), None),
        "activation": (reverse("admin:sunusav_modelversion_activate", args=[inactive.pk]), None),
        "rollback": (reverse("admin:sunusav_modelversion_rollback", args=["credit"]), None),
        "audit trail": (reverse("admin:sunusav_analystaction_changelist"), None),
        "loans": (reverse("admin:sunusav_loan_changelist"), None),
        "payments": (reverse("admin:sunusav_payment_changelist"), None),
        "payment": (reverse("admin:sunusav_payment_change", args=[world["held"].pk]), None),
        "contributions": (reverse("admin:sunusav_contribution_changelist"), None),
        "endorsements": (reverse("admin:sunusav_endorsement_changelist"), None),
        "mobile money": (reverse("admin:sunusav_mobilemoneytransfer_changelist"), None),
        "cases": (reverse("admin:cases_case_changelist"), None),
        "case": (reverse("admin:cases_case_change", args=[Case.objects.get(member=world["member"]).pk]), None),
    }
    if world["credit_alert"] is not None:
        pages["credit alert"] = (reverse("admin:alerts_aialert_change", args=[world["credit_alert"].pk]), None)
    return pages


def _credit_example():
    from backoffice.forms import CREDIT_EXAMPLE

    return {**CREDIT_EXAMPLE, "punctuality_rate": "0,4", "contributions_count": 2}


def _fraud_example():
    from backoffice.forms import FRAUD_EXAMPLE

    return FRAUD_EXAMPLE


def _read(client, url: str, data: dict | None) -> str:
    response = client.post(url, data) if data is not None else client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return visible_text(response.content.decode())


def test_every_back_office_page_is_french(client, risk_admin_user, world):
    client.force_login(risk_admin_user)
    left = {}
    for name, (url, data) in _pages(world).items():
        text = _read(client, url, data)
        found = english_left(text)
        if found:
            left[name] = found
    assert left == {}


def test_the_pages_show_what_was_fixed(client, risk_admin_user, world):
    client.force_login(risk_admin_user)
    pages = _pages(world)
    run = _read(client, *pages["run"])
    assert "Version en service" in run and "gardée" in run and "0,7563" in run and "0,7324" in run
    assert "Entraînement du modèle de crédit" in run
    dashboard = _read(client, *pages["dashboard"])
    assert "1,27 s" in dashboard and "12,3 ms" in dashboard and "Vérification de fraude" in dashboard
    held = _read(client, *pages["held payment"])
    assert "montant (sats) : 1 000 000" in held and "1 000 000 sats (600 000 XOF)" in held
    audit = _read(client, *pages["audit trail"])
    assert "Rejet : Appareil volé, confirmé." in audit and "Par analyste" in audit and "Par date" in audit
    assert "Par par" not in audit and "Version de modèle" in audit
    alerts = _read(client, *pages["alerts"])
    assert "Par date de création" in alerts and "Alertes IA" in alerts
    alert = _read(client, *pages["fraud alert"])
    assert "Affichage de alerte" not in alert and "Alerte IA" in alert
    member = _read(client, *pages["member"])
    assert "dernier score" not in member or "derniers scores" in member
    empty = visible_text(client.get(reverse("admin:alerts_aialert_changelist") + "?q=personne").content.decode())
    assert "0 alerte IA" in empty and "0 alertes" not in empty


def test_every_back_office_page_is_english_after_the_switch(client, risk_admin_user, world):
    client.force_login(risk_admin_user)
    client.post("/i18n/setlang/", {"language": "en", "next": "/admin/"})
    left = {}
    for name, (url, data) in _pages(world).items():
        response = client.post(url, data) if data is not None else client.get(url)
        assert response.status_code == 200, name
        assert '<html lang="en"' in response.content.decode(), name
        found = french_left(visible_text(response.content.decode()))
        if found:
            left[name] = found
    assert left == {}


# --- Every admin page, found from the admin site itself ---------------------------------------------

# Django's generated strings pasted with a verbose name that does not fit the sentence.
GENERATED_MISTAKES = {
    # "Affichage de alerte IA": Django's "Affichage de %s", "Modification de %s", "Ajout de %s" before a vowel.
    "elision": re.compile(r"\b(?:Affichage|Modification|Ajout|Suppression) de (?=[aeiouyéèêàâîôûAEIOUYÉÈÊÀÂÎÔÛh])"),
    # "Par par", "Par créée le", "Par le": a filter titled by a verbose name that reads badly after "Par".
    "filter title": re.compile(r"\bPar (?:par|créée?s?|créés?|le|la|les|un|une|de|du|des)\b"),
    # "0 alertes IA", "1 derniers scores": French takes the singular for 0 and 1.
    "plural after 0 or 1": re.compile(r"(?<![\d,.])\b[01] (?!sats\b|fois\b|mois\b)[a-zéèê]+s\b"),
}


def generated_mistakes(text: str) -> list[str]:
    return [f"{name}: {m.group(0)!r}" for name, pattern in GENERATED_MISTAKES.items() for m in pattern.finditer(text)]


def test_the_mistake_patterns_catch_what_the_analyst_saw():
    seen = "Affichage de alerte IA · Par par · Par créée le · 0 alertes IA · 1 derniers scores"
    assert len(generated_mistakes(seen)) == 5, generated_mistakes(seen)
    fine = "Alerte IA · Par analyste · Par date de création · 0 alerte IA · 2 alertes IA · 1 000 sats · d'alerte"
    assert generated_mistakes(fine) == []


# The job queue's and the login lockout's own pages (Django Q2, django-axes): those packages' English,
# for the superuser who runs the platform; the product's reading of a job is the Models section.
THIRD_PARTY_APPS = {"django_q", "axes"}
# Django's own password summary ("itérations : 1000000") on a user's page.
HASH_SUMMARY = re.compile(r"itérations : \d+")


# Object pages read per admin: enough for each kind of metric and audit row of the world.
PAGES_PER_ADMIN = 12


def _admin_pages(world) -> dict[str, str]:
    """Every registered admin's list and the pages of its objects (a dozen at most)."""
    from django.contrib import admin

    pages = {}
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label in THIRD_PARTY_APPS:
            continue
        info = (model._meta.app_label, model._meta.model_name)
        pages[f"{model._meta.label} list"] = reverse("admin:{}_{}_changelist".format(*info))
        for obj in model_admin.get_queryset(_SuperuserRequest()).order_by("pk")[:PAGES_PER_ADMIN]:
            pages[f"{model._meta.label} page {obj.pk}"] = reverse("admin:{}_{}_change".format(*info), args=[obj.pk])
    return pages


class _SuperuserRequest:
    """Enough of a request for `get_queryset` (which some admins narrow by user)."""

    def __init__(self):
        from django.contrib.auth.models import User

        self.user = User(is_superuser=True, is_staff=True, is_active=True)
        self.GET = {}


def test_every_admin_page_reads_as_french_to_a_superuser(client, world, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("chef", password="pw-chef-2026"))
    left = {}
    for name, url in _admin_pages(world).items():
        response = client.get(url, follow=True)
        assert response.status_code == 200, (name, url)
        text = HASH_SUMMARY.sub(" ", visible_text(response.content.decode()))
        found = english_left(text) + generated_mistakes(text)
        if found:
            left[name] = found
    assert left == {}
