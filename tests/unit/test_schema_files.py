"""PostgreSQL's functions are defined once (functions.sql) and applied by the
last migration of every run: a database already at the newest version gets a
changed function only from a newer migration. This records which migration
brought each version of the file, so that a change to it without a new
migration fails here."""

from __future__ import annotations

import hashlib
from pathlib import Path

import aqueue
from aqueue.backends.sqlfile import latest_version, load_statements

FUNCTIONS = Path(aqueue.__file__).parent / "backends" / "postgres" / "functions.sql"

#: Migration version -> sha256 of functions.sql as that migration shipped it.
#: Changed functions.sql? Add a migration (a comment alone will do) and a line
#: here with its version and the new checksum.
SHIPPED = {
    17: "da1ffb4084b74653bef85da81ab77bb72f9afae80d8a34fe30b8bfc24c519909",
    19: "a56d8eb6bc800bf471f626f3bc121e13d5a7c3310a08899c67e2ff93ffbf6adc",
    24: "f8778601b503dcfdce7d6ba614dddca929b516b3f442eddfd26c048d23f7b3ba",
}


def test_functions_change_only_with_a_migration() -> None:
    digest = hashlib.sha256(FUNCTIONS.read_bytes()).hexdigest()
    newest = max(SHIPPED)
    assert SHIPPED[newest] == digest, (
        "functions.sql changed: add a migration, and record its version and the new "
        f"checksum {digest} in SHIPPED"
    )
    assert newest <= latest_version("aqueue.backends.postgres"), (
        "SHIPPED names a migration that does not exist"
    )
    assert list(SHIPPED) == sorted(SHIPPED)


def test_every_function_is_dropped_and_created() -> None:
    statements = [
        "\n".join(line for line in s.splitlines() if not line.startswith("--")).strip()
        for s in load_statements("aqueue.backends.postgres", "functions.sql")
    ]
    created = [s.split("(")[0].split()[-1] for s in statements if s.startswith("CREATE")]
    dropped = [s.split("(")[0].split()[-1] for s in statements if s.startswith("DROP")]
    assert (
        created
        == dropped
        == [
            "aqueue_claim",
            "aqueue_renew",
            "aqueue_release",
            "aqueue_complete",
            "aqueue_claim_limited",
        ]
    )


def test_no_migration_defines_a_function() -> None:
    folder = FUNCTIONS.parent / "migrations"
    for path in sorted(folder.glob("*.sql")):
        assert "FUNCTION" not in "\n".join(
            line for line in path.read_text().splitlines() if not line.startswith("--")
        ), path
