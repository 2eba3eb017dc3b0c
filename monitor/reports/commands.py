"""CLI commands for auditors: ``report`` and ``audit verify`` (placeholder until the reports work lands)."""
import click


@click.command(help="Compliance report (placeholder).")
def report() -> None:
    raise click.ClickException("not implemented yet")


@click.group(help="The tamper-evident audit trail.")
def audit() -> None:
    pass
