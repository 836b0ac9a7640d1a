"""The endorsement graph: defaults travel along vouches, and closed rings of vouches are flagged.

Defaults (the rule, computed set-based in `credit.features`):
    `community_endorsements` = vouches received from members not in default
    − members in default the member vouched for, never below 0.
A member is *in default* while one of their loans has status `defaulted` with
its default date (`closed_at`, else `due_at`, else `offered_at`) in the 365
days before the moment of scoring. So when a member defaults, at the next
scoring (1) everyone they vouched for loses that vouch and (2) everyone who
vouched for them loses one for vouching for a defaulter. The feature already
says so at any scoring; `endorsement_defaults_propagate` (daily) makes the
next scoring come soon: it enqueues a credit check of both groups for every
default dated in the last `PROPAGATE_LOOKBACK_DAYS`, once per loan (an
`ai_metrics` row `endorsement_default` names each loan done).

Rings: a *ring* is a strongly connected component of the endorsement graph
(edges endorser → endorsee) with at least `RING_MIN_SIZE` (3) members that is
closed to the outside: nobody outside it vouches for any of its members, so
every vouch its members hold was produced inside it. `endorsement_rings()`
finds them (iterative Tarjan, no dependency); `endorsement_rings_flag()`
(daily) opens one `fraud_suspect` alert per ring (payload `kind:
endorsement_ring`, the ring's members and a `ring_key`, the sha256 of its
sorted member ids) exactly once per ring: the same members never get a second
alert, resolved or not; a ring that gains or loses a member is a new ring.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from alerts import payloads
from alerts.models import AIAlert, AIMetric, AlertType
from alerts.services import alert_create, metric_record
from credit.services import credit_checks_enqueue
from sunusav.logs import current_request_id
from sunusav.models import Endorsement, Loan

RING_MIN_SIZE = 3
RING_KIND = payloads.RING_KIND
PROPAGATE_KEY = "endorsement_default"
PROPAGATE_LOOKBACK_DAYS = 7


# --- Defaults ---------------------------------------------------------------------------------


def endorsement_neighbours(member_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Return the members who vouched for, or were vouched for by, any of `member_ids` (one query)."""
    ids = set(member_ids)
    if not ids:
        return set()
    rows = Endorsement.objects.filter(Q(endorser_id__in=ids) | Q(endorsee_id__in=ids)).values_list(
        "endorser_id", "endorsee_id"
    )
    return {m for pair in rows for m in pair} - ids


def endorsement_defaults_propagate(*, now: datetime | None = None, lookback_days: int = PROPAGATE_LOOKBACK_DAYS) -> int:
    """Enqueue credit checks of the endorsement neighbours of recent defaulters; return how many members.

    Each defaulted loan is handled once (an `endorsement_default` metric row
    with its `loan_id`); the checks are enqueued once this transaction commits.
    """
    now = now or timezone.now()
    recent = list(
        Loan.objects.filter(status=Loan.Status.DEFAULTED)
        .annotate(default_at=Coalesce("closed_at", "due_at", "offered_at"))
        .filter(default_at__lte=now, default_at__gt=now - timedelta(days=lookback_days))
        .values_list("id", "member_id")
    )
    if not recent:
        return 0
    done = set(
        AIMetric.objects.filter(metric_key=PROPAGATE_KEY, meta__loan_id__in=[str(i) for i, _ in recent]).values_list(
            "meta__loan_id", flat=True
        )
    )
    todo = [(loan_id, member_id) for loan_id, member_id in recent if str(loan_id) not in done]
    if not todo:
        return 0
    with transaction.atomic():
        neighbours = endorsement_neighbours(m for _, m in todo)
        if neighbours:
            credit_checks_enqueue(member_ids=sorted(neighbours, key=str))
        for loan_id, member_id in todo:
            metric_record(
                member_id=member_id,
                key=PROPAGATE_KEY,
                value=len(neighbours),
                meta={"loan_id": str(loan_id), "rescored": len(neighbours), "request_id": current_request_id()},
            )
    return len(neighbours)


# --- Rings --------------------------------------------------------------------------------------


def strongly_connected_components(n: int, edges: list[tuple[int, int]]) -> list[int]:
    """Return the component number of each of `n` nodes (Tarjan's algorithm, iterative)."""
    adjacency: list[list[int]] = [[] for _ in range(n)]
    for u, v in edges:
        adjacency[u].append(v)
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    component = [-1] * n
    stack: list[int] = []
    counter = components = 0
    for root in range(n):
        if index[root] != -1:
            continue
        work = [(root, 0)]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        while work:
            node, i = work[-1]
            if i < len(adjacency[node]):
                work[-1] = (node, i + 1)
                nxt = adjacency[node][i]
                if index[nxt] == -1:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack[nxt] = True
                    work.append((nxt, 0))
                elif on_stack[nxt]:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                while True:
                    member = stack.pop()
                    on_stack[member] = False
                    component[member] = components
                    if member == node:
                        break
                components += 1
    return component


def rings_of(edges: Iterable[tuple[object, object]], *, min_size: int = RING_MIN_SIZE) -> list[list]:
    """Return the rings of a directed graph given as (endorser, endorsee) pairs (each ring sorted by str)."""
    edges = list(edges)
    nodes = sorted({m for pair in edges for m in pair}, key=str)
    position = {m: i for i, m in enumerate(nodes)}
    numbered = [(position[u], position[v]) for u, v in edges]
    component = strongly_connected_components(len(nodes), numbered)
    members = defaultdict(list)
    for node, c in enumerate(component):
        members[c].append(node)
    candidates = {c for c, m in members.items() if len(m) >= min_size}
    # Closed to the outside: no vouch from a non-member into the component.
    opened = {component[v] for u, v in numbered if component[u] != component[v] and component[v] in candidates}
    return sorted(
        ([nodes[i] for i in members[c]] for c in candidates - opened), key=lambda ring: (-len(ring), str(ring[0]))
    )


def endorsement_rings(*, min_size: int = RING_MIN_SIZE) -> list[list[uuid.UUID]]:
    """Return the closed rings of the stored endorsement graph (largest first)."""
    return rings_of(
        Endorsement.objects.values_list("endorser_id", "endorsee_id").iterator(chunk_size=20_000), min_size=min_size
    )


def ring_key(member_ids: Iterable[uuid.UUID]) -> str:
    """Return a ring's identity: sha256 of its sorted member ids."""
    return hashlib.sha256(",".join(sorted(str(m) for m in member_ids)).encode()).hexdigest()


def _ring_lock(key: str) -> None:
    # PostgreSQL: one ring at a time across workers. SQLite's IMMEDIATE transactions already serialize writers.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int(key[:15], 16)])


def ring_alert(ring: list[uuid.UUID]) -> tuple[AIAlert, bool]:
    """Open the ring's review alert unless it has one; return (alert, created)."""
    key = ring_key(ring)
    with transaction.atomic():
        _ring_lock(key)
        existing = AIAlert.objects.filter(
            alert_type=AlertType.FRAUD_SUSPECT,
            **{f"payload__{payloads.KIND}": RING_KIND, f"payload__{payloads.RING_KEY}": key},
        ).first()
        if existing is not None:
            return existing, False
        inside = Endorsement.objects.filter(endorser_id__in=ring, endorsee_id__in=ring).count()
        payload = payloads.endorsement_ring(
            ring_key=key,
            member_ids=sorted({str(m) for m in ring}),
            endorsements_inside=inside,
            request_id=current_request_id(),
        )
        return alert_create(alert_type=AlertType.FRAUD_SUSPECT, payload=payload), True


def endorsement_rings_flag(*, min_size: int = RING_MIN_SIZE) -> int:
    """Open a review alert for every ring not flagged before; return how many were opened."""
    return sum(created for _, created in map(ring_alert, endorsement_rings(min_size=min_size)))
