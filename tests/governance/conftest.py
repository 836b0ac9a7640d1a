"""Governance tests reuse the credit and fraud model fixtures."""

from tests.credit.conftest import trained_model  # noqa: F401
from tests.fraud.conftest import fraud_artifacts, fraud_model  # noqa: F401
