"""Prefect wiring for dpmon: the monthly reconciliation flow, its CLI and deployment."""


def dpmon_version() -> str:
    """The installed package's version, as the manifest, the workbook and ``dpmon --version`` give it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dpmon")
    except PackageNotFoundError:
        return "unknown"
