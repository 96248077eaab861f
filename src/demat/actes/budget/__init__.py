"""TOTEM budget documents (``DocumentBudgetaire``, CFU): inspect, validate, seal, send as an act.

Budget documents reach the préfecture through ACTES (nature 5, matière 7.1) as a sealed XML
act with the délibération as annex; see ``reference/actes.md`` §4.
"""

from demat.actes.budget.act import BUDGET_MATIERES, budget_acte, package_budget
from demat.actes.budget.inspect import BudgetInfo, inspect_budget
from demat.actes.budget.seal import SealReport, require_valid_seal, seal, verify_seal
from demat.actes.budget.validate import BudgetIssue, BudgetValidation, validate_budget

__all__ = [
    "BUDGET_MATIERES",
    "BudgetInfo",
    "BudgetIssue",
    "BudgetValidation",
    "SealReport",
    "budget_acte",
    "inspect_budget",
    "package_budget",
    "require_valid_seal",
    "seal",
    "validate_budget",
    "verify_seal",
]
