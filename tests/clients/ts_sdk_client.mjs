#!/usr/bin/env node
// Drives mautic-mcp with the official TypeScript SDK client, an MCP client written
// independently of the Python SDK the server is built on.
//
// Usage: node ts_sdk_client.mjs [SERVER_COMMAND [ARGS...]]
//   default server: mautic-mcp --sandbox
//    or: node ts_sdk_client.mjs http://HOST:PORT/mcp
//   a running server over streamable HTTP (StreamableHTTPClientTransport), with
//   `Authorization: Bearer $MCP_HTTP_TOKEN` when that is set; the cancellation checks
//   are left out, since the slow-call knob would slow every other client of that server.
// The server gets this process's whole environment (PATH, MEMBRANE_SANDBOX_DB,
// MEMBRANE_SANDBOX_KNOBS, MAUTIC_MCP_*): the SDK would otherwise pass only a few
// variables such as HOME and PATH. Without MEMBRANE_SANDBOX_KNOBS a temporary
// knobs file is used. Run the server with MAUTIC_MCP_MAX_CONCURRENCY=1 to make the
// cancellation check strict: the call after it can then only run once the server
// has really given up the cancelled one. Prints one `ok - ...` / `not ok - ...`
// line per check and exits 1 if any check failed.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const CALL_TIMEOUT_MS = 60_000;
const MAX_PAGES = 100; // a server that never stops paginating must not hang the test
const ABORT_AFTER_MS = 500; // let the slow call reach the sandbox before cancelling it
const ABORT_DEADLINE_MS = 2_000;
const AFTER_CANCEL_DEADLINE_MS = 10_000; // well under the 30 s the cancelled call would have taken
const SLOW_KNOBS = { fault: "slow:30", fault_on: "action run" };

let failures = 0;

// A check's expected way to fail: reported by its message alone, without a stack.
class CheckFailed extends Error {}

function report(passed, description, detail) {
  console.log(`${passed ? "ok" : "not ok"} - ${description}`);
  if (!passed) {
    failures += 1;
    if (detail !== undefined) console.log(`  # ${String(detail).replaceAll("\n", "\n  # ")}`);
  }
  return passed;
}

// Runs one check; an exception inside it is a failed check, not a crash.
async function check(description, body) {
  try {
    const detail = await body();
    return report(true, detail ? `${description} (${detail})` : description);
  } catch (error) {
    return report(false, description, error instanceof CheckFailed ? error.message : (error?.stack ?? error));
  }
}

function assert(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

function serverParameters() {
  const [command, ...args] = process.argv.slice(2);
  const env = Object.fromEntries(Object.entries(process.env).filter(([, value]) => value !== undefined));
  if (!env.MEMBRANE_SANDBOX_KNOBS) {
    const knobsDir = mkdtempSync(join(tmpdir(), "mautic-mcp-knobs-"));
    process.on("exit", () => rmSync(knobsDir, { recursive: true, force: true }));
    env.MEMBRANE_SANDBOX_KNOBS = join(knobsDir, "knobs.json");
  }
  return command
    ? { command, args, env, stderr: "inherit" }
    : { command: "mautic-mcp", args: ["--sandbox"], env, stderr: "inherit" };
}

// The one text block of a successful result, parsed as JSON.
function resultJson(result, toolName) {
  assert(!result.isError, `${toolName} returned isError: ${JSON.stringify(result.content)}`);
  const texts = result.content.filter((block) => block.type === "text");
  assert(texts.length === 1, `${toolName}: expected one text block, got ${JSON.stringify(result.content)}`);
  return JSON.parse(texts[0].text);
}

function resultText(result) {
  return result.content
    .filter((block) => block.type === "text")
    .map((block) => block.text)
    .join("\n");
}

async function callTool(client, name, args, options = {}) {
  return client.callTool({ name, arguments: args }, undefined, { timeout: CALL_TIMEOUT_MS, ...options });
}

async function listAllTools(client) {
  const tools = [];
  const seenCursors = new Set();
  let pages = 0;
  let cursor;
  do {
    const page = await client.listTools(cursor === undefined ? {} : { cursor });
    pages += 1;
    tools.push(...page.tools);
    cursor = page.nextCursor;
    assert(cursor === undefined || !seenCursors.has(cursor), `nextCursor ${cursor} came back twice`);
    if (cursor !== undefined) seenCursors.add(cursor);
  } while (cursor !== undefined && pages < MAX_PAGES);
  assert(cursor === undefined, `still a nextCursor after ${MAX_PAGES} pages`);
  return { tools, pages };
}

function checkToolNames(tools) {
  const names = tools.map((tool) => tool.name);
  const bad = names.filter((name) => !TOOL_NAME.test(name));
  assert(bad.length === 0, `names not matching ${TOOL_NAME}: ${JSON.stringify(bad)}`);
  const duplicates = names.filter((name, index) => names.indexOf(name) !== index);
  assert(duplicates.length === 0, `duplicate names: ${JSON.stringify(duplicates)}`);
  for (const expected of ["proxy_request", "list_contacts", "get_contact"]) {
    assert(names.includes(expected), `no tool named ${expected} in ${JSON.stringify(names)}`);
  }
  const notObjects = tools.filter((tool) => tool.inputSchema?.type !== "object").map((tool) => tool.name);
  assert(notObjects.length === 0, `inputSchema.type is not "object" for ${JSON.stringify(notObjects)}`);
  return `${names.length} unique, valid names`;
}

async function checkListContacts(client) {
  const result = await callTool(client, "list_contacts", { limit: 3 });
  const data = resultJson(result, "list_contacts");
  assert(Array.isArray(data.records), `no records array in ${JSON.stringify(data).slice(0, 300)}`);
  assert(data.records.length >= 1 && data.records.length <= 3, `expected 1-3 records, got ${data.records.length}`);
  assert(data.records.every((record) => record.id !== undefined), "a record has no id");
  assert(typeof data.total === "number" && data.total >= data.records.length, `bad total ${data.total}`);
  assert(result.structuredContent === undefined, "the JSON is sent once, as text, not again as structuredContent");
  assert(typeof data.next === "object" && data.next.limit === 3, `no next arguments in ${JSON.stringify(data).slice(0, 300)}`);
  return data.records;
}

async function checkGetContact(client, id) {
  const data = resultJson(await callTool(client, "get_contact", { id: Number(id) }), "get_contact");
  // Accept the record itself or a record wrapped in one key (e.g. {"contact": {...}}).
  const record = data.id !== undefined ? data : Object.values(data).find((value) => value?.id !== undefined);
  assert(record, `no record with an id in ${JSON.stringify(data).slice(0, 300)}`);
  assert(String(record.id) === String(id), `asked for id ${id}, got ${record.id}`);
  return `id ${id}`;
}

async function checkProxyRequest(client) {
  const args = { method: "GET", path: "/api/contacts", query: { limit: 2 } };
  const data = resultJson(await callTool(client, "proxy_request", args), "proxy_request");
  assert(typeof data === "object" && data !== null, `not a JSON object: ${JSON.stringify(data).slice(0, 300)}`);
  assert("total" in data, `no "total" in ${JSON.stringify(data).slice(0, 300)}`);
  assert("contacts" in data, `no "contacts" in ${JSON.stringify(data).slice(0, 300)}`);
  const count = Object.keys(data.contacts).length; // Mautic keys contacts by id: an object, or [] when empty
  assert(count >= 1 && count <= 2, `expected 1-2 contacts with limit 2, got ${count}`);
  return `total ${data.total}, ${count} contacts`;
}

async function checkInvalidArguments(client) {
  const result = await callTool(client, "get_contact", { id: "not-a-number", bogus: 1 });
  const text = resultText(result);
  assert(result.isError === true, `expected isError: true, got ${JSON.stringify(result).slice(0, 300)}`);
  assert(/['"`]id['"`]/.test(text), `error text does not name the field id: ${text}`);
  assert(text.includes("bogus"), `error text does not name the unknown field bogus: ${text}`);
}

async function checkUnknownTool(client) {
  try {
    await callTool(client, "no-such-tool", {});
  } catch (error) {
    assert(error instanceof McpError, `expected an McpError, got ${error}`);
    assert(error.code === ErrorCode.InvalidParams, `expected code ${ErrorCode.InvalidParams}, got ${error.code}`);
    return `error ${error.code}`;
  }
  throw new CheckFailed("calling an unknown tool succeeded");
}

// Cancels a call the sandbox makes slow, then checks the server still answers.
async function checkCancellation(client, knobsPath) {
  writeFileSync(knobsPath, JSON.stringify(SLOW_KNOBS));
  let elapsed;
  try {
    const controller = new AbortController();
    const started = Date.now();
    const call = callTool(client, "list_contacts", { limit: 1 }, { signal: controller.signal });
    setTimeout(() => controller.abort(), ABORT_AFTER_MS);
    const deadline = new Promise((resolve) => {
      setTimeout(() => resolve("deadline"), ABORT_AFTER_MS + ABORT_DEADLINE_MS).unref();
    });
    const outcome = await Promise.race([call.then(() => "resolved", (error) => error), deadline]);
    elapsed = Date.now() - started;
    assert(outcome !== "deadline", `the call had not settled ${ABORT_DEADLINE_MS} ms after abort()`);
    assert(outcome !== "resolved", "the slow call resolved instead of being aborted");
    assert(/abort/i.test(String(outcome?.message ?? outcome)), `rejected, but not with an abort error: ${outcome}`);
  } finally {
    rmSync(knobsPath, { force: true });
  }
  return `rejected after ${elapsed} ms`;
}

async function checkCallAfterCancellation(client) {
  const started = Date.now();
  const data = resultJson(await callTool(client, "list_contacts", { limit: 1 }), "list_contacts");
  const elapsed = Date.now() - started;
  assert(Array.isArray(data.records) && data.records.length === 1, `expected 1 record, got ${JSON.stringify(data)}`);
  assert(elapsed < AFTER_CANCEL_DEADLINE_MS, `took ${elapsed} ms: is the server still running the cancelled call?`);
  return `answered in ${elapsed} ms`;
}

function transport() {
  const url = process.argv[2];
  if (url?.startsWith("http://") || url?.startsWith("https://")) {
    console.log(`# server: ${url} (streamable HTTP)`);
    const token = process.env.MCP_HTTP_TOKEN;
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    return { http: true, make: () => new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }) };
  }
  const parameters = serverParameters();
  console.log(`# server: ${[parameters.command, ...parameters.args].join(" ")}`);
  return { http: false, knobsPath: parameters.env.MEMBRANE_SANDBOX_KNOBS, make: () => new StdioClientTransport(parameters) };
}

async function main() {
  const target = transport();
  const knobsPath = target.knobsPath;
  const client = new Client({ name: "mautic-mcp-ts-sdk-test", version: "1.0.0" });
  const connected = await check("initialize", async () => {
    await client.connect(target.make());
    const server = client.getServerVersion();
    return `${server?.name} ${server?.version}`;
  });
  if (!connected) return 1;

  try {
    let tools = [];
    await check("tools/list follows every nextCursor", async () => {
      const listing = await listAllTools(client);
      tools = listing.tools;
      return `${listing.tools.length} tools in ${listing.pages} pages`;
    });
    await check("tool names are unique and match ^[a-zA-Z0-9_-]{1,64}$", () => checkToolNames(tools));

    let records = [];
    await check("list_contacts {limit: 3} returns records", async () => {
      records = await checkListContacts(client);
      return `${records.length} records`;
    });
    if (records.length > 0) {
      await check("get_contact returns the listed contact", () => checkGetContact(client, records[0].id));
    } else {
      report(false, "get_contact returns the listed contact", "skipped: list_contacts gave no id to ask for");
    }
    await check("proxy_request GET /api/contacts returns total and contacts", () => checkProxyRequest(client));
    await check("invalid arguments give isError naming the fields", () => checkInvalidArguments(client));
    await check("an unknown tool is a JSON-RPC invalid-params error", () => checkUnknownTool(client));
    if (!target.http) {
      await check("an aborted slow call rejects promptly", () => checkCancellation(client, knobsPath));
      await check("a normal call after the cancellation still works", () => checkCallAfterCancellation(client));
    }
  } finally {
    await client.close();
  }
  console.log(failures === 0 ? "# all checks passed" : `# ${failures} check(s) failed`);
  return failures === 0 ? 0 : 1;
}

process.exitCode = await main().catch((error) => {
  console.log(`not ok - unexpected error: ${error?.stack ?? error}`);
  return 1;
});
