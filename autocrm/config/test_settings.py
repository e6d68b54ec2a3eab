"""Settings for the test suite: the development profile (DEBUG-derived defaults such as
plain-HTTP cookies for the live server), on whatever DATABASE_URL says.

pytest-django still runs every test with ``DEBUG = False``. The production profile is
checked by tests that start ``manage.py`` in a subprocess with DEBUG=0.
"""

import os

os.environ.setdefault("DEBUG", "1")

from autocrm.config.settings import *  # noqa: F403

# Live-server request threads (browser tests) each open their own connection; with a
# reuse age those stay open after the thread ends and block dropping the test database.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
