"""WSGI entry point of the floor (gunicorn's positional app argument overrides gunicorn.conf.py's wsgi_app)."""

import os

from django.core.wsgi import get_wsgi_application

# Forced: the harness's own environment names the product's settings.
os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.floor.settings"
application = get_wsgi_application()
