"""The demo E-Credit connection's settings, shared by the demo seed (which creates the
``BrokerConnection``) and ``python -m simulators`` (which plays the broker for ``make run``).

Plain values only, no Django: the simulators' runner imports this without the CRM.
"""

from __future__ import annotations

# Where `make run` starts the E-Credit simulator (simulators/__main__.py uses the same).
DEMO_BROKER_PORT = 8083
DEMO_BROKER_URL = f"http://127.0.0.1:{DEMO_BROKER_PORT}/api/v1"
DEMO_BROKER_LOGIN = "demo-dealer"
DEMO_BROKER_API_KEY = "demo-ecredit-api-key"
DEMO_BROKER_CALLBACK_SECRET = "demo-ecredit-callback-secret"  # noqa: S105 - demo only
