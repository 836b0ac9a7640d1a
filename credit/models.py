"""Credit models. Scores are stored on `users.credit_score`; history lives in `ai_metrics`."""
