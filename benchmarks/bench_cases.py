"""Case figures: the case queue and the case page with big tables (issue 14: < 300 ms).

Fills the configured database with `CASES_BENCH_CASES` fraud cases (PostgreSQL
default 100,000; SQLite 2,000), of which `CASES_BENCH_OPEN` are open (5,000;
SQLite 200), each with 1 to 15 items (a fraud alert and its payment: held or
pending while the case is open, rejected or released once closed), for
`CASES_BENCH_MEMBERS` members (100,000; SQLite 2,000); `CASES_BENCH_ALERTS`
alerts in all (1,000,000; SQLite 20,000): the case items, a few hundred
endorsement-ring alerts (no member of their own) and resolved credit offers for
the rest. Open cases are spread over 20 analysts (the bench analyst owns one in
twenty of the owned ones), some late. `generate_series` SQL on PostgreSQL, bulk
inserts on SQLite. Then GETs, through Django's test client as a Risk analyst
with DEBUG=False:

- the queue as it opens (open cases, worst and oldest first),
- the queue filtered: "Mes dossiers" (`?responsable=moi`), late (`?delai=retard`),
  and a search by member name,
- the case page of an open case with 15 items (the heaviest realistic one).

It empties users, payments, ai_alerts and cases (and what cascades from users),
so it only runs on a database whose name contains "bench". When the harness
runs on its SQLite file (`make bench`), the benchmark runs itself in a child
process on `CASES_BENCH_PG` (default
postgres://postgres@127.0.0.1:5432/sunusav_bench_cases, created when missing),
since the issue's figure is on PostgreSQL; set it to "" to measure on SQLite.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid

from benchmarks.common import Figure, page_figure, run_on_postgresql, time_calls

GOAL_MS = 300.0
REQUESTS = int(os.environ.get("CASES_BENCH_REQUESTS", "30"))
OWNERS = 20
RINGS = 300
LAST_NAMES = ["Diop", "Ndiaye", "Fall", "Sow", "Diallo", "Faye", "Gueye", "Mbaye", "Sarr", "Ba", "Cissé", "Kane"]
FIRST_NAMES = ["Awa", "Moussa", "Fatou", "Ibrahima", "Aminata", "Cheikh", "Mariama", "Ousmane", "Khady", "Modou"]
SEARCH = "Fatou Sarr"

# Case c (1..cases) belongs to member c % 70000 (so members 1..5000 also have an earlier, closed case);
# cases 1..open are open. Item k of case c is alert/payment number i (row_number over (c, k)).
PG_SQL = """
TRUNCATE users, ai_alerts, payments, cases, case_items CASCADE;
DROP TABLE IF EXISTS bench_cases_populated;
INSERT INTO users (id, display_name, phone_hash, region, credit_score, credit_score_updated_at, created_at)
  SELECT gen_random_uuid(),
         (ARRAY[{first_names}])[1 + g % {n_first}] || ' ' || (ARRAY[{last_names}])[1 + (g / {n_first}) % {n_last}]
           || ' ' || g,
         NULL, 'dakar',
         CASE WHEN g % 10 = 0 THEN NULL ELSE round((0.15 + 0.84 * ((g * 7919) % 1000) / 1000.0)::numeric, 3) END,
         CASE WHEN g % 10 = 0 THEN NULL ELSE now() - (g % 30) * interval '1 day' END,
         now() - interval '400 days'
  FROM generate_series(0::bigint, {members} - 1) g;
CREATE TEMP TABLE bench_m AS SELECT split_part(display_name, ' ', 3)::bigint AS n, id FROM users;
CREATE UNIQUE INDEX ON bench_m (n);
CREATE TEMP TABLE bench_c AS
  SELECT c, gen_random_uuid() AS id, m.id AS member_id, c <= {open} AS open,
         1 + (c * 7919) % 15 AS items,
         CASE WHEN c > {open} THEN 'closed' WHEN c % 4 = 0 THEN 'new' WHEN c % 50 = 7 THEN 'pending_approval'
              WHEN c % 10 = 3 THEN 'escalated' ELSE 'assigned' END AS status,
         CASE WHEN c <= {open} THEN 2 + c % 3 ELSE 2 + (c * 31) % 3 END AS severity,
         CASE WHEN c <= {open} THEN now() - ((c * 37) % 4320) * interval '1 minute'
              ELSE now() - interval '4 days' - (c::float8 / {cases}) * interval '360 days' END AS opened_at
  FROM generate_series(1::bigint, {cases}) c JOIN bench_m m ON m.n = c % {case_members};
CREATE TEMP TABLE bench_i AS
  SELECT row_number() OVER (ORDER BY c.c, k) AS i, c.c, k, c.id AS case_id, c.member_id, c.open, c.status,
         gen_random_uuid() AS alert_id, gen_random_uuid() AS payment_id,
         1000 + ((c.c * 15 + k) * 7919) % 900000 AS amount,
         c.opened_at + (k - 1) * interval '2 minutes' AS at
  FROM bench_c c CROSS JOIN LATERAL generate_series(1, c.items) k;
CREATE INDEX ON bench_i (case_id);
INSERT INTO payments (id, member_id, kind, amount_sats, device_id, location, status, created_at, expires_at,
                      check_input_hash, checked_at, is_fraud_label, fraud_pattern)
  SELECT payment_id, member_id, 'payment', amount, 'device-' || (c % 997), 'Dakar', CASE
           WHEN open AND k % 5 = 0 THEN 'pending' WHEN open THEN 'held'
           WHEN c % 3 = 0 THEN 'released' ELSE 'rejected' END,
         at, NULL, md5(i::text), at, NULL, ''
  FROM bench_i ORDER BY i;
INSERT INTO ai_alerts (id, user_id, alert_type, payload, created_at, resolved, resolved_at)
  SELECT alert_id, member_id, 'fraud_suspect',
         jsonb_build_object('payment_id', payment_id::text, 'fraud_score', 0.8 + (i % 20) / 100.0,
           'decision', CASE WHEN k % 5 = 0 THEN 'review' ELSE 'hold' END, 'is_fraud', k % 5 <> 0,
           'amount_sats', amount, 'model_version', 'bench', 'fallback', false, 'default_action_applied', false,
           'isolation_score', 0.1, 'request_id', md5(i::text),
           'features', jsonb_build_object('amount_sats', amount, 'time_since_last_sec', 30 + i % 600,
             'invoices_last_min', 1 + i % 12, 'device_changes', i % 2, 'location_changes', i % 3),
           'reasons', jsonb_build_array(
             jsonb_build_object('id', 'invoice_burst', 'fr', 'Rafale de factures : 10 factures en une minute.',
               'en', 'Invoice burst: 10 invoices within one minute.'),
             jsonb_build_object('id', 'anomaly', 'fr', 'Comportement inhabituel pour ce membre.',
               'en', 'Unusual behaviour for this member.')))
         || CASE WHEN open THEN '{{}}'::jsonb ELSE jsonb_build_object('outcome',
              CASE WHEN c % 3 = 0 THEN 'false_positive' ELSE 'confirmed_fraud' END,
              'resolved_by', 'bench-analyst-2', 'resolution_note', 'Vérifié avec le membre.') END,
         at, NOT open, CASE WHEN NOT open THEN at + interval '20 hours' END
  FROM bench_i ORDER BY i;
INSERT INTO cases (id, kind, member_id, tontine_id, status, severity, amount_sats, item_count, top_reason, owner_id,
                   opened_at, due_at, closed_at, outcome, decision_note, decided_by_id, proposed_outcome,
                   proposed_by_id, proposed_exceptions, approved_by_id)
  SELECT c.id, 'fraud', c.member_id, NULL, c.status, c.severity,
         CASE WHEN c.open THEN (SELECT sum(i.amount) FROM bench_i i WHERE i.case_id = c.id) ELSE 0 END,
         c.items, CASE WHEN c.c % 7 = 0 THEN 'structuring' ELSE 'invoice_burst' END,
         CASE WHEN c.status = 'new' THEN NULL ELSE (ARRAY[{owners}])[1 + (c.c / 4) % {n_owners}] END,
         c.opened_at,
         c.opened_at + CASE c.severity WHEN 4 THEN interval '4 hours' WHEN 3 THEN interval '24 hours'
                                       ELSE interval '72 hours' END,
         CASE WHEN c.open THEN NULL ELSE c.opened_at + ((c.c % 40) + 1) * interval '1 hour' END,
         CASE WHEN c.open THEN '' WHEN c.c % 3 = 0 THEN 'false_positive' ELSE 'confirmed_fraud' END,
         CASE WHEN c.open THEN '' ELSE 'Vérifié avec le membre.' END,
         CASE WHEN c.open THEN NULL ELSE (ARRAY[{owners}])[1 + (c.c / 4) % {n_owners}] END,
         CASE WHEN c.status = 'pending_approval' THEN 'confirmed_fraud' ELSE '' END,
         CASE WHEN c.status = 'pending_approval' THEN (ARRAY[{owners}])[1 + (c.c / 4) % {n_owners}] END,
         '{{}}'::jsonb, NULL
  FROM bench_c c ORDER BY c.opened_at;
INSERT INTO case_items (case_id, alert_id, payment_id, severity, amount_sats, added_at)
  SELECT case_id, alert_id, payment_id, CASE WHEN k % 5 = 0 THEN 2 ELSE 3 END, amount, at FROM bench_i ORDER BY i;
INSERT INTO ai_alerts (id, user_id, alert_type, payload, created_at, resolved, resolved_at)
  SELECT gen_random_uuid(), NULL, 'fraud_suspect',
         jsonb_build_object('kind', 'endorsement_ring', 'ring_key', md5('ring' || g), 'member_ids',
           (SELECT jsonb_agg(m.id::text ORDER BY m.id) FROM bench_m m
             WHERE m.n IN ((g * 331) % {members}, (g * 331 + 1) % {members}, (g * 331 + 2) % {members}, g % 50)),
           'size', 4, 'endorsements_inside', 12, 'density', 1.0,
           'reason_fr', 'Cercle de membres qui ne sont recommandés que les uns par les autres.',
           'reason_en', 'Ring of members endorsed only by each other.'),
         now() - g * interval '1 hour', g % 3 <> 0, CASE WHEN g % 3 <> 0 THEN now() - g * interval '1 hour' END
  FROM generate_series(1, {rings}) g;
INSERT INTO ai_alerts (id, user_id, alert_type, payload, created_at, resolved, resolved_at)
  SELECT gen_random_uuid(), m.id, 'credit_offer',
         jsonb_build_object('score', 0.91, 'band', 'A', 'offered_amount_xof', 50000, 'model_version', 'bench'),
         now() - (g::float8 / {alerts}) * interval '365 days', true,
         now() - (g::float8 / {alerts}) * interval '365 days' + interval '1 day'
  FROM generate_series(1::bigint, greatest({alerts} - (SELECT count(*) FROM bench_i) - {rings}, 0)) g
  JOIN bench_m m ON m.n = g % {members};
CREATE TABLE bench_cases_populated (cases bigint, open bigint, alerts bigint, members bigint, owners text);
INSERT INTO bench_cases_populated VALUES ({cases}, {open}, {alerts}, {members}, '{owners_key}')
"""


def _sizes(vendor: str) -> dict[str, int]:
    pg = vendor == "postgresql"
    return {
        "cases": int(os.environ.get("CASES_BENCH_CASES", "100000" if pg else "2000")),
        "open": int(os.environ.get("CASES_BENCH_OPEN", "5000" if pg else "200")),
        "alerts": int(os.environ.get("CASES_BENCH_ALERTS", "1000000" if pg else "20000")),
        "members": int(os.environ.get("CASES_BENCH_MEMBERS", "100000" if pg else "2000")),
    }


def _quoted(names: list[str]) -> str:
    return ", ".join("'" + n.replace("'", "''") + "'" for n in names)


def _populate_postgresql(sizes: dict[str, int], owners: list[int]) -> bool:
    """Fill the tables with SQL unless an earlier run left exactly these sizes; return whether it filled."""
    from django.db import connection

    owners_key = ",".join(map(str, owners))
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_cases_populated') IS NOT NULL")
        if cursor.fetchone()[0]:
            cursor.execute("SELECT cases, open, alerts, members, owners FROM bench_cases_populated")
            row = cursor.fetchone()
            if row == (sizes["cases"], sizes["open"], sizes["alerts"], sizes["members"], owners_key):
                return False
        params = {
            **sizes,
            "case_members": min(sizes["members"], max(sizes["open"] + 1, int(sizes["members"] * 0.7))),
            "first_names": _quoted(FIRST_NAMES),
            "last_names": _quoted(LAST_NAMES),
            "n_first": len(FIRST_NAMES),
            "n_last": len(LAST_NAMES),
            "owners": ", ".join(map(str, owners)),
            "n_owners": len(owners),
            "owners_key": owners_key,
            "rings": RINGS,
        }
        for statement in PG_SQL.format(**params).split(";\n"):
            if statement.strip():
                cursor.execute(statement)
        for temp in ("bench_m", "bench_c", "bench_i"):
            cursor.execute(f"DROP TABLE IF EXISTS {temp}")
        # Fresh statistics and visibility map, as autovacuum would leave them on a live database.
        for table in ("users", "payments", "ai_alerts", "cases", "case_items"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return True


def _populate_orm(sizes: dict[str, int], owners: list[int]) -> bool:
    """Fill the tables with bulk inserts (SQLite and other engines); same shapes as the SQL, smaller."""
    from django.db import transaction
    from django.utils import timezone

    from alerts.models import AIAlert
    from cases.models import Case, CaseItem
    from sunusav.models import Member, Payment

    now = timezone.now()
    with transaction.atomic():
        CaseItem.objects.all().delete()
        Case.objects.all().delete()
        AIAlert.objects.all().delete()
        Payment.objects.all().delete()
        Member.objects.all().delete()
        members = Member.objects.bulk_create(
            [
                Member(
                    id=uuid.uuid4(),
                    display_name=f"{FIRST_NAMES[g % len(FIRST_NAMES)]} "
                    f"{LAST_NAMES[(g // len(FIRST_NAMES)) % len(LAST_NAMES)]} {g}",
                    region="dakar",
                )
                for g in range(sizes["members"])
            ],
            batch_size=2000,
        )
        case_members = min(sizes["members"], max(sizes["open"] + 1, int(sizes["members"] * 0.7)))
        cases, items, alerts, payments = [], [], [], []
        for c in range(1, sizes["cases"] + 1):
            is_open = c <= sizes["open"]
            n = 1 + (c * 7919) % 15
            status = (
                "closed"
                if not is_open
                else "new"
                if c % 4 == 0
                else "pending_approval"
                if c % 50 == 7
                else "escalated"
                if c % 10 == 3
                else "assigned"
            )
            severity = 2 + c % 3
            opened = now - dt.timedelta(minutes=(c * 37) % 4320) if is_open else now - dt.timedelta(days=4 + c % 360)
            owner = None if status == "new" else owners[(c // 4) % len(owners)]
            case = Case(
                kind="fraud",
                member=members[c % case_members],
                status=status,
                severity=severity,
                item_count=n,
                top_reason="invoice_burst",
                owner_id=owner,
                opened_at=opened,
                due_at=opened + dt.timedelta(hours={4: 4, 3: 24}.get(severity, 72)),
                closed_at=None if is_open else opened + dt.timedelta(hours=1 + c % 40),
                outcome="" if is_open else "false_positive" if c % 3 == 0 else "confirmed_fraud",
                decided_by_id=None if is_open else owners[c % len(owners)],
            )
            for k in range(1, n + 1):
                amount = 1000 + ((c * 15 + k) * 7919) % 900000
                at = opened + dt.timedelta(minutes=2 * (k - 1))
                payment = Payment(
                    id=uuid.uuid4(),
                    member=case.member,
                    amount_sats=amount,
                    status=("pending" if k % 5 == 0 else "held")
                    if is_open
                    else ("released" if c % 3 == 0 else "rejected"),
                    created_at=at,
                )
                alert = AIAlert(
                    id=uuid.uuid4(),
                    user=case.member,
                    alert_type="fraud_suspect",
                    payload={
                        "payment_id": str(payment.id),
                        "fraud_score": 0.9,
                        "decision": "review" if k % 5 == 0 else "hold",
                        "amount_sats": amount,
                        "reasons": [{"id": "invoice_burst", "fr": "Rafale de factures.", "en": "Invoice burst."}],
                    },
                    created_at=at,
                    resolved=not is_open,
                )
                payments.append(payment)
                alerts.append(alert)
                items.append(CaseItem(case=case, alert=alert, payment=payment, severity=3, amount_sats=amount))
                if is_open:
                    case.amount_sats += amount
            cases.append(case)
        Payment.objects.bulk_create(payments, batch_size=2000)
        AIAlert.objects.bulk_create(alerts, batch_size=2000)
        Case.objects.bulk_create(cases, batch_size=2000)
        CaseItem.objects.bulk_create(items, batch_size=2000)
        others = max(sizes["alerts"] - len(alerts), 0)
        AIAlert.objects.bulk_create(
            [
                AIAlert(
                    user=None,
                    alert_type="fraud_suspect",
                    payload={
                        "kind": "endorsement_ring",
                        "member_ids": [str(members[(g * 331 + j) % len(members)].pk) for j in range(3)],
                        "size": 3,
                    },
                    resolved=g % 3 != 0,
                )
                if g < RINGS
                else AIAlert(user=members[g % len(members)], alert_type="credit_offer", payload={}, resolved=True)
                for g in range(others)
            ],
            batch_size=2000,
        )
    return True


def _analysts() -> list:
    """The bench analyst and 19 colleagues, all Risk analysts; the first is the one who browses."""
    from django.contrib.auth.models import Group, User

    from sunusav.audit_trail import ANALYST_GROUP

    group = Group.objects.get(name=ANALYST_GROUP)
    users = []
    for n in range(1, OWNERS + 1):
        username = "bench-analyst" if n == 1 else f"bench-analyst-{n}"
        user, _ = User.objects.get_or_create(username=username, defaults={"is_staff": True})
        user.groups.add(group)
        users.append(user)
    return users


def _figure(name: str, stats: dict, errors: int, notes: str) -> Figure:
    return page_figure(name, stats, errors, notes, goal_ms=GOAL_MS)


PG_URL = os.environ.get("CASES_BENCH_PG", "postgres://postgres@127.0.0.1:5432/sunusav_bench_cases")


def _run_on_postgresql() -> list[Figure] | None:
    """Run this benchmark in a child process on PostgreSQL (the issue's figure is on PostgreSQL)."""
    return run_on_postgresql("bench_cases", PG_URL, label="case queue and case page (PostgreSQL)")


def run() -> list[Figure]:
    from django.db import connection

    if connection.vendor != "postgresql" and os.environ.get("CASES_BENCH_PG") != "":
        figures = _run_on_postgresql()
        if figures is not None:
            return figures
    from django.test import Client
    from django.test.utils import override_settings
    from django.urls import reverse

    from backoffice.admin_cases import CaseAdmin
    from cases.models import Case

    name = str(connection.settings_dict.get("NAME") or "")
    if "bench" not in name:
        return [
            Figure(
                name="case queue and case page",
                errors=1,
                notes=f"refused: it empties users, payments, ai_alerts and cases; database {name!r} is not a bench "
                "database",
            )
        ]
    sizes = _sizes(connection.vendor)
    analysts = _analysts()
    owners = [u.pk for u in analysts]
    t0 = time.perf_counter()
    filled = _populate_postgresql(sizes, owners) if connection.vendor == "postgresql" else _populate_orm(sizes, owners)
    populate = time.perf_counter() - t0
    heavy = (
        Case.objects.exclude(status=Case.Status.CLOSED)
        .filter(item_count=15, owner=analysts[0])
        .order_by("opened_at")
        .first()
    ) or Case.objects.exclude(status=Case.Status.CLOSED).order_by("-item_count").first()
    client = Client()
    client.force_login(analysts[0])
    queue = reverse("admin:cases_case_changelist")
    pages = {
        "queue": queue,
        "mine": queue + "?responsable=moi",
        "late": queue + "?delai=retard",
        "search": queue + "?q=" + SEARCH.replace(" ", "+"),
        "case": reverse("admin:cases_case_change", args=[heavy.pk]),
    }
    errors = dict.fromkeys(pages, 0)

    def get(key: str):
        response = client.get(pages[key])
        if response.status_code != 200:
            errors[key] += 1

    export_url = reverse("admin:cases_case_export_csv")
    exported = {"rows": 0, "errors": 0}

    def export():
        response = client.get(export_url)
        lines = sum(chunk.count(b"\n") for chunk in response.streaming_content) if response.status_code == 200 else 0
        exported["rows"] = lines - 1
        exported["errors"] += response.status_code != 200

    with override_settings(DEBUG=False):
        stats = {key: time_calls(lambda key=key: get(key), n=REQUESTS, warmup=3) for key in pages}
        export_stats = time_calls(export, n=max(REQUESTS // 3, 5), warmup=1)
    open_count = Case.objects.exclude(status=Case.Status.CLOSED).count()
    data = f"{sizes['cases']:,} cases ({open_count:,} open), {sizes['alerts']:,} alerts, "
    data += f"{sizes['members']:,} members ({connection.vendor}; "
    data += f"filled in {populate:.0f} s)" if filled else "reused from an earlier run)"
    return [
        _figure(
            "case queue GET /admin/cases/case/ (open cases, worst and oldest first)",
            stats["queue"],
            errors["queue"],
            data,
        ),
        _figure("case queue GET ?responsable=moi (Mes dossiers)", stats["mine"], errors["mine"], data),
        _figure("case queue GET ?delai=retard (late cases)", stats["late"], errors["late"], data),
        _figure(f"case queue GET ?q={SEARCH} (search by member name)", stats["search"], errors["search"], data),
        _figure(
            "case page GET (open case with 15 items: items, evidence, rings, history, comments)",
            stats["case"],
            errors["case"],
            data + f"; case of {heavy.item_count} items",
        ),
        Figure(
            name="case queue CSV export GET export.csv (every open case, streamed)",
            p50=export_stats["p50"],
            p99=export_stats["p99"],
            throughput=export_stats["throughput"],
            throughput_unit="exports/s",
            n=export_stats["n"],
            errors=exported["errors"],
            notes=data + f"; {exported['rows']:,} rows of {len(CaseAdmin.csv_fields)} columns, read 2,000 at a time",
        ),
    ]
