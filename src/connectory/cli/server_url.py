"""The default Connectory server of the commands that talk to one.

A module of its own, so that naming it in an option's default does not import the remote client.
"""

DEFAULT_SERVER = "http://127.0.0.1:8000"
