"""The harness that the tests and the benchmarks share: real processes on loopback.

``processes``: free ports, waiting on a condition, stopping a child, missing tools.
``mosquitto``: a throwaway Mosquitto. ``database``: a look into a service's database, a fresh
database for a service run (emptying a PostgreSQL database), a throwaway PostgreSQL cluster.
``service``: ``python -m monitor run`` and ``worker`` as child processes, a fresh service with its
database, waiting on a count in its tables, and an SSE reader of their alert stream. ``receivers``:
a webhook server and an SMTP server on loopback for notifications. What the harness says while it
waits goes to the ``tests.harness`` logger.

Every failure here raises :class:`~tests.harness.processes.HarnessError` (an AssertionError): a
test fails with it, a benchmark reports it and goes on with the next one.
"""
