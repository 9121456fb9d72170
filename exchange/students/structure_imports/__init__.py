"""Imports of units (code, name, kind, parent) and of agreements (partner by hei-id or name +
country, type, years, places, months, levels, subject areas, language, minimum GPA, eligible
units), with the same preview, all-or-nothing and idempotence as the roster."""

from .agreements import AGREEMENT_COLUMNS, apply_agreements, plan_agreements
from .units import UNIT_COLUMNS, apply_units, plan_units

__all__ = [
    "AGREEMENT_COLUMNS",
    "UNIT_COLUMNS",
    "apply_agreements",
    "apply_units",
    "plan_agreements",
    "plan_units",
]
