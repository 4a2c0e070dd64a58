"""flask commands: demo data and staff accounts."""

import click
from flask import Flask

from backend.extensions import db
from backend.staff.permissions import ROLES


def register_cli(app: Flask) -> None:
    @app.cli.command("seed-demo")
    @click.option("--history", is_flag=True, help="also a year of orders, shows, parcels, scans")
    @click.option("--days", default=365, show_default=True, type=click.IntRange(1, 3660))
    @click.option("--orders-per-day", type=click.IntRange(1), help="on average (default 80)")
    @click.option("--seed", default=19, show_default=True, help="the same seed, the same year")
    def seed_demo(history, days, orders_per_day, seed):
        """Load the Rushan alliance demo store (idempotent); --history adds a year of business
        (once: a second run finds it there and writes nothing)."""
        import time

        from backend import demo, demo_history

        loaded = demo.seed(db.session)
        click.echo("demo data loaded" if loaded else "demo data already present")
        if not history:
            return
        started = time.perf_counter()
        counts = demo_history.seed_history(
            db.session,
            days=days,
            orders_per_day=orders_per_day or demo_history.DEFAULT_ORDERS_PER_DAY,
            seed=seed,
        )
        if not counts:
            click.echo("demo history already present: nothing written")
            return
        seconds = time.perf_counter() - started
        click.echo(
            f"demo history loaded in {seconds:.1f} s: {counts.get('orders', 0)} orders, "
            f"{counts.get('platform_orders', 0)} platform orders, "
            f"{counts.get('stock_movements', 0)} stock-ledger rows, "
            f"{sum(counts.values())} rows in all"
        )

    @app.cli.command("create-staff")
    @click.argument("username")
    @click.argument("display_name")
    @click.option(
        "--role",
        required=True,
        type=click.Choice(list(ROLES)),
        help="admin, operations, warehouse, host, brand or finance",
    )
    @click.password_option()
    def create_staff(username, display_name, role, password):
        """Create a console account."""
        from backend.staff import service

        service.create_staff(
            db.session, username=username, password=password, display_name=display_name, role=role
        )
        click.echo(f"created {username}")

    @app.cli.command("issue-api-key")
    @click.argument("name")
    @click.option(
        "--farm", help="the farm (养殖户) whose own system posts its units' growth updates"
    )
    def issue_api_key(name, farm):
        """A key of the signed processing API: a processing company's line, or a farm's system.
        The secret is printed this once."""
        from backend.batches import service
        from backend.errors import DomainError

        try:
            key_id, secret = service.issue_key(db.session, name=name, farm_name=farm)
        except DomainError as refused:
            raise click.ClickException(refused.message) from None
        click.echo(f"PROCESSING_KEY_ID={key_id}\nPROCESSING_SECRET={secret}")
