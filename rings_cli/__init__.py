"""Rings: privacy-first web analytics from server access logs."""

__version__ = "0.1.0"
