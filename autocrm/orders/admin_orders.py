"""Admin of the orders app (being built)."""
