"""The peer: Kiln's v2 project and conversation endpoints as the Python prototype planned them.

FastAPI with Pydantic v2 models, SQLAlchemy 2 on SQLite (WAL, a pooled connection per request,
indexes on what is queried), served by uvicorn with a worker per core. The paths, status codes
and JSON are Kiln's (`shared/src/api/projects.rs`, `conversation.rs`). It stores what Kiln's API
stores for these calls (a project; a message and its queued run) and nothing else: it runs no
agents, so a run stays queued and there is no intent classifier (a message to a project with a
spec is `refine`, otherwise `create`).

Used only by the benchmark beside it (`bench/run`). `PEER_DB` names the SQLite file; the tables
are made, and the data put in, by `seed.py` before the server starts.
"""

import base64
import os
import time
import uuid
from datetime import datetime, timezone
from typing import Annotated, Any, Optional

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    JSON,
    DateTime,
    Index,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    create_engine,
    event,
    or_,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

OWNER = "local"  # Kiln's owner on a server without tokens.
MAX_PAGE = 200


# --- storage ---------------------------------------------------------------------------------


class UtcDateTime(TypeDecorator):
    """A UTC time: SQLite keeps it as sortable text, Python gets it back aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect: Any) -> Optional[datetime]:
        return None if value is None else value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: Optional[datetime], dialect: Any) -> Optional[datetime]:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    pass


class Project(Base):
    __tablename__ = "projects"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    spec: Mapped[Optional[dict]] = mapped_column(JSON(none_as_null=True))
    design: Mapped[Optional[dict]] = mapped_column(JSON(none_as_null=True))
    current_version: Mapped[Optional[int]]
    tested_version: Mapped[Optional[int]]
    deployments: Mapped[list] = mapped_column(JSON)
    # What the agents keep between messages (an open question, the field in focus, ...): the
    # optional keys of Kiln's project, each shown only when set.
    agent_state: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revision: Mapped[int]
    __table_args__ = (Index("projects_by_owner", "owner", "updated_at", "id"),)


class Message(Base):
    __tablename__ = "messages"
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    project_id: Mapped[str] = mapped_column(String(36))
    role: Mapped[str] = mapped_column(String(16))
    agent: Mapped[Optional[str]] = mapped_column(String(32))
    content: Mapped[str] = mapped_column(Text)
    blocks: Mapped[list] = mapped_column(JSON)
    run_id: Mapped[Optional[str]] = mapped_column(String(36))
    client_id: Mapped[Optional[str]] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    __table_args__ = (
        Index("messages_by_project", "project_id", "seq"),
        UniqueConstraint("project_id", "client_id"),
    )


class Run(Base):
    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(36))
    message_id: Mapped[str] = mapped_column(String(36))
    intent: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    steps: Mapped[list] = mapped_column(JSON)
    error: Mapped[Optional[dict]] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    __table_args__ = (Index("runs_by_project", "project_id", "id"),)


def make_engine(path: str) -> Any:
    # Four pooled connections per worker: as many requests read at once as the worker's
    # threads can use, while writers seldom meet at SQLite's one write lock, where the loser
    # sleeps in SQLite's busy handler (16 + 16 gave the same rates and 3-5x the p99 of writes).
    engine = create_engine(
        f"sqlite:///{path}",
        pool_size=4,
        max_overflow=0,
        connect_args={"check_same_thread": False, "timeout": 5.0},
    )

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


engine = make_engine(os.environ.get("PEER_DB", "peer.db"))
Sessions = sessionmaker(bind=engine, expire_on_commit=False)


def get_session() -> Any:
    with Sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def uuid7() -> str:
    """A UUIDv7 (time-ordered, as Kiln's ids are): 48 bits of Unix milliseconds, then random."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    rand_a, rand_b = (rand >> 62) & 0xFFF, rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=(ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b))


def now() -> datetime:
    return datetime.now(timezone.utc)


# --- JSON shapes -----------------------------------------------------------------------------


class CreateProject(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=4000)


class PostMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: str = Field(min_length=1, max_length=8000)
    client_id: Optional[str] = Field(default=None, max_length=128)


class ProjectOut(BaseModel):
    # The agents' optional keys (`pending_question`, `focus`, ...) pass through as they are.
    model_config = ConfigDict(extra="allow", from_attributes=True)
    id: str
    owner: str
    name: str
    description: str
    status: str
    spec: Optional[dict[str, Any]]
    design: Optional[dict[str, Any]]
    current_version: Optional[int]
    tested_version: Optional[int]
    deployments: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
    revision: int


class ProjectSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    status: str
    current_version: Optional[int]
    updated_at: datetime


class ProjectPage(BaseModel):
    items: list[ProjectSummary]
    next_cursor: Optional[str]


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    project_id: str
    role: str
    agent: Optional[str]
    content: str
    blocks: list[dict[str, Any]]
    run_id: Optional[str]
    client_id: Optional[str]
    created_at: datetime


class MessagePage(BaseModel):
    items: list[MessageOut]
    next_cursor: Optional[str]


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    project_id: str
    message_id: str
    intent: str
    status: str
    steps: list[dict[str, Any]]
    error: Optional[dict[str, Any]]
    created_at: datetime
    updated_at: datetime


class PostedMessage(BaseModel):
    message: MessageOut
    run: RunOut


def project_out(p: Project) -> ProjectOut:
    return ProjectOut.model_validate(p).model_copy(update=p.agent_state)


# --- cursors and errors ----------------------------------------------------------------------


def encode_cursor(position: str) -> str:
    return base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError as e:
        raise HTTPException(400, "invalid_cursor") from e


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


app = FastAPI(title="Kiln's peer", docs_url=None, redoc_url=None)


@app.exception_handler(HTTPException)
def http_error(_request: Request, e: HTTPException) -> JSONResponse:
    return error(e.status_code, str(e.detail), str(e.detail))


@app.exception_handler(RequestValidationError)
def invalid(_request: Request, e: RequestValidationError) -> JSONResponse:
    return error(422, "invalid", str(e.errors()[0].get("msg", "invalid")))


def project_or_404(session: Session, project_id: str, *columns: Any) -> Any:
    row = session.execute(
        select(*columns).where(Project.id == project_id, Project.owner == OWNER)
    ).first()
    if row is None:
        raise HTTPException(404, "not_found")
    return row


# --- endpoints -------------------------------------------------------------------------------


@app.post("/api/v2/projects", status_code=201, response_model=ProjectOut)
def create_project(body: CreateProject, session: SessionDep, response: Response) -> Any:
    name, description = body.name.strip(), body.description.strip()
    if not name:
        raise HTTPException(422, "invalid")
    t = now()
    project = Project(
        id=uuid7(), owner=OWNER, name=name, description=description, status="new", spec=None,
        design=None, current_version=None, tested_version=None, deployments=[], agent_state={},
        created_at=t, updated_at=t, revision=0,
    )
    session.add(project)
    if description:
        # As in Kiln, the description opens the conversation, with its run (left queued here).
        message, run = new_message(project.id, description, None, "create")
        session.add_all([message, run])
    session.commit()
    response.headers["location"] = f"/api/v2/projects/{project.id}"
    return project_out(project)


@app.get("/api/v2/projects", response_model=ProjectPage)
def list_projects(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Optional[str] = None,
) -> Any:
    stmt = select(
        Project.id, Project.name, Project.status, Project.current_version, Project.updated_at
    ).where(Project.owner == OWNER)
    if cursor:
        at, _, last_id = decode_cursor(cursor).partition("|")
        try:
            after = datetime.fromisoformat(at)
        except ValueError as e:
            raise HTTPException(400, "invalid_cursor") from e
        stmt = stmt.where(
            or_(Project.updated_at < after, and_(Project.updated_at == after, Project.id < last_id))
        )
    rows = session.execute(
        stmt.order_by(Project.updated_at.desc(), Project.id.desc()).limit(limit + 1)
    ).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(f"{rows[-1].updated_at.isoformat()}|{rows[-1].id}")
    return ProjectPage(
        items=[ProjectSummary.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@app.get("/api/v2/projects/{project_id}", response_model=ProjectOut)
def get_project(project_id: str, session: SessionDep) -> Any:
    project = session.scalar(
        select(Project).where(Project.id == project_id, Project.owner == OWNER)
    )
    if project is None:
        raise HTTPException(404, "not_found")
    return project_out(project)


def new_message(
    project_id: str, content: str, client_id: Optional[str], intent: str
) -> tuple[Message, Run]:
    t = now()
    message = Message(
        id=uuid7(), project_id=project_id, role="user", agent=None, content=content, blocks=[],
        client_id=client_id, created_at=t,
    )
    run = Run(
        id=uuid7(), project_id=project_id, message_id=message.id, intent=intent,
        status="queued", steps=[], error=None, created_at=t, updated_at=t,
    )
    message.run_id = run.id
    return message, run


@app.post("/api/v2/projects/{project_id}/messages", status_code=202, response_model=PostedMessage)
def post_message(project_id: str, body: PostMessage, session: SessionDep) -> Any:
    content = body.content.strip()
    if not content:
        raise HTTPException(422, "invalid")
    client_id = (body.client_id or "").strip() or None
    (has_spec,) = project_or_404(session, project_id, Project.spec.is_not(None))
    if client_id is not None:
        # A retry with a known client_id answers what the first one did.
        earlier = session.scalar(
            select(Message).where(Message.project_id == project_id, Message.client_id == client_id)
        )
        if earlier is not None:
            run = session.get(Run, earlier.run_id)
            posted = PostedMessage(message=earlier, run=run)
            return JSONResponse(posted.model_dump(mode="json"), status_code=200)
    message, run = new_message(project_id, content, client_id, "refine" if has_spec else "create")
    session.add_all([message, run])
    session.commit()
    return PostedMessage(message=message, run=run)


@app.get("/api/v2/projects/{project_id}/conversation", response_model=MessagePage)
def list_conversation(
    project_id: str,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Optional[str] = None,
) -> Any:
    project_or_404(session, project_id, Project.id)
    after_seq = 0
    if cursor:
        try:
            after_seq = int(decode_cursor(cursor))
        except ValueError as e:
            raise HTTPException(400, "invalid_cursor") from e
    rows = session.scalars(
        select(Message)
        .where(Message.project_id == project_id, Message.seq > after_seq)
        .order_by(Message.seq)
        .limit(limit + 1)
    ).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(str(rows[-1].seq))
    return MessagePage(items=rows, next_cursor=next_cursor)
