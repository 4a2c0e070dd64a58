"""flask commands: demo data and staff accounts."""

import click
from flask import Flask

from backend.extensions import db
from backend.staff.permissions import ROLES


def register_cli(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo():
        """Load the Rushan alliance demo store (idempotent)."""
        from backend import demo

        loaded = demo.seed(db.session)
        click.echo("demo data loaded" if loaded else "demo data already present")

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
