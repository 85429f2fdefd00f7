"""Makes the peer's tables and fills them with the data Kiln answered during seeding.

    PEER_DB=peer.db python seed.py dump.json

`dump.json` is `{"projects": [Kiln's project JSON, ...], "messages": [Kiln's message JSON, ...]}`,
as `bench/run` reads it from Kiln, so both servers answer the same documents.
"""

import json
import sys
from datetime import datetime

from app import Base, Message, Project, Sessions, engine

PROJECT_COLUMNS = {
    "id", "owner", "name", "description", "status", "spec", "design", "current_version",
    "tested_version", "deployments", "created_at", "updated_at", "revision",
}


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def main(path: str) -> None:
    with open(path, encoding="utf-8") as f:
        dump = json.load(f)
    Base.metadata.create_all(engine)
    with Sessions() as session:
        for p in dump["projects"]:
            session.add(
                Project(
                    **{k: p.get(k) for k in PROJECT_COLUMNS if k not in ("created_at", "updated_at")},
                    agent_state={k: v for k, v in p.items() if k not in PROJECT_COLUMNS},
                    created_at=when(p["created_at"]),
                    updated_at=when(p["updated_at"]),
                )
            )
        for m in dump["messages"]:
            session.add(Message(**{**m, "created_at": when(m["created_at"])}))
        session.commit()
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1])
