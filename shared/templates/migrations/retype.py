

def _retype(
    table: str,
    column: str,
    types: tuple[Any, Any],
    kind: str,
    fill: Any,
    nullable: bool,
    rules: dict[str, Any] | None = None,
) -> None:
    """table.column changes from types[0] to types[1]: each stored value that reads as one of
    `kind` (within `rules`: length, choices, pattern) is kept, converted; any other gets
    `fill` (None: left empty). A new column takes the values, then the old one's place."""
    old_type, new_type = types
    spare = f"_retyped_{column}"
    with op.batch_alter_table(table, naming_convention=NAMING) as batch:
        batch.add_column(sa.Column(spare, new_type, nullable=True))
    rows = sa.table(
        table,
        sa.column("id", sa.Integer()),
        sa.column(column, old_type),
        sa.column(spare, new_type),
    )
    bind = op.get_bind()
    for row_id, value in bind.execute(sa.select(rows.c.id, rows.c[column])).all():
        try:
            new = None if value is None else _read(value, kind, rules or {})
        except (TypeError, ValueError, OverflowError):
            new = fill
        if new is None and not nullable:
            new = fill
        bind.execute(rows.update().where(rows.c.id == row_id).values({spare: new}))
    with op.batch_alter_table(table, naming_convention=NAMING) as batch:
        batch.drop_column(column)
        batch.alter_column(spare, new_column_name=column, existing_type=new_type, nullable=nullable)


def _read(value: Any, kind: str, rules: dict[str, Any]) -> Any:
    """`value` as a value of `kind`; ValueError when it is none."""
    if kind == "text":
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (datetime.date, datetime.datetime)):
            text = value.isoformat()
        else:
            text = str(value)
        if len(text) > rules.get("length", len(text)):
            raise ValueError("too long")
        if "choices" in rules and text not in rules["choices"]:
            raise ValueError("not a choice")
        if "pattern" in rules and not re.fullmatch(rules["pattern"], text):
            raise ValueError("not of the form")
        return text
    if kind == "integer":
        number = value if isinstance(value, (int, float)) else float(str(value).strip())
        if isinstance(number, float) and not number.is_integer():
            raise ValueError("not a whole number")
        if abs(int(number)) > 2**31 - 1:
            raise ValueError("too large")
        return int(number)
    if kind == "float":
        number = float(value if isinstance(value, (int, float)) else str(value).strip())
        if not math.isfinite(number):
            raise ValueError("not finite")
        return number
    if kind == "boolean":
        if isinstance(value, (bool, int, float)) and value in (0, 1):
            return bool(value)
        word = str(value).strip().lower()
        if word in ("true", "t", "yes", "y", "1", "on"):
            return True
        if word in ("false", "f", "no", "n", "0", "off"):
            return False
        raise ValueError("not true or false")
    if kind == "date":
        if isinstance(value, datetime.datetime):
            return value.date()
        if isinstance(value, datetime.date):
            return value
        return datetime.date.fromisoformat(str(value).strip())
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, datetime.date):
        moment = datetime.datetime.combine(value, datetime.time())
    else:
        moment = datetime.datetime.fromisoformat(str(value).strip())
    if kind == "timestamp" and moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment
