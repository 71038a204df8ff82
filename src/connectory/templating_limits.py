"""Size limits of connector templates (shared by the fast path and the Jinja2 engine)."""

#: Largest string or list any single operation in a template may produce.
MAX_VALUE_LENGTH = 100_000
#: Largest rendered template.
MAX_OUTPUT_LENGTH = 1_000_000
