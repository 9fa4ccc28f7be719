"""DuckDB connections for batch work, bounded so a large build spills to disk instead of growing.

``C360_DUCKDB_MEMORY`` (default ``1GB``) caps each connection's memory; what does not fit
spills to a temporary folder that is removed with the connection. A connection reads only what
c360 registers in it: no files, no network, no extensions installed or loaded on demand.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref

import duckdb


def connect() -> duckdb.DuckDBPyConnection:
    spill = tempfile.mkdtemp(prefix="c360-duckdb-")
    con = duckdb.connect(
        config={
            "memory_limit": os.environ.get("C360_DUCKDB_MEMORY", "1GB"),
            "temp_directory": spill,
            "preserve_insertion_order": False,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
    )
    con.execute("SET TimeZone = 'UTC'")
    # Last, once the spill folder is set: from here on nothing reads or writes a file by name.
    con.execute("SET enable_external_access = false")
    weakref.finalize(con, shutil.rmtree, spill, ignore_errors=True)
    return con
