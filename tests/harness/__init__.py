"""The harness that the tests and the benchmarks share: real processes on loopback.

``processes``: free ports, waiting on a condition, stopping a child, missing tools.
``mosquitto``: a throwaway Mosquitto. ``database``: a look into a service's database, emptying a
PostgreSQL database, a throwaway PostgreSQL cluster. ``service``: ``python -m monitor run`` and
``worker`` as child processes, and an SSE reader of their alert stream. ``receivers``: a webhook
server and an SMTP server on loopback for notifications.

Every failure here raises :class:`~tests.harness.processes.HarnessError` (an AssertionError): a
test fails with it, a benchmark reports it and goes on with the next one.
"""
