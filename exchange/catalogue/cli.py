"""`flask --app wsgi partners import FILE [--dry-run]` and `partners export FILE`."""

from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy.exc import IntegrityError

from ..core.errors import DomainError
from ..extensions import db
from . import formats, importer
from .queries import CatalogueFilters

partners_cli = AppGroup("partners", help="Partner catalogue: import and export.")
SHOW_WARNINGS = 20


def _echo_issues(result, issues, limit=None, err=False):
    for issue in issues[:limit]:
        field = f", field {issue.field}" if issue.field else ""
        click.echo(f"  {result.where(issue.line)}{field}: {issue.message}", err=err)
    if limit is not None and len(issues) > limit:
        click.echo(f"  ... and {len(issues) - limit} more", err=err)


@partners_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file and report; write nothing.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(formats.FORMATS),
    help="File format; by default from the file name's extension.",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace the stored values of matched partners with the file's. By default an "
    "import adds new partners and fills empty fields, and keeps every stored value.",
)
def import_partners(file, dry_run, fmt, overwrite):
    """Import partners from a CSV file or a world_universities.json-style JSON file.

    Nothing is written if any row has a problem. Rows match existing partners on their
    hei-id, else on name and country. Countries and languages may be codes or names.
    """
    fmt = fmt or formats.format_of(file.name)
    if fmt is None:
        raise click.UsageError("cannot tell the format from the file name; give --format")
    mode = importer.ImportMode.OVERWRITE if overwrite else importer.ImportMode.KEEP
    parsed = formats.read_file(file.read_bytes(), fmt)
    label = "Checking " if dry_run else "Importing"
    try:
        with click.progressbar(length=parsed.expected, label=label) as bar:
            result = importer.run_import(
                parsed, mode=mode, apply=not dry_run, filename=file.name, progress=bar.update
            )
    except (DomainError, IntegrityError) as exc:
        db.session.rollback()
        raise click.ClickException(f"nothing was written: {exc}") from exc
    click.echo(
        f"{result.total} rows: {result.created} to create, {result.updated} to update, "
        f"{result.unchanged} unchanged, {result.skipped} duplicates skipped"
    )
    _echo_interpreted(result)
    if result.with_kept:
        _echo_kept(result)
    if result.warnings:
        click.echo(f"{len(result.warnings)} warnings:")
        _echo_issues(result, result.warnings, SHOW_WARNINGS)
    if result.problems:
        db.session.rollback()
        click.echo(f"{len(result.problems)} problems; nothing was written:", err=True)
        _echo_issues(result, result.problems, err=True)
        raise SystemExit(1)
    if dry_run:
        click.echo("Dry run: nothing was written.")
        return
    db.session.commit()
    click.echo(
        f"Imported: {result.created} created, {result.updated} updated, "
        f"{result.unchanged} unchanged."
    )


def _echo_interpreted(result):
    for (field, written, code), (rows, line) in list(result.interpreted.items())[:SHOW_WARNINGS]:
        click.echo(f"  {field}: {written} → {code} ({rows} rows, first at {result.where(line)})")


def _echo_kept(result):
    click.echo(
        f"{result.with_kept} matched partners keep stored values that differ from the file's "
        "(--overwrite replaces them):"
    )
    for item in result.sample("kept"):
        changes = "; ".join(f"{k}: {old!r} (file: {new!r})" for k, (old, new) in item.kept.items())
        click.echo(f"  {result.where(item.line)}, {item.partner.name}: {changes}")


@partners_cli.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--country", help="ISO 3166 code.")
@click.option("--q", help="Search words.")
@click.option("--all", "all_partners", is_flag=True, help="Also partners without agreements.")
@click.option("--inactive", is_flag=True, help="Also inactive partners.")
def export_partners(file, country, q, all_partners, inactive):
    """Export the catalogue as CSV or XLSX (by the file name's extension)."""
    args = {"country": country or "", "q": q or ""}
    args.update({"all": "1"} if all_partners else {})
    args.update({"inactive": "1"} if inactive else {})
    filters = CatalogueFilters.from_args(args, staff=True)
    suffix = file.suffix.lower()
    if suffix == ".csv":
        with file.open("w", encoding="utf-8", newline="") as out:
            for chunk in formats.csv_chunks(formats.export_rows(filters)):
                out.write(chunk)
    elif suffix == ".xlsx":
        file.write_bytes(formats.xlsx_bytes(formats.export_rows(filters)))
    else:
        raise click.UsageError("the file name must end in .csv or .xlsx")
    click.echo(f"Wrote {file}")
