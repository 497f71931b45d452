"""A local stand-in for the Hugging Face Hub on 127.0.0.1, for tests.

It implements the endpoints huggingface_hub calls for create_repo, upload_folder (preupload +
commit, files sent inline) and snapshot_download (model info, resolve), keeps what it receives,
and checks the bearer token like the Hub does (401 for a wrong one, 403 for a read-only one).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse


def git_hash(content: bytes) -> str:
    return hashlib.sha1(b"blob " + str(len(content)).encode() + b"\0" + content).hexdigest()


@dataclass
class Repo:
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[dict] = field(default_factory=list)
    private: bool = False

    @property
    def head(self) -> str:
        return self.commits[-1]["oid"] if self.commits else "0" * 40


@dataclass
class HubState:
    write_token: str = "hf_test_write_token_0123456789"
    read_token: str = "hf_test_read_token_0123456789"
    repos: dict[str, Repo] = field(default_factory=dict)
    datasets: dict[str, Repo] = field(default_factory=dict)  # dataset repos, served read-only
    gated: set[str] = field(default_factory=set)  # dataset ids that need a token
    requests: list[str] = field(default_factory=list)
    raw_bodies: list[bytes] = field(default_factory=list)


class Handler(BaseHTTPRequestHandler):
    state: HubState

    def log_message(self, *args):  # keep test output clean
        pass

    # ------------------------------------------------------------- helpers
    def _send(self, code: int, payload=None, headers: dict | None = None, body: bytes | None = None):
        data = body if body is not None else json.dumps(payload if payload is not None else {}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json" if body is None else "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _token(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth[7:] if auth.startswith("Bearer ") else None

    def _auth(self, write: bool) -> bool:
        token = self._token()
        if token not in (self.state.write_token, self.state.read_token):
            self._send(401, {"error": "Invalid credentials in Authorization header"})
            return False
        if write and token != self.state.write_token:
            self._send(403, {"error": "You don't have the rights to create a model under this namespace"})
            return False
        return True

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.state.raw_bodies.append(body)
        return body

    # ------------------------------------------------------------- routes
    def do_POST(self):
        path = urlparse(self.path).path
        self.state.requests.append(f"POST {path}")
        body = self._body()
        if path == "/api/validate-yaml":  # the Hub checks README.md metadata before a commit
            import yaml

            content = json.loads(body)["content"]
            try:
                front = content.split("---\n")[1] if content.startswith("---\n") else ""
                yaml.safe_load(front)
            except (yaml.YAMLError, IndexError) as exc:
                return self._send(400, {"errors": [{"message": str(exc)}]})
            return self._send(200, {"warnings": []})
        if path == "/api/repos/create":
            if not self._auth(write=True):
                return
            payload = json.loads(body or b"{}")
            repo_id = f"{payload.get('organization') or 'tester'}/{payload['name']}"
            if repo_id in self.state.repos:
                return self._send(409, {"error": "You already created this model repo", "url": f"/{repo_id}"})
            self.state.repos[repo_id] = Repo(private=bool(payload.get("private")))
            return self._send(200, {"url": f"http://{self.headers['Host']}/{repo_id}", "name": repo_id})
        parts = path.split("/")  # /api/models/ns/name/(preupload|commit)/rev
        if len(parts) >= 7 and parts[1] == "api" and parts[2] == "models":
            repo_id, action = f"{parts[3]}/{parts[4]}", parts[5]
            if not self._auth(write=True):
                return
            repo = self.state.repos.get(repo_id)
            if repo is None:
                return self._send(404, {"error": "Repository not found"})
            if action == "preupload":
                files = json.loads(body)["files"]
                return self._send(
                    200,
                    {
                        "files": [
                            {
                                "path": f["path"],
                                "uploadMode": "regular",
                                "shouldIgnore": False,
                                "oid": git_hash(repo.files[f["path"]]) if f["path"] in repo.files else None,
                            }
                            for f in files
                        ]
                    },
                )
            if action == "commit":
                summary, changed = "", {}
                for line in body.decode().splitlines():
                    item = json.loads(line)
                    if item["key"] == "header":
                        summary = item["value"]["summary"]
                    elif item["key"] == "file":
                        changed[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                    elif item["key"] == "deletedFile":
                        repo.files.pop(item["value"]["path"], None)
                repo.files.update(changed)
                oid = hashlib.sha1(f"{repo.head}{summary}{sorted(changed)}".encode()).hexdigest()
                repo.commits.append({"oid": oid, "summary": summary, "files": sorted(changed)})
                return self._send(
                    200,
                    {
                        "commitOid": oid,
                        "commitUrl": f"http://{self.headers['Host']}/{repo_id}/commit/{oid}",
                        "pullRequestUrl": None,
                    },
                )
        if len(parts) >= 7 and parts[:2] == ["api", "datasets"] and parts[5] == "paths-info":
            repo = self._dataset(f"{parts[2]}/{parts[3]}")
            if repo is None:
                return
            from urllib.parse import parse_qs

            asked = (
                parse_qs(body.decode()).get("paths", [])
                if body and not body.startswith(b"{")
                else json.loads(body or b"{}").get("paths", [])
            )
            tree = {e["path"]: e for e in self._tree(repo, "", True)}
            return self._send(200, [tree[p] for p in asked if p in tree])
        self._send(404, {"error": f"not implemented: POST {path}"})

    def do_HEAD(self):
        self.do_GET()

    def _dataset(self, repo_id: str) -> Repo | None:
        """The dataset repo if this request may see it; otherwise the Hub's answer has been sent."""
        repo = self.state.datasets.get(repo_id)
        if repo is None or (repo.private and not self._token()):
            self._send(
                401 if repo is not None else 404,
                {"error": "Repository not found"},
                headers={"X-Error-Code": "RepoNotFound"},
            )
            return None
        if repo_id in self.state.gated and not self._token():
            self._send(
                401,
                {"error": f"Access to dataset {repo_id} is restricted."},
                headers={"X-Error-Code": "GatedRepo"},
            )
            return None
        return repo

    def _tree(self, repo: Repo, prefix: str, recursive: bool) -> list[dict]:
        prefix = prefix.strip("/")
        entries, folders = [], set()
        for name, content in sorted(repo.files.items()):
            if prefix and not name.startswith(prefix + "/"):
                continue
            rest = name[len(prefix) + 1 :] if prefix else name
            if "/" in rest and not recursive:
                folders.add((prefix + "/" if prefix else "") + rest.split("/")[0])
                continue
            if recursive:
                parts = rest.split("/")[:-1]
                for i in range(len(parts)):
                    folders.add((prefix + "/" if prefix else "") + "/".join(parts[: i + 1]))
            entries.append({"type": "file", "path": name, "size": len(content), "oid": git_hash(content)})
        return [
            {"type": "directory", "path": f, "oid": "0" * 40, "size": 0} for f in sorted(folders)
        ] + entries

    def _dataset_get(self, parts: list[str]):
        """/api/datasets/ns/name[/revision/rev | /tree/rev/path], /datasets/ns/name/resolve/rev/path."""
        if parts[0] == "api":
            repo_id = f"{parts[2]}/{parts[3]}"
            repo = self._dataset(repo_id)
            if repo is None:
                return
            if len(parts) >= 6 and parts[4] == "tree":
                query = urlparse(self.path).query
                return self._send(
                    200, self._tree(repo, "/".join(parts[6:]), "recursive=true" in query.lower())
                )
            if len(parts) >= 6 and parts[4] == "revision" and parts[5] not in ("main", repo.head):
                return self._send(
                    404,
                    {"error": f"Invalid rev id: {parts[5]}"},
                    headers={"X-Error-Code": "RevisionNotFound"},
                )
            return self._send(
                200,
                {
                    "id": repo_id,
                    "sha": repo.head,
                    "private": repo.private,
                    "gated": repo_id in self.state.gated and "auto",
                    "siblings": [{"rfilename": p} for p in sorted(repo.files)],
                    "cardData": {},
                },
            )
        repo_id = f"{parts[1]}/{parts[2]}"
        repo = self._dataset(repo_id)
        if repo is None:
            return
        name = "/".join(parts[5:])
        if name not in repo.files:
            return self._send(404, {"error": "Entry not found"}, headers={"X-Error-Code": "EntryNotFound"})
        content = repo.files[name]
        return self._send(
            200, body=content, headers={"X-Repo-Commit": repo.head, "ETag": f'"{git_hash(content)}"'}
        )

    def do_GET(self):
        path = unquote(urlparse(self.path).path)
        self.state.requests.append(f"{self.command} {path}")
        parts = path.strip("/").split("/")
        if path.startswith("/api/whoami"):
            if not self._auth(write=False):
                return
            return self._send(
                200, {"name": "tester", "type": "user", "auth": {"accessToken": {"role": "write"}}}
            )
        if (len(parts) >= 4 and parts[:2] == ["api", "datasets"]) or (
            len(parts) >= 6 and parts[0] == "datasets" and parts[3] == "resolve"
        ):
            return self._dataset_get(parts)
        if len(parts) >= 4 and parts[0] == "api" and parts[1] == "models":
            repo = self.state.repos.get(f"{parts[2]}/{parts[3]}")
            if repo is None or (repo.private and not self._token()):
                return self._send(404, {"error": "Repository not found"})
            if len(parts) >= 6 and parts[4] == "tree":
                return self._send(
                    200,
                    [
                        {"type": "file", "path": p, "size": len(c), "oid": git_hash(c)}
                        for p, c in sorted(repo.files.items())
                    ],
                )
            return self._send(
                200,
                {
                    "id": f"{parts[2]}/{parts[3]}",
                    "modelId": f"{parts[2]}/{parts[3]}",
                    "sha": repo.head,
                    "private": repo.private,
                    "siblings": [{"rfilename": p} for p in sorted(repo.files)],
                },
            )
        if len(parts) >= 5 and parts[2] == "resolve":
            repo = self.state.repos.get(f"{parts[0]}/{parts[1]}")
            name = "/".join(parts[4:])
            if repo is None or name not in repo.files:
                return self._send(
                    404, {"error": "Entry not found"}, headers={"X-Error-Code": "EntryNotFound"}
                )
            content = repo.files[name]
            return self._send(
                200, body=content, headers={"X-Repo-Commit": repo.head, "ETag": f'"{git_hash(content)}"'}
            )
        self._send(404, {"error": f"not implemented: GET {path}"})


def add_dataset(state: HubState, repo_id: str, files: dict[str, bytes], private: bool = False) -> Repo:
    """Serve a dataset repo (README.md, data files) as the Hub would."""
    repo = Repo(files=dict(files), private=private)
    repo.commits.append(
        {
            "oid": hashlib.sha1(repo_id.encode() + b"".join(files[k] for k in sorted(files))).hexdigest(),
            "summary": "initial",
            "files": sorted(files),
        }
    )
    state.datasets[repo_id] = repo
    return repo


def start_hub() -> tuple[ThreadingHTTPServer, HubState, str]:
    """Start the stand-in on a free port of 127.0.0.1; returns (server, state, endpoint)."""
    state = HubState()
    handler = type("BoundHandler", (Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, state, f"http://127.0.0.1:{server.server_address[1]}"
