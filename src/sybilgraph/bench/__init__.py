"""Benchmarks: measured side by side with their floors, in one process (not tests)."""
