"""SunuSàv's core domain: members, tontines, money movements, loans, model versions.

Members live in the table `users` as in the seed's SQL, so the service can be
pointed at SunuSàv's existing PostgreSQL. Staff who log in to the admin are
Django's own `auth` users, a different thing.
"""

import math
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from sunusav import presenters
from sunusav.db import DbNow, GenRandomUUID

# Every bitcoin there will ever be, in sats: the upper bound of any amount the API accepts.
MAX_SATS = 21_000_000 * 100_000_000


class Region(models.TextChoices):
    """Senegal's fourteen administrative regions."""

    DAKAR = "dakar", "Dakar"
    DIOURBEL = "diourbel", "Diourbel"
    FATICK = "fatick", "Fatick"
    KAFFRINE = "kaffrine", "Kaffrine"
    KAOLACK = "kaolack", "Kaolack"
    KEDOUGOU = "kedougou", "Kédougou"
    KOLDA = "kolda", "Kolda"
    LOUGA = "louga", "Louga"
    MATAM = "matam", "Matam"
    SAINT_LOUIS = "saint_louis", "Saint-Louis"
    SEDHIOU = "sedhiou", "Sédhiou"
    TAMBACOUNDA = "tambacounda", "Tambacounda"
    THIES = "thies", "Thiès"
    ZIGUINCHOR = "ziguinchor", "Ziguinchor"


class Member(models.Model):
    """A SunuSàv member (table `users`)."""

    id = models.UUIDField(
        _("identifiant"), primary_key=True, default=uuid.uuid4, db_default=GenRandomUUID(), editable=False
    )
    display_name = models.CharField(_("nom affiché"), max_length=120)
    # HMAC-SHA256 of the E.164 phone number keyed by PHONE_HASH_KEY: lets the
    # backend look a member up by phone without the service holding phones.
    phone_hash = models.CharField(_("empreinte du téléphone"), max_length=64, unique=True, null=True, blank=True)
    region = models.CharField(_("région"), max_length=20, choices=Region.choices, blank=True)
    credit_score = models.DecimalField(_("score de crédit"), max_digits=4, decimal_places=3, null=True, blank=True)
    credit_score_updated_at = models.DateTimeField(_("score mis à jour le"), null=True, blank=True)
    created_at = models.DateTimeField(_("créé le"), default=timezone.now, db_default=DbNow())

    class Meta:
        db_table = "users"
        permissions = [("rescore_member", _("Peut relancer le calcul du score d'un membre"))]
        verbose_name = _("membre")
        verbose_name_plural = _("membres")
        indexes = [
            models.Index(fields=["credit_score_updated_at"], name="users_score_updated_idx"),
            models.Index(fields=["display_name"], name="users_display_name_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(credit_score__isnull=True) | models.Q(credit_score__gte=0, credit_score__lte=1),
                name="users_credit_score_0_1",
            ),
        ]

    def __str__(self):
        return self.display_name


class Tontine(models.Model):
    """A rotating savings group: each round every member pays in, one member takes the pot."""

    class Cycle(models.TextChoices):
        WEEKLY = "weekly", _("hebdomadaire")
        MONTHLY = "monthly", _("mensuelle")

    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        COMPLETED = "completed", _("terminée")

    id = models.UUIDField(_("identifiant"), primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("nom"), max_length=120)
    region = models.CharField(_("région"), max_length=20, choices=Region.choices, blank=True)
    contribution_sats = models.BigIntegerField(_("cotisation (sats)"))
    cycle = models.CharField(_("cycle"), max_length=10, choices=Cycle.choices)
    started_at = models.DateTimeField(_("début"))
    status = models.CharField(_("statut"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(_("créée le"), default=timezone.now)

    class Meta:
        db_table = "tontines"
        verbose_name = _("tontine")
        verbose_name_plural = _("tontines")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(contribution_sats__gt=0),
                name="tontines_contribution_positive",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def cycle_days(self) -> int:
        return self.days_of_cycle(self.cycle)

    @classmethod
    def days_of_cycle(cls, cycle: str) -> int:
        """The days between two payouts of a tontine of this `cycle`."""
        return 7 if cycle == cls.Cycle.WEEKLY else 30

    def current_round(self, now: datetime) -> tuple[int, datetime]:
        """Return the round under way at `now` (1 before the start) and when its payout is due."""
        cycle = timedelta(days=self.cycle_days)
        round_number = math.floor(max(0.0, (now - self.started_at) / cycle)) + 1
        return round_number, self.started_at + round_number * cycle


class Membership(models.Model):
    """A member's seat in a tontine; `position` is their turn in the payout rotation."""

    tontine = models.ForeignKey(
        Tontine, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("tontine")
    )
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("membre"))
    position = models.PositiveSmallIntegerField(_("rang de versement"))
    joined_at = models.DateTimeField(_("adhésion"), default=timezone.now)

    class Meta:
        db_table = "tontine_memberships"
        verbose_name = _("adhésion")
        verbose_name_plural = _("adhésions")
        constraints = [
            models.UniqueConstraint(fields=["tontine", "member"], name="membership_unique_member"),
            models.UniqueConstraint(fields=["tontine", "position"], name="membership_unique_position"),
        ]

    def __str__(self):
        return gettext("place %(position)s") % {"position": self.position}


class Contribution(models.Model):
    """One member's payment into one round of a tontine (`paid_at` empty: not paid)."""

    tontine = models.ForeignKey(
        Tontine, on_delete=models.CASCADE, related_name="contributions", verbose_name=_("tontine")
    )
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="contributions", verbose_name=_("membre"))
    round_number = models.PositiveIntegerField(_("tour"))
    amount_sats = models.BigIntegerField(_("montant (sats)"))
    due_at = models.DateTimeField(_("échéance"))
    paid_at = models.DateTimeField(_("payée le"), null=True, blank=True)

    class Meta:
        db_table = "contributions"
        verbose_name = _("cotisation")
        verbose_name_plural = _("cotisations")
        constraints = [
            models.UniqueConstraint(
                fields=["tontine", "member", "round_number"],
                name="contribution_unique_round",
            ),
            models.CheckConstraint(
                condition=models.Q(amount_sats__gt=0),
                name="contribution_amount_positive",
            ),
        ]
        indexes = [models.Index(fields=["member", "due_at"], name="contrib_member_due_idx")]

    def __str__(self):
        # Names, numbers grouped: it is the page's subtitle, the history's and the recent actions' label.
        return gettext("tour %(round)s : %(amount)s") % {
            "round": self.round_number,
            "amount": presenters.sats_and_xof(self.amount_sats),
        }


class MobileMoneyTransfer(models.Model):
    """A mobile-money movement (Wave, Orange Money, Free Money) in XOF."""

    class Provider(models.TextChoices):
        WAVE = "wave", "Wave"
        ORANGE_MONEY = "orange_money", "Orange Money"
        FREE_MONEY = "free_money", "Free Money"

    class Direction(models.TextChoices):
        IN = "in", _("entrant")
        OUT = "out", _("sortant")

    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="mobile_transfers", verbose_name=_("membre")
    )
    provider = models.CharField(_("opérateur"), max_length=20, choices=Provider.choices)
    amount_xof = models.BigIntegerField(_("montant (XOF)"))
    direction = models.CharField(_("sens"), max_length=3, choices=Direction.choices)
    created_at = models.DateTimeField(_("date"), default=timezone.now)

    class Meta:
        db_table = "mobile_money_transfers"
        verbose_name = _("transfert mobile money")
        verbose_name_plural = _("transferts mobile money")
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_xof__gt=0), name="mobile_amount_positive"),
        ]
        indexes = [models.Index(fields=["member", "created_at"], name="mobile_member_created_idx")]

    def __str__(self):
        return f"{self.get_provider_display()}, {self.get_direction_display()} : {presenters.number_text(self.amount_xof)} XOF"


class Endorsement(models.Model):
    """A member vouching for another member."""

    endorser = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="endorsements_given", verbose_name=_("recommandé par")
    )
    endorsee = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="endorsements_received", verbose_name=_("membre recommandé")
    )
    created_at = models.DateTimeField(_("date"), default=timezone.now)

    class Meta:
        db_table = "endorsements"
        verbose_name = _("recommandation")
        verbose_name_plural = _("recommandations")
        constraints = [
            models.UniqueConstraint(fields=["endorser", "endorsee"], name="endorsement_unique_pair"),
            models.CheckConstraint(
                condition=~models.Q(endorser=models.F("endorsee")),
                name="endorsement_not_self",
            ),
        ]
        indexes = [models.Index(fields=["endorsee"], name="endorsement_endorsee_idx")]

    def __str__(self):
        # "n°": an identifier, not a quantity to group in thousands (the id grows past 9 999).
        return gettext("recommandation n°%(id)s") % {"id": self.pk or ""}


class Payment(models.Model):
    """A Lightning invoice or payment, the unit the fraud check decides on."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", _("facture")
        PAYMENT = "payment", _("paiement")

    class Status(models.TextChoices):
        PENDING = "pending", _("en attente")
        SETTLED = "settled", _("réglé")
        HELD = "held", _("retenu")
        RELEASED = "released", _("libéré")
        REJECTED = "rejected", _("rejeté")

    id = models.UUIDField(_("identifiant"), primary_key=True, default=uuid.uuid4, editable=False)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="payments", verbose_name=_("membre"))
    kind = models.CharField(_("type"), max_length=10, choices=Kind.choices, default=Kind.PAYMENT)
    amount_sats = models.BigIntegerField(_("montant (sats)"))
    device_id = models.CharField(_("appareil"), max_length=64, blank=True)
    location = models.CharField(_("lieu"), max_length=64, blank=True)
    status = models.CharField(_("statut"), max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(_("date"), default=timezone.now)
    # The Lightning invoice's expiry (null for mobile money and non-invoice
    # payments): a hold still unreviewed then takes HOLD_EXPIRY_DEFAULT (fraud.holds).
    expires_at = models.DateTimeField(_("expire le"), null=True, blank=True)
    # sha256 of the first /api/fraud/check body that named this payment: the same
    # id with another body is a conflict (409), never a second decision.
    check_input_hash = models.CharField(
        _("empreinte de la vérification"), max_length=64, blank=True, default="", db_default=""
    )
    # When the fraud check first decided on it: every later check is a replay (fraud.services.payment_check).
    checked_at = models.DateTimeField(_("vérifié le"), null=True, blank=True)
    # Ground truth of the demo world, for evaluation only: never a model input.
    is_fraud_label = models.BooleanField(_("fraude (vérité terrain)"), null=True, blank=True)
    fraud_pattern = models.CharField(_("motif de fraude (démo)"), max_length=32, blank=True)
    # The honest behaviour that shaped it (vendor, collector, ...: backoffice.demo.generator.HONEST_SEGMENTS),
    # for measuring false positives by segment: ground truth like the two above, never typed in.
    segment = models.CharField(
        _("segment honnête (démo)"), max_length=32, blank=True, default="", db_default="", editable=False
    )

    class Meta:
        db_table = "payments"
        permissions = [("review_payment", _("Peut libérer ou rejeter un paiement bloqué"))]
        verbose_name = _("paiement")
        verbose_name_plural = _("paiements")
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_sats__gt=0), name="payment_amount_positive"),
        ]
        indexes = [
            models.Index(fields=["member", "created_at"], name="payment_member_created_idx"),
            models.Index(fields=["status", "created_at"], name="payment_status_created_idx"),
            # The every-minute expiry sweep reads only held invoices with an expiry.
            models.Index(
                fields=["expires_at"],
                condition=models.Q(status="held", expires_at__isnull=False),
                name="payment_held_expiry_idx",
            ),
        ]

    def __str__(self):
        return f"{presenters.sats_and_xof(self.amount_sats)} ({self.get_status_display()})"


class HeldPaymentManager(models.Manager):
    """Only the payments the fraud check holds for an analyst."""

    def get_queryset(self):
        return super().get_queryset().filter(status=Payment.Status.HELD)


class HeldPayment(Payment):
    """The held-payments work queue: payments waiting for an analyst to release or reject them."""

    objects = HeldPaymentManager()

    class Meta:
        proxy = True
        # Acting on a hold needs `sunusav.review_payment` and seeing it `sunusav.view_payment`.
        default_permissions = ()
        verbose_name = _("paiement retenu")
        verbose_name_plural = _("paiements retenus")


class Loan(models.Model):
    """A microloan offered to a member; its outcome is what credit training learns from."""

    class Status(models.TextChoices):
        OFFERED = "offered", _("proposé")
        ACCEPTED = "accepted", _("accepté")
        REPAID = "repaid", _("remboursé")
        DEFAULTED = "defaulted", _("en défaut")
        DECLINED = "declined", _("refusé par le membre")

    id = models.UUIDField(_("identifiant"), primary_key=True, default=uuid.uuid4, editable=False)
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="loans", verbose_name=_("membre"))
    offered_amount_xof = models.BigIntegerField(_("montant proposé (XOF)"))
    status = models.CharField(_("statut"), max_length=10, choices=Status.choices, default=Status.OFFERED)
    offered_at = models.DateTimeField(_("proposé le"), default=timezone.now)
    due_at = models.DateTimeField(_("échéance"), null=True, blank=True)
    closed_at = models.DateTimeField(_("clos le"), null=True, blank=True)

    class Meta:
        db_table = "loans"
        verbose_name = _("prêt")
        verbose_name_plural = _("prêts")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(offered_amount_xof__gt=0),
                name="loan_amount_positive",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "offered_at"], name="loan_member_offered_idx"),
            models.Index(fields=["status", "offered_at"], name="loan_status_offered_idx"),
        ]

    def __str__(self):
        return f"{presenters.number_text(self.offered_amount_xof)} XOF ({self.get_status_display()})"


class ModelVersion(models.Model):
    """One trained model artifact (`ML_ARTIFACTS_DIR/<name>/<version>/`) and its state."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("en service")
        CHALLENGER = "challenger", _("challenger")
        INACTIVE = "inactive", _("inactif")
        RETIRED = "retired", _("retiré")

    name = models.CharField(_("modèle"), max_length=32)
    version = models.CharField(_("version"), max_length=64)
    status = models.CharField(_("statut"), max_length=12, choices=Status.choices, default=Status.INACTIVE)
    sha256 = models.CharField(_("empreinte sha256"), max_length=64)
    metrics = models.JSONField(_("métriques"), default=dict, blank=True)
    manifest = models.JSONField(_("fiche du modèle"), default=dict, blank=True)
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)
    activated_at = models.DateTimeField(_("activé le"), null=True, blank=True)
    activated_by = models.CharField(_("activé par"), max_length=150, blank=True)

    class Meta:
        db_table = "ml_model_versions"
        permissions = [
            ("activate_modelversion", _("Peut activer un modèle ou revenir au précédent")),
            ("train_modelversion", _("Peut lancer un entraînement")),
        ]
        verbose_name = _("version de modèle")
        verbose_name_plural = _("versions de modèle")
        ordering = ["name", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="model_version_unique"),
            models.UniqueConstraint(
                fields=["name"],
                condition=models.Q(status="active"),
                name="model_version_one_active",
            ),
            # At most one challenger per model beside its champion (sunusav.ml.lifecycle.challenger_set).
            models.UniqueConstraint(
                fields=["name"],
                condition=models.Q(status="challenger"),
                name="model_version_one_challenger",
            ),
        ]

    def __str__(self):
        return f"{presenters.model_label(self.name)} {self.version}"


class AnalystAction(models.Model):
    """One action a person took in the back-office: who, when, what, before and after.

    Written in the same transaction as the change it records (see
    `sunusav.audit_trail.action_record`), so an action is never done without its
    audit row nor audited without being done.
    """

    class Action(models.TextChoices):
        RESOLVE = "resolve", _("résolution d'alerte")
        RELEASE = "release", _("libération de paiement")
        REJECT = "reject", _("rejet de paiement")
        RESCORE = "rescore", _("nouveau calcul du score")
        ACTIVATE = "activate", _("activation de modèle")
        ROLLBACK = "rollback", _("retour au modèle précédent")
        RETRAIN = "retrain", _("réentraînement")
        PROMOTE = "promote", _("promotion du challenger")
        EXPIRE = "expire", _("expiration de blocage")
        # The suspicious-activity reports to CENTIF (cases.reports); a download is a compliance fact too.
        REPORT_DRAFT = "report_draft", _("rédaction de déclaration CENTIF")
        REPORT_UPDATE = "report_update", _("modification de déclaration CENTIF")
        REPORT_APPROVE = "report_approve", _("approbation de déclaration CENTIF")
        REPORT_SEND = "report_send", _("transmission de déclaration CENTIF")
        REPORT_DOWNLOAD = "report_download", _("téléchargement de déclaration CENTIF")
        # Cases (cases.services): the life of an analyst's unit of work.
        CASE_OPEN = "case_open", _("ouverture de dossier")
        CASE_SEVERITY = "case_severity", _("aggravation de dossier")
        CASE_ASSIGN = "case_assign", _("attribution de dossier")
        CASE_ESCALATE = "case_escalate", _("escalade de dossier")
        CASE_COMMENT = "case_comment", _("commentaire de dossier")
        CASE_PROPOSE = "case_propose", _("décision de dossier proposée")
        CASE_DECIDE = "case_decide", _("décision de dossier")
        CASE_APPROVE = "case_approve", _("approbation de décision de dossier")
        CASE_SEND_BACK = "case_send_back", _("décision de dossier refusée")
        CASE_CLOSE = "case_close", _("clôture de dossier")
        # A CSV export of a list (sunusav.csv_export): what left the back-office, with its filters and row count.
        EXPORT = "export", _("export CSV")
        # Rules as data (fraud.ruleset_services): versions of the fraud rules, four eyes, publication.
        RULESET_DRAFT = "ruleset_draft", _("brouillon de règles de fraude")
        RULESET_EDIT = "ruleset_edit", _("modification de règle de fraude")
        RULESET_SUBMIT = "ruleset_submit", _("soumission de règles de fraude")
        RULESET_APPROVE = "ruleset_approve", _("approbation de règles de fraude")
        RULESET_PUBLISH = "ruleset_publish", _("publication de règles de fraude")
        RULESET_ROLLBACK = "ruleset_rollback", _("retour à des règles de fraude publiées")
        RULESET_BACKTEST = "ruleset_backtest", _("rétro-test de règles de fraude")
        RULESET_SHADOW = "ruleset_shadow", _("observation de règles de fraude")
        LIST_CHANGE = "list_change", _("modification de liste de règles")
        LIST_IMPORT = "list_import", _("import de liste de règles")
        RULE_SUPPRESS = "rule_suppress", _("mise en sourdine d'une règle pour un membre")

    id = models.BigAutoField(_("identifiant"), primary_key=True)
    # Named so that the admin's filters read well: "Par date", "Par analyste".
    created_at = models.DateTimeField(_("date"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("analyste"),
        help_text=_("Vide pour une action du système (par exemple un blocage expiré)."),
    )
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    target_type = models.CharField(_("type d'objet"), max_length=32)
    target_id = models.CharField(_("objet"), max_length=64)
    before = models.JSONField(_("avant"), default=dict, blank=True)
    after = models.JSONField(_("après"), default=dict, blank=True)
    note = models.TextField(_("note"), blank=True)
    request_id = models.CharField(_("identifiant de requête"), max_length=64, blank=True)

    class Meta:
        db_table = "analyst_actions"
        verbose_name = _("action d'analyste")
        verbose_name_plural = _("actions d'analystes")
        ordering = ["-created_at"]
        permissions = [("export_data", _("Peut exporter les listes en CSV"))]
        indexes = [models.Index(fields=["target_type", "target_id", "created_at"], name="analyst_action_target")]

    def __str__(self):
        ident = str(self.target_id)
        return f"{self.get_action_display()} · {ident[:8] + '…' if len(ident) > 12 else ident}"


class JobRecord(models.Model):
    """A job accepted onto a queue, kept until it has run: the ledger that recovers jobs a broker lost.

    Written by `sunusav.queues.enqueue` in the caller's transaction, marked
    done by the worker that runs it, re-enqueued by `sunusav.jobs.jobs_reconcile`
    when the broker no longer holds it (see sunusav/jobs.py).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    func = models.CharField(_("tâche"), max_length=200)
    args = models.JSONField(_("arguments"), default=list, blank=True)
    kwargs = models.JSONField(_("arguments nommés"), default=dict, blank=True)
    queue = models.CharField(_("file"), max_length=16)
    priority = models.CharField(_("priorité"), max_length=8)
    # The run the job belongs to (a credit run id ...), to follow a run's jobs; may be blank.
    key = models.CharField(_("clé d'exécution"), max_length=64, blank=True, default="")
    request_id = models.CharField(_("identifiant de requête"), max_length=64, blank=True, default="")
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)
    # When the job was last handed to the broker (or was to be: the push follows the commit).
    enqueued_at = models.DateTimeField(_("mis en file le"), default=timezone.now)
    reenqueued = models.PositiveIntegerField(_("remises en file"), default=0)
    done_at = models.DateTimeField(_("terminé le"), null=True, blank=True)
    succeeded = models.BooleanField(_("réussi"), null=True, blank=True)

    class Meta:
        db_table = "job_records"
        verbose_name = _("tâche acceptée")
        verbose_name_plural = _("tâches acceptées")
        indexes = [
            # The reconciliation reads only unfinished jobs, oldest push first; the purge only finished ones.
            models.Index(fields=["enqueued_at"], condition=models.Q(done_at__isnull=True), name="job_records_owed"),
            models.Index(fields=["done_at"], condition=models.Q(done_at__isnull=False), name="job_records_done"),
        ]

    def __str__(self):
        return f"{self.func} ({self.queue})"
