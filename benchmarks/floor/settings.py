"""Minimal settings for the floor: no apps, no middleware, no database, no templates, no i18n."""

import os

DEBUG = False
SECRET_KEY = os.environ.get("FLOOR_SECRET_KEY", "floor-bench-secret-key-0123456789abcdef0123")
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "benchmarks.floor.urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
DATABASES: dict = {}
TEMPLATES: list = []
USE_I18N = False
USE_TZ = True
# The same token header as the product and the seed-design service check.
FLOOR_TOKEN = os.environ.get("FLOOR_TOKEN", "")
