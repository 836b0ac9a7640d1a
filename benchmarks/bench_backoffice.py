"""Back-office figures: the dashboard and the alert list with big tables (issue 6: < 300 ms).

Fills the configured database with `BACKOFFICE_BENCH_METRICS` ai_metrics rows
(PostgreSQL default 1,000,000; SQLite 20,000) spread over the last
`BACKOFFICE_BENCH_DAYS` days (30), `BACKOFFICE_BENCH_ALERTS` alerts (100,000;
SQLite 2,000) over 90 days and `BACKOFFICE_BENCH_MEMBERS` scored members
(100,000; SQLite 2,000): `generate_series` SQL on PostgreSQL, bulk inserts on
SQLite. Then GETs, through Django's test client as a Risk analyst:

- the dashboard as analysts see it (aggregates cached for 30 s),
- the dashboard with its 30-second cache emptied before every request (every panel
  recomputed), for the default 24-hour window and for the 7-day one (whose finished
  days' sums stay cached for 36 hours: the warmup request computes them once),
- the alert changelist `/admin/alerts/aialert/`.

It empties users, ai_metrics and ai_alerts (and what cascades from users), so it
only runs on a database whose name contains "bench" (the runner's fresh SQLite
file does):

    createdb -h 127.0.0.1 -U postgres h2bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h2bench python -m benchmarks backoffice

When the harness runs on its SQLite file (`make bench`), the benchmark runs
itself in a child process on `BACKOFFICE_BENCH_PG` (default
postgres://postgres@127.0.0.1:5432/sunusav_bench_backoffice, created when
missing), since the issue's figure is on PostgreSQL; set it to "" to measure
on SQLite instead.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid

from benchmarks.common import Figure, page_figure, run_on_postgresql, time_calls

GOAL_MS = 300.0
REQUESTS = int(os.environ.get("BACKOFFICE_BENCH_REQUESTS", "30"))

PG_MEMBERS_SQL = """
TRUNCATE users, ai_metrics, ai_alerts CASCADE;
DROP TABLE IF EXISTS bench_backoffice_populated;
INSERT INTO users (id, display_name, phone_hash, region, credit_score, credit_score_updated_at, created_at)
  SELECT gen_random_uuid(), 'Membre ' || g, NULL, 'dakar',
         CASE WHEN g % 10 = 0 THEN NULL ELSE round((0.15 + 0.84 * ((g * 7919) % 1000) / 1000.0)::numeric, 3) END,
         CASE WHEN g % 10 = 0 THEN NULL ELSE now() - (g % 30) * interval '1 day' END,
         now() - interval '400 days'
  FROM generate_series(1::bigint, {members}) g;
CREATE TEMP TABLE bench_m AS SELECT (row_number() OVER (ORDER BY id)) - 1 AS n, id FROM users;
CREATE INDEX ON bench_m (n);
INSERT INTO ai_metrics (id, user_id, metric_key, metric_value, meta, created_at)
  SELECT gen_random_uuid(), m.id,
         CASE WHEN g % 20 < 12 THEN 'fraud_check' WHEN g % 20 < 16 THEN 'credit_prediction'
              WHEN g % 20 < 19 THEN 'credit_score' ELSE 'alert_resolved' END,
         ((g * 7919) % 1000) / 1000.0,
         CASE WHEN g % 20 < 12 THEN jsonb_build_object(
                'decision', CASE WHEN g % 97 = 0 THEN 'hold' WHEN g % 31 = 0 THEN 'review' ELSE 'allow' END,
                'is_fraud', g % 97 = 0, 'model_version', 'bench', 'fallback', false,
                'reasons', jsonb_build_array('anomaly'), 'request_id', md5(g::text),
                'features', jsonb_build_object('amount_sats', 1000 + g % 90000, 'time_since_last_sec', g % 86400,
                  'invoices_last_min', g % 3, 'device_changes', 0, 'location_changes', 0),
                'stages_us', jsonb_build_object('validation', 150 + g % 50, 'features', 30 + g % 20,
                  'model', 40 + g % 30, 'rules', 10 + g % 7, 'writes', CASE WHEN g % 97 = 0 THEN 400 ELSE 0 END))
              WHEN g % 20 < 16 THEN jsonb_build_object('band', 'B', 'model_version', 'bench', 'fallback', false,
                'request_id', md5(g::text), 'stages_us', jsonb_build_object('validation', 120 + g % 40,
                  'features', 20 + g % 10, 'model', 60 + g % 40))
              ELSE '{{}}'::jsonb END,
         now() - (g::float8 / {metrics}) * interval '{days} days'
  FROM generate_series(1::bigint, {metrics}) g JOIN bench_m m ON m.n = g % {members}
  -- oldest first, as a live service appends them (the table's order follows created_at)
  ORDER BY g DESC;
INSERT INTO ai_alerts (id, user_id, alert_type, payload, created_at, resolved, resolved_at)
  SELECT gen_random_uuid(), m.id, a.alert_type,
         CASE a.alert_type
           WHEN 'fraud_suspect' THEN jsonb_build_object('payment_id', gen_random_uuid()::text,
             'fraud_score', 0.8 + (a.g % 20) / 100.0, 'decision', 'hold', 'amount_sats', 1000 + a.g % 900000,
             'model_version', 'bench', 'reasons', jsonb_build_array(jsonb_build_object('id', 'invoice_burst',
             'fr', 'Rafale de factures : 10 factures en une minute.', 'en', 'Invoice burst: 10 invoices within one minute.')))
           WHEN 'credit_offer' THEN jsonb_build_object('score', 0.91, 'band', 'A', 'offer_amount_xof', 50000,
             'model_version', 'bench')
           ELSE jsonb_build_object('tontine_id', gen_random_uuid()::text, 'round', a.g, 'shortfall_sats', 10000)
         END,
         a.created, a.resolved, CASE WHEN a.resolved THEN a.created + interval '2 hours' END
  FROM (
    SELECT g,
           CASE WHEN g % 20 < 14 THEN 'fraud_suspect' WHEN g % 20 < 19 THEN 'credit_offer' ELSE 'liquidity_short' END
             AS alert_type,
           -- one open credit offer per member at most (a database constraint): later ones are resolved
           (g % 10 <> 0 OR (g % 20 BETWEEN 14 AND 18 AND g >= {members})) AS resolved,
           now() - (g::float8 / {alerts}) * interval '90 days' AS created
    FROM generate_series(1::bigint, {alerts}) g
  ) a JOIN bench_m m ON m.n = a.g % {members}
  ORDER BY a.g DESC;
CREATE TABLE bench_backoffice_populated (metrics bigint, alerts bigint, members bigint, days int);
INSERT INTO bench_backoffice_populated VALUES ({metrics}, {alerts}, {members}, {days})
"""


def _sizes(vendor: str) -> dict[str, int]:
    pg = vendor == "postgresql"
    return {
        "metrics": int(os.environ.get("BACKOFFICE_BENCH_METRICS", "1000000" if pg else "20000")),
        "alerts": int(os.environ.get("BACKOFFICE_BENCH_ALERTS", "100000" if pg else "2000")),
        "members": int(os.environ.get("BACKOFFICE_BENCH_MEMBERS", "100000" if pg else "2000")),
        "days": int(os.environ.get("BACKOFFICE_BENCH_DAYS", "30")),
    }


def _populate_postgresql(sizes: dict[str, int]) -> bool:
    """Fill the tables with SQL unless an earlier run left exactly these sizes; return whether it filled."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_backoffice_populated') IS NOT NULL")
        if cursor.fetchone()[0]:
            cursor.execute("SELECT metrics, alerts, members, days FROM bench_backoffice_populated")
            row = cursor.fetchone()
            if row == (sizes["metrics"], sizes["alerts"], sizes["members"], sizes["days"]):
                return False
        for statement in PG_MEMBERS_SQL.format(**sizes).split(";\n"):
            if statement.strip():
                cursor.execute(statement)
        cursor.execute("DROP TABLE IF EXISTS bench_m")
        # Fresh statistics and visibility map, as autovacuum would leave them on a live database.
        cursor.execute("VACUUM ANALYZE users")
        cursor.execute("VACUUM ANALYZE ai_metrics")
        cursor.execute("VACUUM ANALYZE ai_alerts")
    return True


def _populate_orm(sizes: dict[str, int]) -> bool:
    """Fill the tables with bulk inserts (SQLite and other engines); same shapes as the SQL."""
    from django.db import transaction
    from django.utils import timezone

    from alerts.models import AIAlert, AIMetric
    from sunusav.models import Member

    now = timezone.now()
    with transaction.atomic():
        AIMetric.objects.all().delete()
        AIAlert.objects.all().delete()
        Member.objects.all().delete()
        members = [
            Member(
                id=uuid.uuid4(),
                display_name=f"Membre {g}",
                region="dakar",
                credit_score=None if g % 10 == 0 else round(0.15 + 0.84 * ((g * 7919) % 1000) / 1000, 3),
                credit_score_updated_at=None if g % 10 == 0 else now - dt.timedelta(days=g % 30),
            )
            for g in range(1, sizes["members"] + 1)
        ]
        Member.objects.bulk_create(members, batch_size=2000)
        rows = []
        for g in range(1, sizes["metrics"] + 1):
            kind = g % 20
            at = now - dt.timedelta(days=sizes["days"] * g / sizes["metrics"])
            if kind < 12:
                decision = "hold" if g % 97 == 0 else "review" if g % 31 == 0 else "allow"
                key, meta = (
                    "fraud_check",
                    {
                        "decision": decision,
                        "model_version": "bench",
                        "stages_us": {"validation": 150 + g % 50, "features": 30 + g % 20, "model": 40 + g % 30},
                    },
                )
            elif kind < 16:
                key, meta = "credit_prediction", {"band": "B", "stages_us": {"validation": 120, "model": 60 + g % 40}}
            else:
                key, meta = ("credit_score" if kind < 19 else "alert_resolved"), {}
            rows.append(
                AIMetric(
                    user=members[g % len(members)],
                    metric_key=key,
                    metric_value=((g * 7919) % 1000) / 1000,
                    meta=meta,
                    created_at=at,
                )
            )
        AIMetric.objects.bulk_create(rows, batch_size=2000)
        alerts = []
        for g in range(1, sizes["alerts"] + 1):
            kind = g % 20
            alert_type = "fraud_suspect" if kind < 14 else "credit_offer" if kind < 19 else "liquidity_short"
            payload = (
                {"payment_id": str(uuid.uuid4()), "fraud_score": 0.9, "decision": "hold", "amount_sats": 1000 + g}
                if alert_type == "fraud_suspect"
                else {"score": 0.91, "band": "A", "offer_amount_xof": 50000}
                if alert_type == "credit_offer"
                else {"tontine_id": str(uuid.uuid4()), "round": g, "shortfall_sats": 10000}
            )
            resolved = g % 10 != 0 or (alert_type == "credit_offer" and g >= len(members))
            created = now - dt.timedelta(days=90 * g / sizes["alerts"])
            alerts.append(
                AIAlert(
                    user=members[g % len(members)],
                    alert_type=alert_type,
                    payload=payload,
                    created_at=created,
                    resolved=resolved,
                    resolved_at=created + dt.timedelta(hours=2) if resolved else None,
                )
            )
        AIAlert.objects.bulk_create(alerts, batch_size=2000)
    return True


def _analyst():
    from django.contrib.auth.models import Group, User

    from sunusav.audit_trail import ANALYST_GROUP

    user, _ = User.objects.get_or_create(username="bench-analyst", defaults={"is_staff": True})
    user.groups.add(Group.objects.get(name=ANALYST_GROUP))
    return user


def _figure(name: str, stats: dict, errors: int, notes: str) -> Figure:
    return page_figure(name, stats, errors, notes, goal_ms=GOAL_MS)


PG_URL = os.environ.get("BACKOFFICE_BENCH_PG", "postgres://postgres@127.0.0.1:5432/sunusav_bench_backoffice")


def _run_on_postgresql() -> list[Figure] | None:
    """Run this benchmark in a child process on PostgreSQL (the issue's figure is on PostgreSQL)."""
    return run_on_postgresql("bench_backoffice", PG_URL, label="back-office dashboard and alert list (PostgreSQL)")


def run() -> list[Figure]:
    from django.db import connection

    if connection.vendor != "postgresql" and os.environ.get("BACKOFFICE_BENCH_PG") != "":
        figures = _run_on_postgresql()
        if figures is not None:
            return figures
    from django.test import Client
    from django.test.utils import override_settings
    from django.urls import reverse

    from backoffice.selectors import dashboard_cache_clear

    name = str(connection.settings_dict.get("NAME") or "")
    if "bench" not in name:
        return [
            Figure(
                name="back-office dashboard and alert list",
                errors=1,
                notes=f"refused: it empties users, ai_metrics and ai_alerts; database {name!r} is not a bench database",
            )
        ]
    sizes = _sizes(connection.vendor)
    t0 = time.perf_counter()
    filled = _populate_postgresql(sizes) if connection.vendor == "postgresql" else _populate_orm(sizes)
    populate = time.perf_counter() - t0
    client = Client()
    client.force_login(_analyst())
    errors = {"dashboard": 0, "cold": 0, "week": 0, "alerts": 0}
    dashboard_url, alerts_url = reverse("backoffice:dashboard"), reverse("admin:alerts_aialert_changelist")

    def get(url: str, key: str):
        response = client.get(url)
        if response.status_code != 200:
            errors[key] += 1

    def cold():
        dashboard_cache_clear()
        get(dashboard_url, "cold")

    def cold_week():
        dashboard_cache_clear()
        get(dashboard_url + "?window=7d", "week")

    with override_settings(DEBUG=False):
        warm = time_calls(lambda: get(dashboard_url, "dashboard"), n=REQUESTS, warmup=3)
        recomputed = time_calls(cold, n=REQUESTS, warmup=2)
        week = time_calls(cold_week, n=max(REQUESTS // 3, 5), warmup=1)
        alerts = time_calls(lambda: get(alerts_url, "alerts"), n=REQUESTS, warmup=3)
    data = f"{sizes['metrics']:,} ai_metrics over {sizes['days']} days, {sizes['alerts']:,} alerts over 90 days, "
    data += f"{sizes['members']:,} members ({connection.vendor}; "
    data += f"filled in {populate:.0f} s)" if filled else "reused from an earlier run)"
    return [
        _figure(
            "back-office dashboard GET (as analysts see it: aggregates cached 30 s)",
            warm,
            errors["dashboard"],
            data,
        ),
        _figure(
            "back-office dashboard GET, cache emptied before each request (every panel recomputed)",
            recomputed,
            errors["cold"],
            data + "; 24 h windows through the (metric_key, created_at) index",
        ),
        _figure(
            "back-office dashboard GET ?window=7d, cache emptied before each request",
            week,
            errors["week"],
            data
            + "; finished days' sums stay cached 36 h (the warmup request fills them once), today's rows are read live",
        ),
        _figure("back-office alert list GET /admin/alerts/aialert/", alerts, errors["alerts"], data),
    ]
