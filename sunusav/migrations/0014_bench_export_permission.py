"""CSV exports (sunusav.csv_export): the `export_data` permission for the three back-office groups, the "export" action."""

from django.contrib.auth.management import create_permissions
from django.db import migrations, models

# Frozen copy of the groups that sunusav.audit_trail gives `sunusav.export_data`.
GROUPS = ("Risk analyst", "Risk admin", "Compliance officer")


def export_grant(apps, schema_editor):
    # Permissions are normally created after all migrations (post_migrate): make this one now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.get(content_type__app_label="sunusav", codename="export_data")
    for name in GROUPS:
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(permission)


def export_revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Permission.objects.filter(content_type__app_label="sunusav", codename="export_data").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("sunusav", "0013_day_unaccent"),
        # The "Compliance officer" group.
        ("cases", "0002_case_groups"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="analystaction",
            options={
                "ordering": ["-created_at"],
                "permissions": [("export_data", "Peut exporter les listes en CSV")],
                "verbose_name": "action d'analyste",
                "verbose_name_plural": "actions d'analystes",
            },
        ),
        migrations.AlterField(
            model_name="analystaction",
            name="action",
            field=models.CharField(
                choices=[
                    ("resolve", "résolution d'alerte"),
                    ("release", "libération de paiement"),
                    ("reject", "rejet de paiement"),
                    ("rescore", "nouveau calcul du score"),
                    ("activate", "activation de modèle"),
                    ("rollback", "retour au modèle précédent"),
                    ("retrain", "réentraînement"),
                    ("promote", "promotion du challenger"),
                    ("expire", "expiration de blocage"),
                    ("report_draft", "rédaction de déclaration CENTIF"),
                    ("report_update", "modification de déclaration CENTIF"),
                    ("report_approve", "approbation de déclaration CENTIF"),
                    ("report_send", "transmission de déclaration CENTIF"),
                    ("report_download", "téléchargement de déclaration CENTIF"),
                    ("case_open", "ouverture de dossier"),
                    ("case_severity", "aggravation de dossier"),
                    ("case_assign", "attribution de dossier"),
                    ("case_escalate", "escalade de dossier"),
                    ("case_comment", "commentaire de dossier"),
                    ("case_propose", "décision de dossier proposée"),
                    ("case_decide", "décision de dossier"),
                    ("case_approve", "approbation de décision de dossier"),
                    ("case_send_back", "décision de dossier refusée"),
                    ("case_close", "clôture de dossier"),
                    ("export", "export CSV"),
                ],
                max_length=16,
                verbose_name="action",
            ),
        ),
        migrations.RunPython(export_grant, export_revoke),
    ]
