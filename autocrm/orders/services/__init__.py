"""Services of the orders app. Each public function is one transaction."""
