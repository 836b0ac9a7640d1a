"""Ruleset v1: today's six rules (fraud.rules) with DEFAULT_PARAMS, published; the groups' rule permissions.

The specs are written out here (not read from fraud.rules) so this migration
gives the same v1 whatever the code becomes.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.utils import timezone

V1_RULES = [
    {
        "rule_id": "invoice_burst",
        "name_fr": "Rafale de factures",
        "name_en": "Invoice burst",
        "reason_fr": "Rafale de factures : {invoices_last_min:.0f} factures en une minute.",
        "reason_en": "Invoice burst: {invoices_last_min:.0f} invoices within one minute.",
        "expression": "invoices_last_min >= 3",
        "effect": "weight",
        "weight": 0.9,
        "priority": 10,
        "enabled": True,
    },
    {
        "rule_id": "new_device_location_unusual_amount",
        "name_fr": "Nouvel appareil, nouveau lieu, montant inhabituel",
        "name_en": "New device, new location, unusual amount",
        "reason_fr": "Nouvel appareil et nouveau lieu avec un montant inhabituel ({amount_sats:.0f} sats).",
        "reason_en": "New device and new location with an unusual amount ({amount_sats:.0f} sats).",
        "expression": "device_changes >= 1 && location_changes >= 1 && amount_sats >= 86349",
        "effect": "weight",
        "weight": 0.9,
        "priority": 20,
        "enabled": True,
    },
    {
        "rule_id": "rapid_repeat",
        "name_fr": "Paiements répétés",
        "name_en": "Rapid repeat",
        "reason_fr": "Paiements répétés : {time_since_last_sec:.0f} s après le précédent.",
        "reason_en": "Rapid repeat: {time_since_last_sec:.0f} s after the previous payment.",
        "expression": "time_since_last_sec < 15 && amount_sats >= 787",
        "effect": "weight",
        "weight": 0.9,
        "priority": 30,
        "enabled": True,
    },
    {
        "rule_id": "structuring",
        "name_fr": "Fractionnement",
        "name_en": "Structuring",
        "reason_fr": "Fractionnement : montant juste sous le seuil déclaratif, peu après un autre paiement.",
        "reason_en": "Structuring: amount just under the reporting limit, shortly after another payment.",
        "expression": "amount_sats >= 0.975 * reporting_limit && amount_sats < reporting_limit && "
        "time_since_last_sec < 21600",
        "effect": "weight",
        "weight": 0.9,
        "priority": 40,
        "enabled": True,
    },
    {
        "rule_id": "near_reporting_limit",
        "name_fr": "Montant proche du seuil déclaratif",
        "name_en": "Amount near the reporting limit",
        "reason_fr": "Montant juste sous le seuil déclaratif ({amount_sats:.0f} sats) : à vérifier.",
        "reason_en": "Amount just under the reporting limit ({amount_sats:.0f} sats): to be reviewed.",
        "expression": "amount_sats >= 0.975 * reporting_limit && amount_sats < reporting_limit && "
        "time_since_last_sec >= 21600",
        "effect": "weight",
        "weight": 0.5,
        "priority": 50,
        "enabled": True,
    },
    {
        "rule_id": "very_large_amount",
        "name_fr": "Montant très élevé",
        "name_en": "Very large amount",
        "reason_fr": "Montant très élevé ({amount_sats:.0f} sats), loin du trafic normal.",
        "reason_en": "Very large amount ({amount_sats:.0f} sats), far outside normal traffic.",
        "expression": "amount_sats >= 823782",
        "effect": "weight",
        "weight": 0.6,
        "priority": 60,
        "enabled": True,
    },
]

ANALYST = ("fraud.view_ruleset", "fraud.view_rule")
ADMIN = ANALYST + (
    "fraud.add_ruleset",
    "fraud.change_ruleset",
    "fraud.change_rule",
    "fraud.approve_ruleset",
    "fraud.publish_ruleset",
)


def v1_create(apps, schema_editor):
    RuleSet = apps.get_model("fraud", "RuleSet")
    Rule = apps.get_model("fraud", "Rule")
    if not RuleSet.objects.exists():
        ruleset = RuleSet.objects.create(
            number=1,
            status="published",
            note="Les six règles d'origine, avec les paramètres réglés à l'entraînement sur le monde de démonstration.",
            published_at=timezone.now(),
        )
        Rule.objects.bulk_create([Rule(ruleset=ruleset, **spec) for spec in V1_RULES])
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in (("Risk analyst", ANALYST), ("Risk admin", ADMIN)):
        group, _ = Group.objects.get_or_create(name=name)
        for dotted in codenames:
            app_label, codename = dotted.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def v1_delete(apps, schema_editor):
    apps.get_model("fraud", "RuleSet").objects.filter(number=1).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("fraud", "0001_rules_initial"),
        ("sunusav", "0004_risk_groups"),
    ]

    operations = [migrations.RunPython(v1_create, v1_delete)]
