"""PostgreSQL's unaccent extension, for the admin's accent-insensitive name search (sunusav/search.py).

SQLite has no extensions: `sunusav.search` registers a Python UNACCENT function on each connection instead.
"""

from django.db import migrations


def unaccent_create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS unaccent")


class Migration(migrations.Migration):
    dependencies = [
        ("sunusav", "0012_case_actions"),
    ]

    # Not dropped on the way back: other objects of the database may use the extension.
    operations = [migrations.RunPython(unaccent_create, migrations.RunPython.noop, elidable=False)]
