"""WSGI entry for production web processes: ``gunicorn -k gthread --threads 16 wsgi:app``.

A web process serves the API and pages and needs no broker; ingestion, deadline scheduling and
the relay of alert changes (acknowledgements made here included) to MQTT run in
``python -m monitor worker`` processes.
"""
from monitor.cli import web_app

app = web_app()
