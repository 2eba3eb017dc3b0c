"""The roles of SPEC §6: who may do what is decided in ``monitor.auth`` and the blueprints; the names live here,
free of any framework, so the command line can offer them without loading the service."""
from __future__ import annotations

ROLES = ("device", "manager", "operations", "auditor", "admin")
