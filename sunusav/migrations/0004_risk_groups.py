"""Create the back-office groups "Risk analyst" and "Risk admin" with their permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

# Frozen copy of sunusav.audit_trail's lists as they stood when the groups were made;
# a later change to the groups needs a migration of its own.
ANALYST_GROUP = "Risk analyst"
ADMIN_GROUP = "Risk admin"

# Codenames each group holds (app_label.codename), kept here so the migration
# that creates the groups and the tests that check them read one list.
ANALYST_PERMISSIONS = (
    "sunusav.view_member",
    "sunusav.rescore_member",
    "sunusav.view_tontine",
    "sunusav.view_membership",
    "sunusav.view_contribution",
    "sunusav.view_mobilemoneytransfer",
    "sunusav.view_endorsement",
    "sunusav.view_payment",
    "sunusav.review_payment",
    "sunusav.view_loan",
    "sunusav.view_modelversion",
    "sunusav.view_analystaction",
    "alerts.view_aialert",
    "alerts.resolve_aialert",
    "alerts.view_aimetric",
    "alerts.view_notification",
)
ADMIN_PERMISSIONS = ANALYST_PERMISSIONS + (
    "sunusav.activate_modelversion",
    "sunusav.train_modelversion",
)


def groups_create(apps, schema_editor):
    # Permissions are normally created after all migrations (post_migrate);
    # create them now so the groups can hold them on a fresh database.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ((ANALYST_GROUP, ANALYST_PERMISSIONS), (ADMIN_GROUP, ADMIN_PERMISSIONS)):
        group, _ = Group.objects.get_or_create(name=name)
        for dotted in codenames:
            app_label, codename = dotted.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def groups_delete(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=[ANALYST_GROUP, ADMIN_GROUP]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("sunusav", "0003_analyst_actions_and_permissions"),
        ("alerts", "0005_resolve_permission"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(groups_create, groups_delete)]
