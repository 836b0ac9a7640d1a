"""The demo world generator (see generator.py)."""
