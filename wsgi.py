"""WSGI entry for production web processes: ``gunicorn -k gthread --threads 16 wsgi:app``.

A web process serves the API and pages and publishes acknowledgements; ingestion and deadline
scheduling run in ``python -m monitor worker`` processes.
"""
from monitor.cli import web_app

app = web_app()
