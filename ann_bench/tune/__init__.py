"""Tuning to a target: the fastest configuration meeting recall, latency and memory goals,
found with Optuna over build parameters and bisection over monotone query parameters."""
