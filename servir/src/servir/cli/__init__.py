"""The `servir` command line (typer): `servir --help` lists the commands."""

from servir.cli.app import app


def main() -> None:
    """The console script's entry point."""
    app()


__all__ = ["app", "main"]
