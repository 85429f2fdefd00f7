"""Runs one version of a generated app over a database an earlier version left, as a deploy
does: the app starts (and migrates), then every list and every kept row is read back, and new
rows are written. Reads a JSON plan on stdin, answers JSON on stdout. The app's own request log
(one JSON line per request, on stdout) goes to stderr meanwhile, so the answer stays one value.

plan: {"create": {"/tasks": [body, ...]}, "expect": {"/tasks": [{"id": 1, "title": "..."}]}}
answer: {"created": {"/tasks": [row, ...]}, "problems": ["...", ...]}
"""

import json
import sys

from fastapi.testclient import TestClient

from app.main import create_app


def items(answer):
    return answer["items"] if isinstance(answer, dict) and "items" in answer else answer


def main() -> None:
    answer, sys.stdout = sys.stdout, sys.stderr
    plan = json.load(sys.stdin)
    problems = []
    client = TestClient(create_app())
    for path, rows in plan["expect"].items():
        listed = client.get(path, params={"limit": 100})
        if listed.status_code != 200:
            problems.append(f"GET {path}: {listed.status_code} {listed.text}")
            continue
        got = {row["id"]: row for row in items(listed.json())}
        if len(got) != len(rows):
            problems.append(f"GET {path}: {len(got)} rows, expected {len(rows)}: {sorted(got)}")
        for want in rows:
            one = client.get(f"{path}/{want['id']}")
            if one.status_code != 200:
                problems.append(f"GET {path}/{want['id']}: {one.status_code} {one.text}")
                continue
            for key, value in want.items():
                if one.json().get(key) != value:
                    problems.append(
                        f"GET {path}/{want['id']}: {key} is {one.json().get(key)!r}, expected {value!r}"
                    )
    created = {}
    for path, bodies in plan["create"].items():
        created[path] = []
        for body in bodies:
            res = client.post(path, json=body)
            if res.status_code != 201:
                problems.append(f"POST {path} {body}: {res.status_code} {res.text}")
            else:
                created[path].append(res.json())
    json.dump({"created": created, "problems": problems}, answer)


main()
