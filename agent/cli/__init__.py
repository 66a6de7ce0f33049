"""The ``kyso-agent`` command line."""
