"""TEST DOUBLE: the part of Open WebUI's admin API the boot script calls, as one request per
process (the recording ``curl`` stub in tests/stubs runs it), its state in a JSON file.

It follows Open WebUI v0.9.6 as registered in docs/UPSTREAM.md: the headless admin comes
from the container's environment on the first start and switches sign-up off
(main.py lifespan); ``POST /api/v1/auths/signin`` answers a token; the admin settings are one
form (routers/auths.py ``AdminConfig``: every field required); groups (routers/groups.py);
a model's grants are replaced as a whole by ``/api/v1/models/model/access/update``, which
creates a minimal model entry when none exists (routers/models.py, models/access_grants.py).
Every change increments ``writes`` so tests can prove that a second run changes nothing.

    OUT=file AUTH=header fake_webui_api.py STATE_DIR METHOD URL < BODY
    (the response body goes to $OUT, the HTTP status to stdout, as curl -o/-w print them)
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "fake-admin-token"
# routers/auths.py AdminConfig (v0.9.6): the fields the boot round-trips, with Open WebUI's
# defaults for those it does not own.
ADMIN_CONFIG_DEFAULTS: dict[str, Any] = {
    "SHOW_ADMIN_DETAILS": True,
    "ADMIN_EMAIL": None,
    "WEBUI_URL": "",
    "ENABLE_SIGNUP": True,
    "ENABLE_API_KEYS": False,
    "ENABLE_API_KEYS_ENDPOINT_RESTRICTIONS": False,
    "API_KEYS_ALLOWED_ENDPOINTS": "",
    "DEFAULT_USER_ROLE": "pending",
    "DEFAULT_GROUP_ID": "",
    "JWT_EXPIRES_IN": "4w",
    "ENABLE_COMMUNITY_SHARING": True,
    "ENABLE_MESSAGE_RATING": True,
    "ENABLE_FOLDERS": True,
    "FOLDER_MAX_FILE_COUNT": "",
    "AUTOMATION_MAX_COUNT": "",
    "AUTOMATION_MIN_INTERVAL": "",
    "ENABLE_AUTOMATIONS": True,
    "ENABLE_CHANNELS": False,
    "ENABLE_CALENDAR": False,
    "ENABLE_MEMORIES": True,
    "ENABLE_NOTES": True,
    "ENABLE_USER_WEBHOOKS": False,
    "ENABLE_USER_STATUS": True,
    "PENDING_USER_OVERLAY_TITLE": "",
    "PENDING_USER_OVERLAY_CONTENT": "",
    "RESPONSE_WATERMARK": "",
}
REQUIRED_ADMIN_FIELDS = {
    k for k, v in ADMIN_CONFIG_DEFAULTS.items() if isinstance(v, bool) or k == "WEBUI_URL"
}


def _env(state_dir: Path) -> dict[str, str]:
    path = state_dir / "container.env"
    if not path.exists():
        return {}
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def first_start(state_dir: Path) -> dict[str, Any]:
    """What an empty database holds after Open WebUI's first start with the boot's env file."""
    env = _env(state_dir)
    config = dict(ADMIN_CONFIG_DEFAULTS)
    config["WEBUI_URL"] = env.get("WEBUI_URL", "")
    config["ENABLE_SIGNUP"] = env.get("ENABLE_SIGNUP", "true").lower() == "true"
    users = []
    if env.get("WEBUI_ADMIN_EMAIL") and env.get("WEBUI_ADMIN_PASSWORD"):
        users.append(
            {
                "id": "admin-id",
                "email": env["WEBUI_ADMIN_EMAIL"],
                "password": env["WEBUI_ADMIN_PASSWORD"],
                "role": "admin",
            }
        )
        config["ENABLE_SIGNUP"] = False  # the headless admin switches sign-up off
    return {"config": config, "users": users, "groups": [], "models": {}, "writes": 0}


def handle(state: dict[str, Any], method: str, url: str, auth: str, body: str) -> tuple[int, Any]:
    parts = urlsplit(url)
    path, query = parts.path, parse_qs(parts.query)
    data = json.loads(body) if body.strip() else {}
    if (method, path) == ("POST", "/api/v1/auths/signin"):
        for user in state["users"]:
            if user["email"] == data.get("email") and user["password"] == data.get("password"):
                return 200, {"token": TOKEN, "id": user["id"], "role": user["role"]}
        return 400, {"detail": "The email or password provided is incorrect."}
    if auth.strip() != f"Authorization: Bearer {TOKEN}":
        return 401, {"detail": "Not authenticated"}
    if path == "/api/v1/auths/admin/config":
        if method == "GET":
            return 200, state["config"]
        missing = sorted(REQUIRED_ADMIN_FIELDS - set(data))
        if missing:
            return 422, {"detail": [{"loc": ["body", k], "msg": "Field required"} for k in missing]}
        state["config"].update({k: v for k, v in data.items() if k in ADMIN_CONFIG_DEFAULTS})
        state["writes"] += 1
        return 200, state["config"]
    if (method, path) == ("GET", "/api/v1/groups/"):
        return 200, state["groups"]
    if (method, path) == ("POST", "/api/v1/groups/create"):
        group = {
            "id": str(uuid.uuid4()),
            "user_id": "admin-id",
            "name": data["name"],
            "description": data["description"],
            "permissions": data.get("permissions"),
            "data": data.get("data"),
            "meta": None,
            "created_at": 1,
            "updated_at": 1,
        }
        state["groups"].append(group)
        state["writes"] += 1
        return 200, {**group, "member_count": 0}
    if method == "POST" and path.startswith("/api/v1/groups/id/") and path.endswith("/update"):
        gid = path.split("/")[5]
        for group in state["groups"]:
            if group["id"] == gid:
                group.update({k: data.get(k) for k in ("name", "description", "permissions")})
                group["data"] = data.get("data")
                state["writes"] += 1
                return 200, group
        return 404, {"detail": "not found"}
    if (method, path) == ("GET", "/api/v1/models/model"):
        model = state["models"].get(query.get("id", [""])[0])
        return (
            (200, model)
            if model
            else (404, {"detail": "We could not find what you're looking for :/"})
        )
    if (method, path) == ("POST", "/api/v1/models/model/access/update"):
        model = state["models"].setdefault(
            data["id"],
            {"id": data["id"], "name": data.get("name") or data["id"], "user_id": "admin-id"},
        )
        grants = {}
        for g in data["access_grants"]:
            key = (g["principal_type"], g["principal_id"], g["permission"])
            if g["principal_type"] in ("user", "group") and g["permission"] in ("read", "write"):
                grants[key] = {
                    "id": str(uuid.uuid4()),
                    **dict(zip(("principal_type", "principal_id", "permission"), key, strict=True)),
                }
        model["access_grants"] = list(grants.values())
        state["writes"] += 1
        return 200, model
    return 404, {"detail": "Not Found"}


def main(argv: list[str]) -> int:
    state_dir, method, url = Path(argv[1]), argv[2], argv[3]
    store = state_dir / "webui.json"
    state = json.loads(store.read_text()) if store.exists() else first_start(state_dir)
    auth = os.environ.get("AUTH", "")
    body = sys.stdin.read() if method != "GET" else ""
    code, answer = handle(state, method, url, auth, body)
    store.write_text(json.dumps(state, indent=1))
    Path(os.environ["OUT"]).write_text(json.dumps(answer))
    sys.stdout.write(str(code))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
