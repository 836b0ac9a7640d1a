"""Population stability (PSI) and the training reference bins it compares with: pure numpy.

Training writes `reference_distribution` into the model card; the daily drift
job (backoffice.drift) counts recent traffic in the same bins and computes
`psi`. The method is described in backoffice/drift.py.
"""

from __future__ import annotations

import numpy as np

PSI_EPSILON = 1e-4
REFERENCE_BINS = 10
SCORE = "score"


def bin_edges(values: np.ndarray, bins: int = REFERENCE_BINS) -> np.ndarray:
    """Return the inner edges of `bins` quantile bins of `values` (repeated edges merged)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return np.array([], dtype=np.float64)
    # "higher": edges are observed values, so a discrete feature keeps its values whole.
    return np.unique(np.quantile(values, np.linspace(0.0, 1.0, bins + 1)[1:-1], method="higher"))


def bin_counts(values: np.ndarray, edges) -> np.ndarray:
    """Count values per bin: bin 0 is `< edges[0]`, bin i is `[edges[i-1], edges[i])`, the last `>= edges[-1]`."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    edges = np.asarray(edges, dtype=np.float64)
    return np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)


def reference_of(values: np.ndarray, bins: int = REFERENCE_BINS) -> dict:
    """Return one variable's training reference: inner bin edges, each bin's share of rows, row count."""
    edges = bin_edges(values, bins)
    counts = bin_counts(values, edges)
    n = int(counts.sum())
    shares = counts / n if n else counts.astype(np.float64)
    return {"edges": [float(e) for e in edges], "proportions": [round(float(p), 6) for p in shares], "n": n}


def reference_distribution(X: np.ndarray, names, scores: np.ndarray) -> dict:
    """Return the model card's `reference_distribution`: each feature's and the score's training bins."""
    X = np.asarray(X, dtype=np.float64)
    return {
        "method": f"training deciles ({REFERENCE_BINS} quantile bins, repeated edges merged); "
        "bin i = [edges[i-1], edges[i]); proportions = share of training rows per bin",
        "bins": REFERENCE_BINS,
        "features": {name: reference_of(X[:, i]) for i, name in enumerate(names)},
        SCORE: reference_of(scores),
    }


def psi(expected, actual, *, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index of `actual` shares against `expected` shares (same bins).

    Either argument may be counts: each is divided by its own total. Shares of
    0 are floored at `epsilon`.
    """
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    if e.shape != a.shape or e.sum() <= 0 or a.sum() <= 0:
        raise ValueError("psi needs two non-empty distributions over the same bins")
    e = np.maximum(e / e.sum(), epsilon)
    a = np.maximum(a / a.sum(), epsilon)
    return float(np.sum((a - e) * np.log(a / e)))
