"""Allow, deny and watch lists in rules: hashing, expiry, CSV import, audit, both forms, the hot path and the backtest."""

from datetime import timedelta

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from fraud.backtest import ruleset_backtest_run
from fraud.detectors import combine_ruleset
from fraud.features import FEATURES
from fraud.list_services import (
    ListError,
    rule_list_create,
    rule_list_entry_add,
    rule_list_entry_remove,
    rule_list_import_csv,
)
from fraud.models_lists import RuleListEntry
from fraud.rules_engine import RuleExpressionError, compile_ruleset
from fraud.ruleset_services import (
    RulesetInvalid,
    ruleset_approve,
    ruleset_draft_create,
    ruleset_publish,
    ruleset_rule_save,
    ruleset_submit,
)
from fraud.ruleset_serving import serving_ruleset
from fraud.services import transaction_check
from sunusav.hashing import phone_hash
from sunusav.models import AnalystAction
from tests.factories import MemberFactory, PaymentFactory
from tests.fraud.conftest import ORDINARY

pytestmark = pytest.mark.django_db
BASE = {k: v for k, v in ORDINARY.items() if k != "user_id"}


def test_list_expressions_parse_and_both_forms_agree():
    specs = [{"rule_id": "r", "expression": 'device in list("bloques") || member in list("vip") && amount_sats > 5'}]
    ruleset = compile_ruleset(
        specs, lists={"bloques": "device", "vip": "member"}, list_values={"bloques": {"d1", "d3"}, "vip": {"m2"}}
    )
    rows = [
        {**dict.fromkeys(FEATURES, 10), "device_id": d, "user_id": m}
        for d in ("d1", "d2", "d3", None)
        for m in ("m1", "m2", None)
    ]
    scalar = [ruleset.fired(ruleset.facts(row, 100_000))[0] for row in rows]
    columns = {name: np.array([row[name] for row in rows], dtype=np.float64) for name in FEATURES}
    columns.update(ruleset.membership_columns(rows, len(rows)))
    vector = ruleset.fire_columns({**columns, "reporting_limit": 100_000.0}, len(rows))["r"].tolist()
    assert scalar == vector == [(r["device_id"] in ("d1", "d3")) or r["user_id"] == "m2" for r in rows]
    with pytest.raises(RuleExpressionError, match="liste inconnue"):
        compile_ruleset([{"rule_id": "r", "expression": 'device in list("autre")'}], lists={"bloques": "device"})
    with pytest.raises(RuleExpressionError, match="contient des « device »"):
        compile_ruleset([{"rule_id": "r", "expression": 'member in list("bloques")'}], lists={"bloques": "device"})


def test_phones_are_hashed_entries_expire_and_every_change_is_audited(risk_admin_user):
    phones = rule_list_create(actor=risk_admin_user, name="telephones_voles", kind="deny", subject="phone_hash")
    entry = rule_list_entry_add(
        actor=risk_admin_user, rule_list=phones, value="+221 77 123 45 67", reason="vol signalé"
    )
    assert entry.value == phone_hash("+221771234567") and "1234567" not in entry.value
    with pytest.raises(ListError):
        rule_list_entry_add(actor=risk_admin_user, rule_list=phones, value="+221770000000", reason=" ")
    past = rule_list_entry_add(
        actor=risk_admin_user,
        rule_list=phones,
        value="+221770000001",
        reason="x",
        expires_at=timezone.now() - timedelta(days=1),
    )
    active = set(RuleListEntry.objects.filter(RuleListEntry.active_q()).values_list("value", flat=True))
    assert entry.value in active and past.value not in active
    rule_list_entry_remove(actor=risk_admin_user, rule_list=phones, value="+221771234567")
    assert AnalystAction.objects.filter(action="list_change").count() == 4


def test_a_csv_import_is_all_or_nothing(risk_admin_user):
    devices = rule_list_create(actor=risk_admin_user, name="appareils_bloques", kind="deny", subject="device")
    summary = rule_list_import_csv(
        actor=risk_admin_user,
        rule_list=devices,
        content="value,reason,expires\nd1,SIM swap,\nd2,,2099-01-31\n",
        default_reason="vague SIM",
    )
    assert summary == {"added": 2, "updated": 0}
    assert dict(devices.entries.values_list("value", "reason")) == {"d1": "SIM swap", "d2": "vague SIM"}
    with pytest.raises(ListError, match="Ligne 2"):
        rule_list_import_csv(actor=risk_admin_user, rule_list=devices, content="d3,ok\nd4,ok,pas une date\n")
    assert devices.entries.count() == 2
    assert AnalystAction.objects.filter(action="list_import").count() == 1


def test_a_published_deny_list_rule_holds_and_a_list_change_reaches_the_checks(
    risk_admin_user, checker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        members = rule_list_create(actor=risk_admin_user, name="mules", kind="deny", subject="member")
        draft = ruleset_draft_create(actor=risk_admin_user)
        with pytest.raises(RulesetInvalid, match="liste inconnue"):
            ruleset_rule_save(
                actor=risk_admin_user, ruleset=draft, rule_id="mule", expression='member in list("mulets")'
            )
        ruleset_rule_save(
            actor=risk_admin_user,
            ruleset=draft,
            rule_id="mule",
            name_fr="Mule",
            expression='member in list("mules")',
            effect="hold",
            priority=1,
        )
        ruleset_submit(actor=risk_admin_user, ruleset=draft)
        ruleset_approve(actor=checker, ruleset=draft)
        ruleset_publish(actor=checker, ruleset=draft)
    assert transaction_check(features=BASE, member="m-42").decision == "allow"
    with django_capture_on_commit_callbacks(execute=True):
        rule_list_entry_add(actor=risk_admin_user, rule_list=members, value="m-42", reason="chaîne de mules")
    result = transaction_check(features={**BASE, "user_id": "m-42"})
    assert (result.decision, result.rules_fired) == ("hold", ["mule"])
    assert serving_ruleset().list_values == {"mules": frozenset({"m-42"})}


def test_the_backtest_reads_the_stored_payments_devices(risk_admin_user):
    devices = rule_list_create(actor=risk_admin_user, name="appareils_bloques", kind="deny", subject="device")
    rule_list_entry_add(actor=risk_admin_user, rule_list=devices, value="dev-bad", reason="SIM swap")
    member = MemberFactory()
    now = timezone.now()
    PaymentFactory(member=member, device_id="dev-bad", amount_sats=5_000, created_at=now - timedelta(hours=2))
    PaymentFactory(member=member, device_id="dev-ok", amount_sats=5_000, created_at=now - timedelta(hours=1))
    draft = ruleset_draft_create(actor=risk_admin_user)
    ruleset_rule_save(
        actor=risk_admin_user,
        ruleset=draft,
        rule_id="bad_device",
        name_fr="Appareil bloqué",
        expression='device in list("appareils_bloques")',
        effect="review",
    )
    report = ruleset_backtest_run(ruleset=draft, window_days=30)
    assert {r["id"]: r["hits"] for r in report["rules"]}["bad_device"] == 1
    assert report["overall"]["reviews"] == 1 and report["gained"] == 1


def test_the_list_page_imports_a_csv(risk_admin_user):
    devices = rule_list_create(actor=risk_admin_user, name="appareils_bloques", kind="deny", subject="device")
    client = Client()
    client.force_login(risk_admin_user)
    page = reverse("admin:fraud_rulelist_change", args=[devices.pk])
    assert 'id="list-import"' in client.get(page).content.decode()
    upload = SimpleUploadedFile("a.csv", b"d1,fraude\nd2,fraude\n", content_type="text/csv")
    response = client.post(reverse("admin:fraud_rulelist_import", args=[devices.pk]), {"file": upload}, follow=True)
    assert "Import : 2 entrées ajoutées, 0 mises à jour." in response.content.decode()
    assert devices.entries.count() == 2


def test_combine_reads_subjects_from_columns_or_rows():
    ruleset = compile_ruleset(
        [{"rule_id": "r", "expression": 'location in list("lieux")', "effect": "review"}],
        lists={"lieux": "location"},
        list_values={"lieux": {"Touba"}},
    )
    matrix = np.zeros((6, 5))
    rows = [{"location": loc} for loc in ("Touba", "Dakar", "Touba", None, "Thiès", "Touba")]
    _, _, from_rows, _ = combine_ruleset(matrix, None, None, None, ruleset, subject_rows=rows)
    _, _, from_columns, _ = combine_ruleset(
        matrix, None, None, None, ruleset, subject_columns={"location": [r["location"] or "" for r in rows]}
    )
    _, _, one, _ = combine_ruleset(matrix[:1], None, None, None, ruleset, subject_rows=rows[:1])
    assert from_rows == from_columns == ["review", None, "review", None, None, "review"]
    assert one == ["review"]


def test_a_stored_payment_s_device_on_a_deny_list_holds_it_live(
    risk_admin_user, checker, django_capture_on_commit_callbacks
):
    from fraud.services import payment_check
    from sunusav.models import Payment

    with django_capture_on_commit_callbacks(execute=True):
        devices = rule_list_create(actor=risk_admin_user, name="appareils_voles", kind="deny", subject="device")
        rule_list_entry_add(actor=risk_admin_user, rule_list=devices, value="tel-vole-7", reason="signalé volé")
        draft = ruleset_draft_create(actor=risk_admin_user)
        ruleset_rule_save(
            actor=risk_admin_user,
            ruleset=draft,
            rule_id="stolen_device",
            name_fr="Appareil volé",
            expression='device in list("appareils_voles")',
            effect="hold",
            priority=1,
        )
        ruleset_submit(actor=risk_admin_user, ruleset=draft)
        ruleset_approve(actor=checker, ruleset=draft)
        ruleset_publish(actor=checker, ruleset=draft)
    member = MemberFactory()
    ordinary = PaymentFactory(member=member, device_id="tel-7", status=Payment.Status.PENDING)
    stolen = PaymentFactory(member=member, device_id="tel-vole-7", status=Payment.Status.PENDING)
    assert payment_check(payment=ordinary, features={**BASE, "user_id": str(member.pk)}).result.decision == "allow"
    held = payment_check(payment=stolen, features={**BASE, "user_id": str(member.pk)})
    assert (held.result.decision, held.result.rules_fired) == ("hold", ["stolen_device"])
    stolen.refresh_from_db()
    assert stolen.status == Payment.Status.HELD
