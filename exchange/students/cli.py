"""`flask --app wsgi students import FILE [--dry-run] [--deactivate-missing]`."""

from pathlib import Path

import click
from flask.cli import AppGroup

from ..core import spreadsheets
from ..extensions import db
from . import roster

students_cli = AppGroup("students", help="Student records.")


@students_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and show what would change; write nothing.")
@click.option("--deactivate-missing", is_flag=True, help="Deactivate students not in the file.")
def import_roster(file, dry_run, deactivate_missing):
    """Import the registrar's roster (CSV or XLSX)."""
    content = file.read_bytes()
    with click.progressbar(length=_rows(content, file.name), label="checking") as bar:
        plan = roster.plan_roster(content, file.name, progress=bar.update)
    for problem in plan.problems:
        where = "file" if problem.line is None else f"line {problem.line}"
        click.echo(f"{where}, {problem.field}: {problem.message}", err=True)
    click.echo(
        f"{plan.total} rows: {plan.created} to create, {plan.updated} to update, "
        f"{plan.unchanged} unchanged; {len(plan.missing)} students missing from the roster"
    )
    if plan.problems:
        db.session.rollback()
        raise click.ClickException(f"{len(plan.problems)} problems; nothing was imported")
    if dry_run:
        db.session.rollback()
        click.echo("dry run: nothing was written")
        return
    with click.progressbar(length=len(plan.items), label="importing") as bar:
        roster.apply_roster(
            plan, actor=None, deactivate_missing=deactivate_missing, progress=bar.update
        )
    db.session.commit()
    click.echo(
        f"imported: {plan.created} created, {plan.updated} updated, {plan.unchanged} unchanged"
        + (f", {plan.deactivated} deactivated" if plan.deactivated else "")
    )


def _rows(content, name):
    """How many rows the file has, for the progress bar."""
    fmt = spreadsheets.table_format(name)
    try:
        return max(sum(1 for _row in spreadsheets.read_rows(content, fmt)) - 1, 1)
    except spreadsheets.TableError:
        return 1
