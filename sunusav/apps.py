from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SunusavConfig(AppConfig):
    name = "sunusav"
    verbose_name = _("SunuSàv : membres et tontines")

    def ready(self):
        # Django's rule: modules that touch models are imported once the app registry is ready.
        from axes.signals import user_locked_out

        from sunusav import checks  # noqa: F401  (registers system checks)
        from sunusav.api import schema  # noqa: F401  (registers the OpenAPI token scheme)
        from sunusav.jobs import connect_ledger_signals
        from sunusav.logs import connect_job_signals, install_record_factory
        from sunusav.search import unaccent_signals_connect
        from sunusav.sessions import sessions_of_locked_user_end

        install_record_factory()  # every log record carries the request id
        connect_job_signals()  # jobs carry the enqueuing request's id
        unaccent_signals_connect()  # UNACCENT() on SQLite too: admin name search ignores accents
        connect_ledger_signals()  # jobs carry their ledger record's id, which is marked done when they have run
        # A username axes locks loses its open sessions too.
        user_locked_out.connect(sessions_of_locked_user_end, dispatch_uid="sunusav.sessions_of_locked_user_end")
