"""Allows `python -m sandbox`, with the same argv as `membrane`."""

from sandbox.cli import main

raise SystemExit(main())
