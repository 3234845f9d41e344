"""Command groups that live outside cli.py (registered on import at the end of cli.py)."""
