"""Kyso: an open local signing agent for PKCS#11 USB tokens."""

__version__ = "0.1.0"
