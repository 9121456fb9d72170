"""The demo approval chain for `flask --app wsgi seed demo` (never in production)."""

from ..extensions import db
from . import operations as ops
from .models import ApproverRule, RestartFrom

CHAIN_NAME = "Unit advisor, then international office"


def seed_demo_chain():
    """Create the demo chain unless it exists. Returns it."""
    chain = ops.find_chain_by_name(CHAIN_NAME)
    if chain is not None:
        return chain
    chain, _changed = ops.save_chain(
        None,
        ops.ChainData(
            name=CHAIN_NAME,
            description="The usual review: the student's advisor first, then the office.",
            restart_from=RestartFrom.FIRST_STEP,
            steps=[
                ops.StepData(
                    name="Unit advisor",
                    rule=ApproverRule.UNIT_ADVISOR,
                    time_limit_days=7,
                    may_return=True,
                ),
                ops.StepData(
                    name="International office",
                    rule=ApproverRule.INTERNATIONAL_OFFICE,
                    time_limit_days=7,
                ),
            ],
        ),
        actor=None,
    )
    db.session.flush()
    return chain
