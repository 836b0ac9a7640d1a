"""The cases' back-office pages."""

from cases import admin_reports  # noqa: F401  (registers the CENTIF reports' pages)
