"""Use cases of events: endpoints, deliveries, the event feed, intake and subscriptions.

The API, the CLI (through the API) and the worker share these. Nothing here schedules
work: a function that creates due work calls the :data:`Wake` it is given, and the worker
(``connectory.worker``) decides where that work runs.
"""
