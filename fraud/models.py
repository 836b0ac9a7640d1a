"""Fraud models. Decisions are audited in `ai_metrics`; holds are `payments.status = held`."""
