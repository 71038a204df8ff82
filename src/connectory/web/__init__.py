"""The browser UI: static pages served at ``/ui`` plus the few endpoints only the UI needs.

The UI is plain HTML, CSS and JavaScript modules; only its code editor (CodeMirror, under
``static/dist/``) is bundled, by ``make ui``, and the UI works without it. It talks to the
management API with the session cookie that ``POST /ui/session`` sets.
"""

from connectory.web.routes import STATIC_DIR, install_ui

__all__ = ["STATIC_DIR", "install_ui"]
