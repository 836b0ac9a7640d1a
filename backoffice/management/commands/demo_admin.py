"""Create (or reset) the demo's logins and print them: a superuser, a risk analyst, a risk admin and a compliance officer."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from sunusav.audit_trail import ADMIN_GROUP, ANALYST_GROUP, COMPLIANCE_GROUP, groups_ensure


class Command(BaseCommand):
    help = (
        "Create the demo superuser 'admin' and the staff users 'analyste' (Risk analyst) and "
        "'admin-risques' (Risk admin) and 'conformite' (Compliance officer: the second pair of eyes), each with a fresh random password, and print the logins."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default="", help="Use this password instead of a random one.")
        parser.add_argument("--no-staff", action="store_true", help="Only the superuser, not the two risk logins.")

    def handle(self, *args, username, password, no_staff, **options):
        users = [(username, None)]
        if not no_staff:
            groups_ensure()
            users += [("analyste", ANALYST_GROUP), ("admin-risques", ADMIN_GROUP), ("conformite", COMPLIANCE_GROUP)]
        for name, group in users:
            secret = password or secrets.token_urlsafe(9)
            user, _ = get_user_model().objects.get_or_create(username=name)
            user.is_staff = True
            user.is_superuser = group is None
            user.set_password(secret)
            user.save()
            if group:
                user.groups.set([Group.objects.get(name=group)])
            role = group or "superuser"
            self.stdout.write(self.style.SUCCESS(f"Admin login ({role}): {name} / {secret}"))
