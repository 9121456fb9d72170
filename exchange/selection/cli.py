"""`flask --app wsgi selection allocate CALL_ID [--seed N] [--dry-run] [--json]`: the same
allocation as the coordinator's page, from the command line."""

import json
from collections import Counter

import click
from flask.cli import AppGroup

from ..calls.models import Call
from ..core.errors import DomainError
from ..extensions import db
from . import engine
from .allocation import commit_allocation, preview_allocation

selection_cli = AppGroup("selection", help="Score and allocate the places of a call.")


def as_json(call_id: int, result: engine.Allocation) -> dict:
    """The shape the issue fixes: offerings with their fill, outcomes in rank order."""
    return {
        "call": call_id,
        "seed": result.seed,
        "offerings": [
            {"id": offering_id, "places": fill.places, "filled": fill.filled}
            for offering_id, fill in sorted(result.fill.items())
        ],
        "outcomes": [
            {
                "application_id": p.application_id,
                "score": p.score,
                "rank": p.rank,
                "outcome": p.outcome.value,
                "choice": p.choice,
            }
            for p in result.placements
        ],
    }


def _summary(call: Call, result: engine.Allocation, dry_run: bool) -> str:
    counts = Counter(p.outcome for p in result.placements)
    lines = [
        f"call {call.id} {call.title!r}: {len(result.placements)} applications, "
        f"{counts[engine.Outcome.PLACED]} placed, {counts[engine.Outcome.WAITLISTED]} "
        f"waitlisted, {counts[engine.Outcome.NOT_PLACED]} not placed",
        f"seed {result.seed} (--seed {result.seed} repeats this allocation)",
    ]
    with_places = [fill for fill in result.fill.values() if fill.places]
    full = sum(fill.filled >= fill.places for fill in with_places)
    lines.append(f"{full} of {len(with_places)} offerings with places are full")
    lines.append("dry run: nothing written" if dry_run else "committed")
    return "\n".join(lines)


@selection_cli.command("allocate")
@click.argument("call_id", type=int)
@click.option("--seed", type=int, help="The seed of the random draw (default: the call's).")
@click.option("--dry-run", is_flag=True, help="Show the result and write nothing.")
@click.option("--json", "as_json_output", is_flag=True, help="Print the result as JSON.")
def allocate_command(call_id, seed, dry_run, as_json_output):
    """Allocate the places of call CALL_ID to its approved applications."""
    call = db.session.get(Call, call_id)
    if call is None:
        raise click.ClickException(f"no call with id {call_id}")
    try:
        if dry_run:
            result = preview_allocation(call, actor=None, seed=seed)
        else:
            _run, result = commit_allocation(call, actor=None, seed=seed)
            db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc.message)) from exc
    if as_json_output:
        click.echo(json.dumps(as_json(call_id, result)))
    else:
        click.echo(_summary(call, result, dry_run))
