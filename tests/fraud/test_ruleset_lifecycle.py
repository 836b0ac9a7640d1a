"""Ruleset versions: v1 from the migration, drafts, edits, four eyes, one publication at a time, rollback, audit."""

import pytest
from django.db import IntegrityError, transaction

from fraud.models_rules import RuleSet
from fraud.rules_engine import default_rule_specs
from fraud.ruleset_selectors import ruleset_makers, ruleset_published
from fraud.ruleset_services import (
    RulesetError,
    RulesetInvalid,
    RulesetNotAllowed,
    RulesetWrongState,
    ruleset_approve,
    ruleset_draft_create,
    ruleset_publish,
    ruleset_rollback,
    ruleset_rule_delete,
    ruleset_rule_save,
    ruleset_send_back,
    ruleset_submit,
)
from sunusav.models import AnalystAction

pytestmark = pytest.mark.django_db


def test_the_migration_publishes_v1_with_todays_six_rules():
    v1 = ruleset_published()
    assert v1.number == 1 and v1.label == "ruleset-v1"
    assert [r.spec() for r in v1.rules.order_by("priority")] == default_rule_specs()


def test_an_analyst_reads_rules_but_cannot_draft(analyst_user):
    assert analyst_user.has_perm("fraud.view_ruleset")
    with pytest.raises(RulesetNotAllowed):
        ruleset_draft_create(actor=analyst_user)


def _new_rule(draft, actor, **extra):
    return ruleset_rule_save(
        actor=actor,
        ruleset=draft,
        rule_id="sim_swap_burst",
        name_fr="Rafale après changement d'appareil",
        name_en="Burst after a device change",
        reason_fr="{invoices_last_min:.0f} factures après un changement d'appareil.",
        reason_en="{invoices_last_min:.0f} invoices after a device change.",
        expression=extra.pop("expression", "device_changes >= 1 && invoices_last_min >= 2"),
        effect="review",
        priority=5,
        **extra,
    )


def test_the_whole_life_with_four_eyes(risk_admin_user, checker):
    maker = risk_admin_user
    draft = ruleset_draft_create(actor=maker, note="SIM swap")
    assert draft.number == 2 and draft.status == "draft" and draft.based_on.number == 1
    assert draft.rules.count() == 6
    _new_rule(draft, maker)
    ruleset_rule_save(actor=maker, ruleset=draft, rule_id="very_large_amount", weight=0.7)
    ruleset_submit(actor=maker, ruleset=draft)
    # The maker cannot approve their own version, whatever their permissions.
    with pytest.raises(RulesetNotAllowed, match="Quatre yeux"):
        ruleset_approve(actor=maker, ruleset=draft)
    # Nor can the checker publish before approving, nor edit a submitted version.
    with pytest.raises(RulesetWrongState):
        ruleset_publish(actor=checker, ruleset=draft)
    with pytest.raises(RulesetWrongState):
        ruleset_rule_save(actor=checker, ruleset=draft, rule_id="x", expression="true")
    ruleset_approve(actor=checker, ruleset=draft)
    ruleset_publish(actor=checker, ruleset=draft)
    draft.refresh_from_db()
    assert draft.status == "published" and draft.approved_by == checker and draft.published_at
    assert RuleSet.objects.get(number=1).status == "retired"
    assert ruleset_published() == draft

    publish = AnalystAction.objects.get(action="ruleset_publish")
    assert publish.before == {"published": 1}
    assert publish.after["diff"] == {
        "added": ["sim_swap_burst"],
        "removed": [],
        "changed": {"very_large_amount": {"weight": [0.6, 0.7]}},
    }
    edits = AnalystAction.objects.filter(action="ruleset_edit", actor=maker)
    assert edits.count() == 2
    assert [a.action for a in AnalystAction.objects.order_by("id")] == [
        "ruleset_draft",
        "ruleset_edit",
        "ruleset_edit",
        "ruleset_submit",
        "ruleset_approve",
        "ruleset_publish",
    ]

    # Roll back to v1: a new version 3, with v1's rules, published at once.
    back = ruleset_rollback(actor=checker, to=RuleSet.objects.get(number=1), note="trop d'alertes")
    assert back.number == 3 and back.status == "published" and back.based_on.number == 1
    assert [r.spec() for r in back.rules.order_by("priority")] == default_rule_specs()
    assert RuleSet.objects.get(number=2).status == "retired"
    rollback = AnalystAction.objects.get(action="ruleset_rollback")
    assert rollback.after["copy_of"] == 1 and rollback.after["diff"]["removed"] == ["sim_swap_burst"]


def test_an_editor_of_the_draft_is_a_maker_too(risk_admin_user, checker):
    draft = ruleset_draft_create(actor=risk_admin_user)
    _new_rule(draft, checker)  # the would-be checker edited it
    ruleset_submit(actor=risk_admin_user, ruleset=draft)
    assert checker.pk in ruleset_makers(draft)
    with pytest.raises(RulesetNotAllowed):
        ruleset_approve(actor=checker, ruleset=draft)


def test_a_bad_expression_is_refused_and_nothing_changes(risk_admin_user):
    draft = ruleset_draft_create(actor=risk_admin_user)
    before = [r.spec() for r in draft.rules.all()]
    with pytest.raises(RulesetInvalid) as error:
        ruleset_rule_save(actor=risk_admin_user, ruleset=draft, rule_id="rapid_repeat", expression="amount_sats >= ")
    assert "« rapid_repeat », position 16" in str(error.value)
    with pytest.raises(RulesetInvalid):
        _new_rule(draft, risk_admin_user, expression="montant > 3")
    assert [r.spec() for r in draft.rules.all()] == before
    assert not AnalystAction.objects.filter(action="ruleset_edit").exists()


def test_send_back_delete_and_refusals(risk_admin_user, checker):
    draft = ruleset_draft_create(actor=risk_admin_user)
    ruleset_rule_delete(actor=risk_admin_user, ruleset=draft, rule_id="very_large_amount")
    assert draft.rules.count() == 5
    ruleset_submit(actor=risk_admin_user, ruleset=draft)
    with pytest.raises(RulesetError):
        ruleset_send_back(actor=checker, ruleset=draft, note=" ")
    ruleset_send_back(actor=checker, ruleset=draft, note="Gardez la règle des gros montants.")
    draft.refresh_from_db()
    assert draft.status == "draft" and draft.submitted_by is None
    with pytest.raises(RulesetWrongState):
        ruleset_rollback(actor=checker, to=RuleSet.objects.get(number=1), note="x")  # already published
    with pytest.raises(RulesetWrongState):
        ruleset_rollback(actor=checker, to=draft, note="x")  # never published


def test_the_database_keeps_one_published_version():
    v1 = ruleset_published()
    with pytest.raises(IntegrityError), transaction.atomic():
        RuleSet.objects.create(number=99, status="published")
    assert ruleset_published() == v1
