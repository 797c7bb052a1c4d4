"""The SQLite store: where it lives, its schema, atomic first-use seeding, and transactions.

One table per Mautic entity holds each record's flat fields as JSON in `data`, plus the few columns the
emulation searches on (`ukey` for email/name/alias lookups, `published`, `search` text). Relations and
contacts' change logs live in their own tables; `UPGRADES` brings a store made by an older version up to
date on open. WAL mode and a 10 s busy timeout let parallel processes read while one writes;
every write runs inside BEGIN IMMEDIATE so concurrent writers queue instead of failing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

APP_NAME = "mautic-mcp-sandbox"
ENTITY_TABLES = ("contacts", "companies", "segments", "campaigns", "emails", "forms", "stages", "notes", "assets")

# Per table: the field whose lowercased value is the unique lookup key, and the fields free text searches.
INDEXED: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "contacts": ("email", ("firstname", "lastname", "email", "company")),
    "companies": ("companyname", ("companyname", "companyemail", "companycity", "companycountry")),
    "segments": ("alias", ("name", "alias", "description")),
    "campaigns": (None, ("name", "description")),
    "emails": (None, ("name", "subject")),
    "forms": (None, ("name", "alias", "description")),
    "stages": (None, ("name", "description")),
    "notes": (None, ("text",)),
    "assets": (None, ("title", "alias", "description")),
}

SCHEMA = (
    "".join(
        f"CREATE TABLE {t} (id INTEGER PRIMARY KEY AUTOINCREMENT, ukey TEXT, published INTEGER NOT NULL,"
        f" search TEXT NOT NULL, data TEXT NOT NULL);"
        f"CREATE UNIQUE INDEX {t}_ukey ON {t}(ukey) WHERE ukey IS NOT NULL;"
        for t in ENTITY_TABLES
    )
    + "CREATE TABLE segment_contacts (segment_id INTEGER NOT NULL, contact_id INTEGER NOT NULL,"
    " date_added TEXT NOT NULL, PRIMARY KEY (segment_id, contact_id)) WITHOUT ROWID;"
    "CREATE INDEX segment_contacts_contact ON segment_contacts(contact_id);"
    "CREATE TABLE campaign_contacts (campaign_id INTEGER NOT NULL, contact_id INTEGER NOT NULL,"
    " date_added TEXT NOT NULL, PRIMARY KEY (campaign_id, contact_id)) WITHOUT ROWID;"
    "CREATE INDEX campaign_contacts_contact ON campaign_contacts(contact_id);"
    "CREATE TABLE company_contacts (company_id INTEGER NOT NULL, contact_id INTEGER NOT NULL,"
    " date_added TEXT NOT NULL, is_primary INTEGER NOT NULL DEFAULT 1,"
    " PRIMARY KEY (company_id, contact_id)) WITHOUT ROWID;"
    "CREATE INDEX company_contacts_contact ON company_contacts(contact_id);"
    "CREATE TABLE email_sends (id INTEGER PRIMARY KEY AUTOINCREMENT, email_id INTEGER NOT NULL,"
    " contact_id INTEGER NOT NULL, date_sent TEXT NOT NULL);"
    "CREATE INDEX email_sends_contact ON email_sends(contact_id);"
)
# Each step brings a store from one `PRAGMA user_version` to the next. A new store is built with SCHEMA and
# then every step, so stores made by older versions and new ones end up alike. Columns and tables are named
# as in Mautic's database, which `GET /api/stats/<table>` shows.
UPGRADES: tuple[tuple[str, ...], ...] = (
    (
        # campaign membership outlives a removal, as Mautic's campaign_leads rows do
        "ALTER TABLE campaign_contacts ADD COLUMN manually_removed INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE campaign_contacts ADD COLUMN manually_added INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE campaign_contacts ADD COLUMN date_last_exited TEXT",
        "ALTER TABLE campaign_contacts ADD COLUMN rotation INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE email_sends ADD COLUMN is_read INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE email_sends ADD COLUMN date_read TEXT",
        "ALTER TABLE email_sends ADD COLUMN tracking_hash TEXT",
        "CREATE INDEX email_sends_email ON email_sends(email_id)",
        # the change logs a contact's timeline is built from
        "CREATE TABLE lead_event_log (id INTEGER PRIMARY KEY AUTOINCREMENT, lead_id INTEGER NOT NULL,"
        " user_id INTEGER, user_name TEXT, bundle TEXT NOT NULL, object TEXT NOT NULL, action TEXT NOT NULL,"
        " object_id INTEGER, date_added TEXT NOT NULL, properties TEXT NOT NULL)",
        "CREATE INDEX lead_event_log_lead ON lead_event_log(lead_id)",
        "CREATE TABLE lead_points_change_log (id INTEGER PRIMARY KEY AUTOINCREMENT, lead_id INTEGER NOT NULL,"
        " type TEXT NOT NULL, event_name TEXT NOT NULL, action_name TEXT NOT NULL, delta INTEGER NOT NULL,"
        " date_added TEXT NOT NULL)",
        "CREATE INDEX lead_points_change_log_lead ON lead_points_change_log(lead_id)",
        "CREATE TABLE lead_stages_change_log (id INTEGER PRIMARY KEY AUTOINCREMENT, lead_id INTEGER NOT NULL,"
        " stage_id INTEGER, event_name TEXT NOT NULL, action_name TEXT NOT NULL, date_added TEXT NOT NULL)",
        "CREATE INDEX lead_stages_change_log_lead ON lead_stages_change_log(lead_id)",
    ),
)


def default_db_path() -> str:
    """`platformdirs.user_data_dir("mautic-mcp-sandbox")/sandbox.db`.

    On Linux without XDG_DATA_HOME the answer is computed directly, because importing platformdirs
    costs more than the rest of an invocation; tests check both agree.
    """
    if sys.platform.startswith("linux") and not os.environ.get("XDG_DATA_HOME", "").strip():
        base = os.path.join(os.path.expanduser("~/.local/share"), APP_NAME)
    else:
        import platformdirs

        base = platformdirs.user_data_dir(APP_NAME)
    return os.path.join(base, "sandbox.db")


def db_path() -> str:
    return os.environ.get("MEMBRANE_SANDBOX_DB") or default_db_path()


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def index_columns(table: str, data: dict[str, Any]) -> tuple[str | None, int, str]:
    """The (ukey, published, search) columns derived from a record's flat fields."""
    key_field, search_fields = INDEXED[table]
    key = data.get(key_field) if key_field else None
    ukey = str(key).strip().lower() if key else None
    text = " ".join(str(data[f]) for f in search_fields if data.get(f))
    return ukey, 1 if data.get("isPublished", True) else 0, text.lower()


class Transaction:
    """BEGIN IMMEDIATE … COMMIT, rolled back on error; a class because contextlib costs start-up time."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


class Store:
    """An open store. Records come back as their flat `data` dict with `id` added."""

    def __init__(self, path: str, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn

    def transaction(self) -> Transaction:
        return Transaction(self.conn)

    def get(self, table: str, record_id: int) -> dict[str, Any] | None:
        row = self.conn.execute(f"SELECT id, data FROM {table} WHERE id = ?", (record_id,)).fetchone()
        return _record(row) if row else None

    def find_id(self, table: str, ukey: str) -> int | None:
        row = self.conn.execute(f"SELECT id FROM {table} WHERE ukey = ?", (ukey.strip().lower(),)).fetchone()
        return row[0] if row else None

    def insert(self, table: str, data: dict[str, Any]) -> int:
        fields = {k: v for k, v in data.items() if k != "id"}
        cur = self.conn.execute(
            f"INSERT INTO {table} (ukey, published, search, data) VALUES (?, ?, ?, ?)",
            (*index_columns(table, fields), dumps(fields)),
        )
        return int(cur.lastrowid or 0)

    def update(self, table: str, record_id: int, data: dict[str, Any]) -> None:
        fields = {k: v for k, v in data.items() if k != "id"}
        self.conn.execute(
            f"UPDATE {table} SET ukey = ?, published = ?, search = ?, data = ? WHERE id = ?",
            (*index_columns(table, fields), dumps(fields), record_id),
        )

    def delete(self, table: str, record_id: int) -> None:
        self.conn.execute(f"DELETE FROM {table} WHERE id = ?", (record_id,))

    def select(
        self, table: str, where: str, params: list[Any], order: str, limit: int, offset: int
    ) -> tuple[int, list[dict[str, Any]]]:
        """(total matching, the page of records) for a WHERE clause built by the caller."""
        clause = f" WHERE {where}" if where else ""
        total = self.conn.execute(f"SELECT count(*) FROM {table}{clause}", params).fetchone()[0]
        rows = self.conn.execute(
            f"SELECT id, data FROM {table}{clause} ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, limit if limit > 0 else -1, max(offset, 0)],
        ).fetchall()
        return total, [_record(row) for row in rows]

    def all(self, table: str, where: str = "", params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        clause = f" WHERE {where}" if where else ""
        rows = self.conn.execute(f"SELECT id, data FROM {table}{clause} ORDER BY id", params)
        return [_record(row) for row in rows]


def _record(row: tuple[int, str]) -> dict[str, Any]:
    record = {"id": row[0]}
    record.update(json.loads(row[1]))
    return record


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=10.0, isolation_level=None)
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _upgrade(conn: sqlite3.Connection) -> None:
    """Runs the UPGRADES steps a store has not had yet; a store made by an older sandbox keeps its data."""
    if conn.execute("PRAGMA user_version").fetchone()[0] >= len(UPGRADES):
        return
    with Transaction(conn):
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for step in UPGRADES[version:]:
            for statement in step:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {len(UPGRADES)}")


def _build(path: str) -> str:
    """Creates and seeds a store in a temporary file next to `path`; returns the temporary file's path."""
    from mautic_mcp.sandbox import seed

    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    if os.path.exists(tmp):
        os.remove(tmp)
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.executescript(SCHEMA)
        _upgrade(conn)
        conn.execute("BEGIN")
        seed.populate(Store(tmp, conn))
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()
    return tmp


def _remove(path: str) -> None:
    """Removes a file if it is there; contextlib.suppress would cost an import at start-up."""
    if os.path.exists(path):
        try:
            os.remove(path)
        except FileNotFoundError:
            return


def _publish(tmp: str, path: str) -> None:
    """Moves a built store into place unless another process got there first; never overwrites."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    except OSError:
        try:
            os.rename(tmp, path)
        except FileExistsError:
            pass
        else:
            return
    _remove(tmp)


def open_store(path: str | None = None) -> Store:
    """Opens the store, creating and seeding it first when the file does not exist yet."""
    path = path or db_path()
    if not os.path.exists(path):
        _publish(_build(path), path)
    conn = _connect(path)
    _upgrade(conn)
    return Store(path, conn)


def reset(path: str | None = None) -> str:
    """Replaces the store with a freshly seeded one; returns its path."""
    path = path or db_path()
    tmp = _build(path)
    for suffix in ("-wal", "-shm"):
        _remove(path + suffix)
    os.replace(tmp, path)
    return path
