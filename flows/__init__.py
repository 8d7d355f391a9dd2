"""Prefect wiring for dpmon: the monthly reconciliation flow, its CLI and deployment."""
