"""Give the back-office groups the cases' permissions, and create "Compliance officer" (four eyes)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

# Frozen copy of sunusav.audit_trail's lists as they stood when this was written.
ANALYST_GROUP = "Risk analyst"
ADMIN_GROUP = "Risk admin"
COMPLIANCE_GROUP = "Compliance officer"
CASE_PERMISSIONS = (
    "cases.view_case",
    "cases.decide_case",
    "cases.view_caseitem",
    "cases.view_casecomment",
    "cases.add_casecomment",
    "cases.view_suspiciousactivityreport",
)
COMPLIANCE_ONLY = ("cases.approve_case", "cases.approve_report")
# The compliance officer reads what analysts read (the frozen list of sunusav 0004).
ANALYST_PERMISSIONS = (
    "sunusav.view_member",
    "sunusav.view_tontine",
    "sunusav.view_membership",
    "sunusav.view_contribution",
    "sunusav.view_mobilemoneytransfer",
    "sunusav.view_endorsement",
    "sunusav.view_payment",
    "sunusav.view_loan",
    "sunusav.view_modelversion",
    "sunusav.view_analystaction",
    "alerts.view_aialert",
    "alerts.view_aimetric",
    "alerts.view_notification",
)


def groups_extend(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    plan = (
        (ANALYST_GROUP, CASE_PERMISSIONS),
        (ADMIN_GROUP, CASE_PERMISSIONS),
        (
            COMPLIANCE_GROUP,
            ANALYST_PERMISSIONS + tuple(p for p in CASE_PERMISSIONS if p != "cases.decide_case") + COMPLIANCE_ONLY,
        ),
    )
    for name, codenames in plan:
        group, _ = Group.objects.get_or_create(name=name)
        for dotted in codenames:
            app_label, codename = dotted.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def groups_shrink(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name=COMPLIANCE_GROUP).delete()
    for group in Group.objects.filter(name__in=[ANALYST_GROUP, ADMIN_GROUP]):
        group.permissions.remove(*group.permissions.filter(content_type__app_label="cases"))


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0001_initial"),
        ("sunusav", "0004_risk_groups"),
    ]

    operations = [migrations.RunPython(groups_extend, groups_shrink)]
