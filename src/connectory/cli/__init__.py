"""The ``connectory`` command line (typer + rich)."""
