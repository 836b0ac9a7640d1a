"""WSGI entry point (gunicorn sunusav.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sunusav.settings")
application = get_wsgi_application()
