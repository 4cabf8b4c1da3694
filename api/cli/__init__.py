"""The ``mission-portfolio`` command line: one module per group of commands, all registered on
the one ``app`` of ``api.cli.common``. They are imported in the order ``--help`` lists them."""

# isort: skip_file
from api.cli.common import app
from api.cli import server, users, missions, council, quarter, money
from api.cli.server import load_demo

__all__ = ["app", "council", "load_demo", "main", "missions", "money", "quarter", "server", "users"]


def main() -> None:  # pragma: no cover
    app()
