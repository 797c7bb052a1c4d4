"""A `membrane`-compatible executable over a local SQLite store that behaves like Mautic's REST API v1.

It stands in for the Membrane CLI and a Mautic instance, so the server can be tried and tested without
either. Nothing is imported here: every invocation is a new process and must start fast.
"""

__version__ = "0.1.0"
