"""Use cases of collections on stored connections (the API and the CLI's remote mode use them)."""
