"""Runnable examples of APIs that accept Tessera's tokens (each module's docstring says how to run it)."""
