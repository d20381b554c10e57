"""Developer tool: write a new migration from the difference between the models and the migrations.

    python -m storage.migrations.autogenerate "add exports table" 0002

Run it after changing :mod:`storage.model`; read and tidy the file it writes (no imports of the models).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine

from storage.migration import alembic_config, upgrade_to_head


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m storage.migrations.autogenerate MESSAGE REV_ID", file=sys.stderr)
        return 2
    message, rev_id = argv
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'gen.db'}")
        upgrade_to_head(engine)
        cfg = alembic_config(engine)
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.revision(cfg, message=message, autogenerate=True, rev_id=rev_id)
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
