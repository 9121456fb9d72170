"""Import of the registrar's roster: `plan_roster` reads and checks every row (rows.py) and
decides, for each, create / update / unchanged, matching on the student number, then the
e-mail (planning.py); `apply_roster` writes the plan (writing.py). A file with any problem
writes nothing; applying the same file twice changes nothing the second time. Students
missing from the roster are reported, never deleted; the caller may deactivate them. The
caller commits."""

from .planning import Missing, RosterPlan, plan_roster
from .rows import COLUMNS
from .writing import apply_roster

__all__ = ["COLUMNS", "Missing", "RosterPlan", "apply_roster", "plan_roster"]
