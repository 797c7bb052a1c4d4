"""The worker process that checks arguments against a schema with a pattern.

Run as `python -m mautic_mcp.tools.checker REQUEST_FILE`: it reads `{"schema": ..., "arguments": ...}`
as JSON from the file, writes the list of problems as JSON on stdout, and exits. The server
starts one per such check, through its Runner, and kills it at the deadline (see `validation.py`).
"""

from __future__ import annotations

import json
import sys

from mautic_mcp.tools.validation import ArgumentsValidator


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as handle:
        request = json.load(handle)
    problems = ArgumentsValidator(request["schema"]).errors(request["arguments"])
    sys.stdout.write(json.dumps(problems))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
