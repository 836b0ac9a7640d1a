"""The seed's own design, as the comparison point of `benchmarks.bench_http_compare` (a benchmark helper, not product code).

The seed document describes two FastAPI microservices: credit (LightGBM) and
fraud (IsolationForest), each checking `X-Internal-Token`, with `/predict`,
`/batch-predict`, `/check`, `/batch-check` and `/health`, and every AI
decision audited in PostgreSQL. This is that design, written carefully (so the
comparison is against a good version of it, not a straw man):

- FastAPI on uvicorn, 2 worker processes (uvloop and httptools when installed,
  as uvicorn picks them), pydantic bodies of the seed's fields with unknown
  fields refused and numbers finite, `response_model`s for the answers;
- credit: LightGBM `Booster.predict` (`num_threads=1`, as the product) on the
  product's shipped model, features in the order its manifest lists; approved
  at the manifest's decision threshold, band from the manifest's cut-offs;
- fraud: the product's shipped forest (`forest.onnx`) in onnxruntime (one
  thread), fed what the model card says (`log1p` of the amount and of the
  clipped time since the last payment, the counts as they are); the isolation
  score through the card's Platt calibration, then the seed's "rule-based
  fallback" as a few threshold rules (noisy-OR), thresholds from the card;
- one audit `INSERT` per decision into its own table (`seed_audit`) through
  psycopg, one connection per worker process, `synchronous_commit` off by
  default like the product's audit rows (SEED_SYNCHRONOUS_COMMIT=on to wait
  for the disk); a batch is one transaction of pipelined INSERTs.

Environment: SEED_DATABASE_URL (required), SEED_TOKEN (X-Internal-Token),
SEED_CREDIT_DIR and SEED_FRAUD_DIR (artifact folders; default the newest under
ml_artifacts/credit and ml_artifacts/fraud), SEED_SYNCHRONOUS_COMMIT.

Run: `uvicorn benchmarks.seed_service:app --workers 2` from the repository root
(the table: `python -m benchmarks.seed_service create-table`).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
import os
import sys
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import lightgbm as lgb
import numpy as np
import onnxruntime as ort
import psycopg
from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel, ConfigDict, Field

ROOT = Path(__file__).resolve().parent.parent
TABLE_SQL = """
CREATE TABLE IF NOT EXISTS seed_audit (
    id bigserial PRIMARY KEY,
    user_id text NOT NULL,
    kind text NOT NULL,
    score double precision,
    decision text NOT NULL,
    model_version text NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""
INSERT_SQL = (
    "INSERT INTO seed_audit (user_id, kind, score, decision, model_version, payload) VALUES (%s, %s, %s, %s, %s, %s)"
)
BATCH_LIMIT = 1000


def _newest(name: str) -> Path:
    folders = sorted(p for p in (ROOT / "ml_artifacts" / name).iterdir() if (p / "manifest.json").is_file())
    if not folders:
        raise RuntimeError(f"no artifact under ml_artifacts/{name}")
    return folders[-1]


# --- Models (loaded once per worker process, at import) -----------------------------------


class CreditModel:
    """The shipped LightGBM booster, scored as the seed's design scores it: `Booster.predict`."""

    def __init__(self, folder: Path):
        self.manifest = json.loads((folder / "manifest.json").read_text())
        self.version = self.manifest.get("version") or folder.name
        self.features = list(self.manifest["features"])
        self.threshold = float(self.manifest.get("decision_threshold", 0.65))
        self.bands = sorted((self.manifest.get("bands") or {}).items(), key=lambda kv: -kv[1])
        model_file = next(name for name in self.manifest.get("files", {}) if name.endswith(".txt"))
        self.booster = lgb.Booster(model_str=(folder / model_file).read_text())

    def band(self, score: float) -> str:
        for band, floor in self.bands:
            if score >= floor:
                return band
        return "E"

    def predict(self, rows: list[dict]) -> np.ndarray:
        X = np.array([[row[name] for name in self.features] for row in rows], dtype=np.float64)
        return self.booster.predict(X, num_threads=1)


class FraudModel:
    """The shipped forest in onnxruntime, with the model card's input transform, calibration and thresholds."""

    def __init__(self, folder: Path):
        self.manifest = json.loads((folder / "manifest.json").read_text())
        self.version = self.manifest.get("version") or folder.name
        self.features = list(self.manifest["features"])
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(folder / "forest.onnx"), options, providers=["CPUExecutionProvider"])
        with np.load(folder / "forest.npz", allow_pickle=False) as arrays:
            self.denominator = float(arrays["denominator"])
        self.since_clip = (self.manifest.get("model_input_params") or {}).get("since_clip_sec")
        self.a = float(self.manifest["calibration"]["a"])
        self.b = float(self.manifest["calibration"]["b"])
        thresholds = self.manifest.get("thresholds") or {}
        self.hold = float(thresholds.get("hold", 0.8))
        self.review = float(thresholds.get("review", 0.5))
        self.rule_params = self.manifest.get("rule_params") or {}

    def anomaly(self, rows: list[dict]) -> np.ndarray:
        """Return the calibrated anomaly probability of each row."""
        x = np.array([[row[name] for name in self.features] for row in rows], dtype=np.float64)
        if self.since_clip is not None:
            np.minimum(x[:, 1], self.since_clip, out=x[:, 1])
        x[:, :2] = np.log1p(np.maximum(x[:, :2], 0.0))
        # Thresholds were fitted on float32 inputs (scikit-learn casts them).
        x = x.astype(np.float32).astype(np.float64)
        (depths,) = self.session.run(None, {"X": x})
        isolation = 2.0 ** (-depths[:, 0].astype(np.float64) / self.denominator)
        return 1.0 / (1.0 + np.exp(-(self.a * isolation + self.b)))

    def rules(self, row: dict) -> list[str]:
        """The seed's rule-based detection: a few thresholds on the five features."""
        p = self.rule_params
        fired = []
        if row["invoices_last_min"] >= p.get("burst_invoices", 3):
            fired.append("invoice_burst")
        if row["time_since_last_sec"] < p.get("rapid_repeat_sec", 15) and row["amount_sats"] >= p.get(
            "rapid_repeat_min_sats", 787
        ):
            fired.append("rapid_repeat")
        if (
            row["device_changes"] >= 1
            and row["location_changes"] >= 1
            and row["amount_sats"] >= p.get("unusual_amount_sats", 86_349)
        ):
            fired.append("new_device_location_unusual_amount")
        if row["amount_sats"] >= p.get("very_large_amount_sats", 823_782):
            fired.append("very_large_amount")
        return fired

    def decide(self, score: float) -> str:
        return "hold" if score >= self.hold else "review" if score >= self.review else "allow"


RULE_WEIGHTS = {
    "invoice_burst": 0.9,
    "rapid_repeat": 0.9,
    "new_device_location_unusual_amount": 0.9,
    "very_large_amount": 0.6,
}

credit_model = CreditModel(
    Path(os.environ["SEED_CREDIT_DIR"]) if os.environ.get("SEED_CREDIT_DIR") else _newest("credit")
)
fraud_model = FraudModel(Path(os.environ["SEED_FRAUD_DIR"]) if os.environ.get("SEED_FRAUD_DIR") else _newest("fraud"))


# --- Bodies --------------------------------------------------------------------------------

Finite = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0)]


class CreditFeatures(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Annotated[str, Field(min_length=1, max_length=128)]
    tontine_contributions: Finite
    punctuality_rate: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
    contributions_count: Count
    mobile_tx_volume: Finite
    avg_payment_delay_days: Finite
    community_endorsements: Count


class CreditBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: Annotated[list[CreditFeatures], Field(min_length=1, max_length=BATCH_LIMIT)]


class CreditAnswer(BaseModel):
    user_id: str
    score: float
    approved: bool
    band: str
    model_version: str


class CreditBatchAnswer(BaseModel):
    results: list[CreditAnswer]


class Transaction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Annotated[str, Field(min_length=1, max_length=128)]
    amount_sats: Finite
    time_since_last_sec: Finite
    invoices_last_min: Count
    device_changes: Count
    location_changes: Count


class TransactionBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: Annotated[list[Transaction], Field(min_length=1, max_length=BATCH_LIMIT)]


class FraudAnswer(BaseModel):
    user_id: str
    fraud_score: float
    is_fraud: bool
    decision: str
    reasons: list[str]
    model_version: str


class FraudBatchAnswer(BaseModel):
    results: list[FraudAnswer]


# --- Audit: one connection per worker process ------------------------------------------------


class Audit:
    """One psycopg connection for this worker; a lock keeps one request's statements (and transaction) together."""

    def __init__(self):
        self.connection: psycopg.AsyncConnection | None = None
        self.lock = asyncio.Lock()

    async def open(self) -> None:
        self.connection = await psycopg.AsyncConnection.connect(os.environ["SEED_DATABASE_URL"], autocommit=True)
        synchronous = os.environ.get("SEED_SYNCHRONOUS_COMMIT", "off")
        await self.connection.execute(f"SET synchronous_commit TO {'on' if synchronous == 'on' else 'off'}")

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()

    async def write(self, rows: list[tuple]) -> None:
        async with self.lock:
            if len(rows) == 1:
                await self.connection.execute(INSERT_SQL, rows[0])
                return
            async with self.connection.transaction(), self.connection.cursor() as cursor:
                await cursor.executemany(INSERT_SQL, rows)


audit = Audit()


@asynccontextmanager
async def lifespan(app: FastAPI):
    await audit.open()
    yield
    await audit.close()


app = FastAPI(title="seed-design risk service (benchmark)", lifespan=lifespan, docs_url=None, redoc_url=None)
TOKEN = os.environ.get("SEED_TOKEN", "")


def internal_token(x_internal_token: Annotated[str, Header()] = "") -> None:
    if not TOKEN or not hmac.compare_digest(x_internal_token, TOKEN):
        raise HTTPException(status_code=401, detail="invalid internal token")


Authorized = Depends(internal_token)


def _credit(items: list[CreditFeatures]) -> tuple[list[CreditAnswer], list[tuple]]:
    rows = [item.model_dump() for item in items]
    scores = credit_model.predict(rows).tolist()
    answers, audit_rows = [], []
    for row, score in zip(rows, scores, strict=True):
        if not math.isfinite(score):
            raise HTTPException(status_code=500, detail="non-finite score")
        answer = CreditAnswer(
            user_id=row["user_id"],
            score=round(score, 6),
            approved=score >= credit_model.threshold,
            band=credit_model.band(score),
            model_version=credit_model.version,
        )
        answers.append(answer)
        audit_rows.append(
            (
                row["user_id"],
                "credit",
                answer.score,
                "approved" if answer.approved else "declined",
                credit_model.version,
                json.dumps({"features": row, "band": answer.band}),
            )
        )
    return answers, audit_rows


def _fraud(items: list[Transaction]) -> tuple[list[FraudAnswer], list[tuple]]:
    rows = [item.model_dump() for item in items]
    probabilities = fraud_model.anomaly(rows).tolist()
    answers, audit_rows = [], []
    for row, probability in zip(rows, probabilities, strict=True):
        fired = fraud_model.rules(row)
        keep = 1.0 - probability
        for rule in fired:
            keep *= 1.0 - RULE_WEIGHTS[rule]
        score = round(1.0 - keep, 6)
        decision = fraud_model.decide(score)
        answers.append(
            FraudAnswer(
                user_id=row["user_id"],
                fraud_score=score,
                is_fraud=decision == "hold",
                decision=decision,
                reasons=fired,
                model_version=fraud_model.version,
            )
        )
        audit_rows.append(
            (
                row["user_id"],
                "fraud",
                score,
                decision,
                fraud_model.version,
                json.dumps({"features": row, "reasons": fired}),
            )
        )
    return answers, audit_rows


@app.get("/health")
async def health() -> dict:
    return {"status": "ok", "credit_model": credit_model.version, "fraud_model": fraud_model.version}


@app.post("/predict", response_model=CreditAnswer, dependencies=[Authorized])
async def predict(body: CreditFeatures):
    answers, rows = _credit([body])
    await audit.write(rows)
    return answers[0]


@app.post("/batch-predict", response_model=CreditBatchAnswer, dependencies=[Authorized])
async def batch_predict(body: CreditBatch):
    answers, rows = _credit(body.items)
    await audit.write(rows)
    return CreditBatchAnswer(results=answers)


@app.post("/check", response_model=FraudAnswer, dependencies=[Authorized])
async def check(body: Transaction):
    answers, rows = _fraud([body])
    await audit.write(rows)
    return answers[0]


@app.post("/batch-check", response_model=FraudBatchAnswer, dependencies=[Authorized])
async def batch_check(body: TransactionBatch):
    answers, rows = _fraud(body.items)
    await audit.write(rows)
    return FraudBatchAnswer(results=answers)


def create_table(url: str) -> None:
    """Create the service's audit table (before its workers start)."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(TABLE_SQL)


if __name__ == "__main__":
    if sys.argv[1:] == ["create-table"]:
        create_table(os.environ["SEED_DATABASE_URL"])
    else:
        sys.exit("usage: python -m benchmarks.seed_service create-table")
