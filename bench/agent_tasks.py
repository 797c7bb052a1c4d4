"""Agent tasks: seven things a model does with Mautic, run through a real MCP client against the sandbox.

Each task is played the way a careful model plays it: it reads only what the tools answer, follows
`next` to page, and recovers from its own mistakes by reading the error. Each outcome is checked
against the sandbox's own data (read with the sandbox CLI, not through the server), and each task
counts the calls it made and the characters it read, so a change in what the server costs shows.

    python bench/agent_tasks.py [--max-result-chars N] [--legacy]

`tests/e2e/test_agent_tasks.py` runs the same tasks and asserts every outcome.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError
from programs import program

EMAIL = "ava.nielsen@riverbend.example"
COMPANY = "Riverbend Insurance"
TAG = "vip"


class Agent:
    """A model's side of the session: every call and every character it reads are counted."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.calls = 0
        self.chars = 0
        self.errors: list[str] = []

    async def call(self, name: str, arguments: dict[str, Any]) -> tuple[bool, str]:
        """(ok, text) of one call; an unknown tool (a protocol error) is an error the model reads too."""
        self.calls += 1
        try:
            result = await self.client.call_tool(name, arguments)
        except MCPError as error:
            text = str(error)
            self.chars += len(text)
            self.errors.append(text)
            return False, text
        text = "".join(block.text for block in result.content if block.type == "text")
        self.chars += len(text)
        if result.is_error:
            self.errors.append(text)
        return not result.is_error, text

    async def json(self, name: str, arguments: dict[str, Any]) -> Any:
        ok, text = await self.call(name, arguments)
        if not ok:
            raise AssertionError(f"{name} {arguments} failed: {text}")
        return json.loads(text)

    async def every(self, name: str, arguments: dict[str, Any], key: str = "records") -> list[Any]:
        """All records of a list, following `next` until it is absent."""
        records: list[Any] = []
        while True:
            body = await self.json(name, arguments)
            page = body.get(key) or []
            records += list(page.values()) if isinstance(page, dict) else page
            if "next" not in body:
                return records
            arguments = body["next"]


@dataclass
class Outcome:
    task: str
    ok: bool
    detail: str
    calls: int = 0
    chars: int = 0
    errors: list[str] = field(default_factory=list)


class Truth:
    """The sandbox's own data, read with its CLI, never through the server."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def request(self, path: str, *query: str, method: str = "GET") -> Any:
        args = [*_sandbox_cli(), "request", "mautic", path, f"--method={method}"]
        args += [f"--query={pair}" for pair in query]
        done = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=60, check=True)
        return json.loads(done.stdout)

    def contact_ids(self, search: str) -> list[int]:
        rows = self.request("/api/contacts", f"search={search}", "limit=0")["contacts"]
        return sorted(int(key) for key in rows)


# --- the tasks ------------------------------------------------------------------------------------------


async def find_contact_by_email(agent: Agent, truth: Truth) -> str:
    body = await agent.json("search_contacts_by_email", {"email": EMAIL})
    records = body.get("records", body if isinstance(body, list) else [body])
    found = [r for r in records if isinstance(r, dict) and r.get("email") == EMAIL]
    want = truth.contact_ids(f"email:{EMAIL}")
    assert [r["id"] for r in found] == want, (found, want)
    return f"contact {want[0]}"


async def move_company_contacts_into_segment(agent: Agent, truth: Truth) -> str:
    companies = await agent.every("list_companies", {"search": COMPANY, "limit": 10})
    company = next(c for c in companies if c.get("name") == COMPANY or c.get("companyname") == COMPANY)
    contacts = await agent.every("list_contacts", {"search": f'company:"{COMPANY}"', "limit": 50})
    segment = await agent.json("create_segment", {"name": f"{COMPANY} contacts"})
    segment = segment.get("segment", segment)
    for contact in contacts:
        await agent.json("add_contact_to_segment", {"segmentId": segment["id"], "contactId": contact["id"]})
    members = await agent.every("list_contacts", {"segment": segment["alias"], "limit": 100})
    want = truth.contact_ids(f'company:"{COMPANY}"')
    assert sorted(m["id"] for m in members) == want, (members, want)
    assert sorted(c["id"] for c in contacts) == want
    return f"{len(want)} contacts of company {company['id']} in segment {segment['alias']}"


async def create_contact_with_note_and_stage(agent: Agent, truth: Truth) -> str:
    stages = await agent.every("list_stages", {})
    stage = next(s for s in stages if s["name"] == "Customer")
    contact = await agent.json("create_contact", {"email": "new.lead@agent.example", "firstname": "Nia"})
    contact = contact.get("contact", contact)
    await agent.json("create_note", {"contactId": contact["id"], "text": "Met at the Q4 webinar", "type": "meeting"})
    await agent.json("change_contact_stage", {"contactId": contact["id"], "stageId": stage["id"]})
    stored = truth.request(f"/api/contacts/{contact['id']}")["contact"]
    notes = truth.request(f"/api/contacts/{contact['id']}/notes")["notes"]
    assert (stored.get("stage") or {}).get("id") == stage["id"], stored.get("stage")
    assert [n["text"] for n in (notes.values() if isinstance(notes, dict) else notes)] == ["Met at the Q4 webinar"]
    return f"contact {contact['id']}, stage {stage['name']}, one note"


async def read_every_contact_with_a_tag(agent: Agent, truth: Truth) -> str:
    records = await agent.every("contacts_find_by_tag", {"tag": TAG, "limit": 100})
    ids = [r["id"] for r in records]
    want = truth.contact_ids(f"tag:{TAG}")
    assert sorted(ids) == want and len(ids) == len(set(ids)), (len(ids), len(set(ids)), len(want))
    return f"{len(ids)} contacts tagged {TAG}, each once"


LENGTH = re.compile(r"of ([\d,]+) characters")


async def find_the_longest_email(agent: Agent, truth: Truth) -> str:
    emails = await agent.every("list_emails", {"limit": 100})

    def length(email: dict[str, Any]) -> int:
        html = str(email.get("customHtml") or "")
        said = LENGTH.search(html)
        return int(said.group(1).replace(",", "")) if said else len(html)

    longest = max(emails, key=length)
    body = await agent.json("get_email", {"id": longest["id"]})
    rows = truth.request("/api/emails", "limit=0")["emails"]
    want = max(rows.values(), key=lambda e: len(e.get("customHtml") or ""))
    assert longest["id"] == want["id"] and body["id"] == want["id"], (longest["id"], want["id"])
    return f"email {want['id']} ({len(want['customHtml']):,} characters)"


async def use_the_proxy_for_what_no_action_covers(agent: Agent, truth: Truth) -> str:
    found = await agent.json("search_contacts_by_email", {"email": EMAIL})
    contact = (found.get("records") or [found])[0]
    body = await agent.json("proxy_request", {"path": f"/api/contacts/{contact['id']}/campaigns"})
    campaigns = body["campaigns"]
    want = truth.request(f"/api/contacts/{contact['id']}/campaigns")["campaigns"]
    assert sorted(campaigns) == sorted(want), (campaigns, want)
    return f"{len(want)} campaign(s) of contact {contact['id']} through proxy_request"


async def recover_from_mistakes(agent: Agent, truth: Truth) -> str:
    """Five mistakes a model makes; each error must say what to do, and doing it must work."""
    ok, text = await agent.call("list-contacts", {"limit": 1})
    assert not ok and "list_contacts" in text, text
    ok, text = await agent.call("list_contacts", {"limit": 1})
    assert ok, text
    ok, text = await agent.call("get_contact", {"id": "one"})
    assert not ok and "'id'" in text and "integer" in text, text
    ok, text = await agent.call("get_contact", {"contact_id": 1})
    assert not ok and "accepted fields: id" in text, text
    ok, text = await agent.call("get_contact", {"id": 99_999})
    assert not ok and "404" in text and "list the records" in text.lower(), text
    ok, text = await agent.call("proxy_request", {"path": "/contacts"})
    assert not ok and "/api/" in text, text
    ok, text = await agent.call("proxy_request", {"path": "/api/contacts", "query": {"limit": 1}})
    assert ok, text
    return "5 mistakes, each error named the fix, each fix worked"


TASKS: list[tuple[str, Callable[[Agent, Truth], Awaitable[str]]]] = [
    ("find a contact by email", find_contact_by_email),
    ("move a company's contacts into a segment", move_company_contacts_into_segment),
    ("create a contact with a note and a stage", create_contact_with_note_and_stage),
    ("read every contact with a tag", read_every_contact_with_a_tag),
    ("find the longest email", find_the_longest_email),
    ("proxy_request for what no action covers", use_the_proxy_for_what_no_action_covers),
    ("recover from deliberate mistakes", recover_from_mistakes),
]


# --- running them ---------------------------------------------------------------------------------------


def _sandbox_cli() -> list[str]:
    return program("membrane-sandbox", "mautic_mcp.sandbox")


def server(env: dict[str, str], max_result_chars: int) -> StdioServerParameters:
    command, *args = program("mautic-mcp", "mautic_mcp.server")
    return StdioServerParameters(
        command=command,
        args=[*args, "--sandbox", f"--max-result-chars={max_result_chars}"],
        env={**env, "MAUTIC_MCP_LOG_LEVEL": "WARNING"},
    )


async def run_tasks(env: dict[str, str], *, max_result_chars: int = 60_000, legacy: bool = False) -> list[Outcome]:
    """Each task in a session of its own, on one sandbox database, in order."""
    truth = Truth(env)
    outcomes = []
    for title, task in TASKS:
        async with Client(server(env, max_result_chars), mode="legacy" if legacy else "auto") as client:
            agent = Agent(client)
            try:
                detail, ok = await task(agent, truth), True
            except (AssertionError, KeyError, StopIteration, TypeError, ValueError) as problem:
                detail, ok = f"{type(problem).__name__}: {problem}"[:300], False
        outcomes.append(Outcome(title, ok, detail, agent.calls, agent.chars, agent.errors))
    return outcomes


def sandbox_env(folder: Path) -> dict[str, str]:
    """A fresh, seeded sandbox and the environment that points a server and the CLI at it."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MEMBRANE_SANDBOX_")}
    env["MEMBRANE_SANDBOX_DB"] = str(folder / "sandbox.db")
    env["MAUTIC_MCP_CACHE_DIR"] = str(folder / "cache")  # the run's own, out of the user's
    subprocess.run([*_sandbox_cli(), "reset"], env=env, check=True, capture_output=True, timeout=60)
    return env


def table(outcomes: list[Outcome]) -> str:
    lines = [f"{'task':<42} {'ok':<3} {'calls':>5} {'chars read':>10}  outcome"]
    for o in outcomes:
        lines.append(f"{o.task:<42} {'yes' if o.ok else 'NO':<3} {o.calls:>5} {o.chars:>10,}  {o.detail}")
    lines.append(f"{'all':<42} {'':<3} {sum(o.calls for o in outcomes):>5} {sum(o.chars for o in outcomes):>10,}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-result-chars", type=int, default=60_000)
    parser.add_argument("--legacy", action="store_true", help="speak the 2025-11-25 protocol instead of 2026-07-28")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        env = sandbox_env(Path(folder))
        outcomes = anyio.run(lambda: run_tasks(env, max_result_chars=args.max_result_chars, legacy=args.legacy))
    print(table(outcomes))
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
