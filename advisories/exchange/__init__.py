"""Exchange: build tables (``tables``) and the pure decision over a disclosed build (``decision``)."""

from duecare.advisories.exchange.decision import (
    Identified,
    MissingFix,
    Patch,
    Support,
    identify,
    missing_fixes,
    patch,
    support,
)
from duecare.advisories.exchange.tables import (
    DATA_DIR,
    END_OF_SUPPORT,
    BuildNumber,
    BuildRow,
    ExchangeProduct,
    ExchangeTables,
    VulnRow,
    load_exchange_tables,
    product_of,
    su_month,
)

__all__ = [
    "DATA_DIR",
    "END_OF_SUPPORT",
    "BuildNumber",
    "BuildRow",
    "ExchangeProduct",
    "ExchangeTables",
    "Identified",
    "MissingFix",
    "Patch",
    "Support",
    "VulnRow",
    "identify",
    "load_exchange_tables",
    "missing_fixes",
    "patch",
    "product_of",
    "su_month",
    "support",
]
