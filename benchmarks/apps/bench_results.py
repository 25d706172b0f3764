"""Results that must outlive a script run (a module lives as long as the server)."""

results: dict[str, float] = {}
