from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SunusavConfig(AppConfig):
    name = "sunusav"
    verbose_name = _("SunuSàv : membres et tontines")

    def ready(self):
        # Django's rule: modules that touch models are imported once the app registry is ready.
        from sunusav import checks  # noqa: F401  (registers system checks)
        from sunusav.api import schema  # noqa: F401  (registers the OpenAPI token scheme)
        from sunusav.jobs import connect_ledger_signals
        from sunusav.logs import connect_job_signals, install_record_factory

        install_record_factory()  # every log record carries the request id
        connect_job_signals()  # jobs carry the enqueuing request's id
        connect_ledger_signals()  # jobs carry their ledger record's id, which is marked done when they have run
