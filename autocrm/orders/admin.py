"""The orders app's admin, one module per area."""

from autocrm.orders import admin_catalog, admin_invoices, admin_orders  # noqa: F401
