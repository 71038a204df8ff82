"""The background tier: tasks and schedules on procrastinate (see docs/operations.md).

The database holds the truth of background work (rows with a next-run time); tasks only
say "look for due work of this kind now", so a lost task delays work and loses nothing.

* :func:`create_task_app` builds the procrastinate app: PostgreSQL is the queue when the
  store is PostgreSQL; the embedded default (SQLite) runs an in-memory queue in process.
* :class:`Worker` runs the tasks (``connectory worker``, or inside ``connectory serve``),
  reopening the app when the database goes away.
* :func:`wake_due` is the reconciler: run at every start and every tick, it asks for each
  kind of work that is due.
"""

from connectory.worker.engine import TaskEngine, create_task_app
from connectory.worker.reconcile import wake_due
from connectory.worker.runner import Worker, build_context

__all__ = ["TaskEngine", "Worker", "build_context", "create_task_app", "wake_due"]
