"""machmeter.github against a real HTTP server on 127.0.0.1 that answers like the GitHub REST endpoints
machmeter uses: issue comments (listed page by page through the Link header, created, edited), issues
(listed by creator, opened, edited, closed), pull requests, and the failure answers GitHub gives
(401/403/404/422, 5xx, rate limits)."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from machmeter.errors import MachmeterError
from machmeter.github import GitHub, GitHubError, find_comment, pull_request_from_event, upsert_comment

TOKEN = "ghs_Secret0Token1Value2For3Tests"
BOT = "github-actions[bot]"
MARKER = "<!-- machmeter -->"
BODY_LIMIT = 65_536


class FakeGitHub:
    """GitHub's issue-comment and pull-request endpoints for one repository, in memory, over HTTP.

    ``fail(method, path_pattern, status, ...)`` scripts the next answer to a matching request (with
    ``apply=True`` the request takes effect anyway, as when GitHub stores a comment and answers 502)."""

    def __init__(self, repository="octo/repo", token=TOKEN, prefix=""):
        self.repository, self.token, self.prefix = repository, token, prefix
        self.comments: list[dict] = []
        self.user: str | None = None  # GET /user's login; None: an installation token's 403, as GITHUB_TOKEN's
        self.pulls: dict[int, dict] = {}
        self.issues: dict[int, dict] = {}  # issues (never pull requests), by number
        self.requests: list[tuple[str, str, dict]] = []
        self.script: list[dict] = []
        self._next_id = 1000
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status, payload=None, headers=None):
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                with fake._lock:
                    answer = fake.handle(method, self.path, dict(self.headers), raw)
                self._answer(*answer)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def do_PATCH(self):
                self._handle("PATCH")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._closed = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.prefix}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        if not self._closed:
            self._closed = True
            self.server.shutdown()
            self.server.server_close()

    # -- test set-up

    def add_comment(self, number, body, login="someone"):
        self._next_id += 1
        comment = {"id": self._next_id, "issue": number, "body": body, "user": {"login": login, "type": "User"},
                   "html_url": f"https://github.com/{self.repository}/pull/{number}#issuecomment-{self._next_id}"}
        self.comments.append(comment)
        return comment

    def fail(self, method, pattern, status, payload=None, headers=None, apply=False):
        self.script.append({"method": method, "pattern": re.compile(pattern), "status": status,
                            "payload": payload if payload is not None else {"message": f"scripted {status}"},
                            "headers": headers or {}, "apply": apply})

    def on(self, number):
        return [c for c in self.comments if c["issue"] == number]

    def calls(self, method):
        return [r for r in self.requests if r[0] == method]

    # -- the API

    def handle(self, method, raw_path, headers, raw_body):
        split = urlsplit(raw_path)
        path, query = split.path, {k: v[-1] for k, v in parse_qs(split.query).items()}
        self.requests.append((method, path, query))
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
        if headers.get("Accept") != "application/vnd.github+json":
            return 415, {"message": "Unsupported media type"}
        scripted = next((s for s in self.script if s["method"] == method and s["pattern"].search(path)), None)
        if scripted is not None:
            self.script.remove(scripted)
            if scripted["apply"]:
                self._route(method, path, query, raw_body)
            return scripted["status"], scripted["payload"], scripted["headers"]
        return self._route(method, path, query, raw_body)

    def _route(self, method, path, query, raw_body):
        full_path = path
        if self.prefix:
            if not path.startswith(self.prefix + "/"):
                return 404, {"message": "Not Found"}
            path = path[len(self.prefix):]
        if path == "/user" and method == "GET":
            if self.user is None:
                return 403, {"message": "Resource not accessible by integration"}
            return 200, {"login": self.user, "type": "User"}
        base = f"/repos/{self.repository}"
        if not path.startswith(base + "/"):
            return 404, {"message": "Not Found"}
        rest = path[len(base):]
        body = json.loads(raw_body or b"{}")
        if (m := re.fullmatch(r"/issues/(\d+)/comments", rest)) and method == "GET":
            return self._page(self.on(int(m[1])), full_path, query)
        if rest == "/issues" and method == "GET":
            found = [i for i in self.issues.values() if query.get("state", "open") in ("all", i["state"])
                     and (not query.get("creator") or i["user"]["login"] == query["creator"])]
            # GitHub lists pull requests among the issues
            found += [{**p, "pull_request": {}, "user": {"login": BOT}, "body": ""} for p in self.pulls.values()]
            return self._page(found, full_path, query)
        if rest == "/issues" and method == "POST":
            if not isinstance(body.get("title"), str) or not body["title"] or len(body["title"]) > 256:
                return 422, {"message": "Validation Failed", "errors": ["title"]}
            problem = self._invalid(body)
            if problem:
                return problem
            return 201, self.add_issue(body["title"], body["body"], login=self.user or BOT)
        if (m := re.fullmatch(r"/issues/(\d+)", rest)) and method == "PATCH":
            issue = self.issues.get(int(m[1]))
            if issue is None:
                return 404, {"message": "Not Found"}
            if "body" in body and self._invalid(body):
                return self._invalid(body)
            if body.get("state", "open") not in ("open", "closed"):
                return 422, {"message": "Validation Failed"}
            issue.update({k: v for k, v in body.items() if k in ("title", "body", "state", "state_reason")})
            return 200, issue
        if (m := re.fullmatch(r"/issues/(\d+)/comments", rest)) and method == "POST":
            if int(m[1]) not in self.pulls and int(m[1]) not in self.issues:
                return 404, {"message": "Not Found"}
            problem = self._invalid(body)
            if problem:
                return problem
            comment = self.add_comment(int(m[1]), body["body"], login=self.user or BOT)
            return 201, comment
        if (m := re.fullmatch(r"/issues/comments/(\d+)", rest)) and method == "PATCH":
            comment = next((c for c in self.comments if c["id"] == int(m[1])), None)
            if comment is None:
                return 404, {"message": "Not Found"}
            problem = self._invalid(body)
            if problem:
                return problem
            comment["body"] = body["body"]
            return 200, comment
        if (m := re.fullmatch(r"/pulls/(\d+)", rest)) and method == "GET":
            pull = self.pulls.get(int(m[1]))
            return (200, pull) if pull else (404, {"message": "Not Found"})
        if rest == "/pulls" and method == "GET":
            found = [p for p in self.pulls.values() if p["state"] == query.get("state", "open")
                     and (not query.get("head") or query["head"] == f"{p['head']['repo_owner']}:{p['head']['ref']}")]
            return self._page(found, full_path, query)
        return 404, {"message": "Not Found"}

    def _invalid(self, body):
        if not isinstance(body.get("body"), str):
            return 422, {"message": "Invalid request.", "errors": ["body is missing"]}
        if len(body["body"]) > BODY_LIMIT:
            return 422, {"message": "Validation Failed", "errors": [
                {"resource": "IssueComment", "code": "custom", "field": "body",
                 "message": f"body is too long (maximum is {BODY_LIMIT} characters)"}]}
        return None

    def _page(self, items, path, query):
        per_page = min(int(query.get("per_page", 30)), 100)
        page = int(query.get("page", 1))
        last = max(1, -(-len(items) // per_page))
        links = []
        extra = "".join(f"&{k}={v}" for k, v in query.items() if k not in ("page", "per_page"))
        for rel, target in (("next", page + 1), ("last", last)):
            if page < last:
                links.append(f'<http://127.0.0.1:{self.server.server_address[1]}{path}?per_page={per_page}'
                             f'&page={target}{extra}>; rel="{rel}"')
        headers = {"Link": ", ".join(links)} if links else {}
        return 200, items[(page - 1) * per_page:page * per_page], headers

    def add_issue(self, title, body, login="someone", state="open"):
        number = max([0, *self.issues, *self.pulls]) + 1
        self.issues[number] = {"number": number, "title": title, "body": body, "state": state,
                               "user": {"login": login, "type": "User"},
                               "html_url": f"https://github.com/{self.repository}/issues/{number}"}
        return self.issues[number]

    def add_pull(self, number, head_sha, ref="feature", owner="octo"):
        self.pulls[number] = {"number": number, "state": "open",
                              "head": {"sha": head_sha, "ref": ref, "repo_owner": owner}}


@pytest.fixture
def github():
    with FakeGitHub() as fake:
        fake.add_pull(7, "a" * 40)
        yield fake


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


def _client(fake, token=TOKEN, **options):
    sleeps = Sleeps()
    options.setdefault("clock", lambda: 1_000_000.0)
    return GitHub(fake.repository, token, fake.url, sleep=sleeps, **options), sleeps


def test_listing_follows_the_link_header_page_by_page(github):
    for index in range(250):
        github.add_comment(7, f"comment {index}")
    mine = github.add_comment(7, MARKER + "\nold verdict", login=BOT)
    client, _ = _client(github)
    assert find_comment(client, 7, MARKER) == mine
    pages = [q for m, p, q in github.requests if m == "GET"]
    assert [q.get("page", "1") for q in pages] == ["1", "2", "3"]
    assert all(q["per_page"] == "100" for q in pages)


def test_one_comment_created_then_edited_then_left_alone(github):
    client, _ = _client(github)
    assert upsert_comment(client, 7, MARKER + "\nfirst", MARKER)[0] == "created"
    action, comment = upsert_comment(client, 7, MARKER + "\nsecond", MARKER)
    assert action == "updated" and comment["body"].endswith("second")
    assert upsert_comment(client, 7, MARKER + "\nsecond", MARKER)[0] == "unchanged"
    assert [c["body"] for c in github.on(7)] == [MARKER + "\nsecond"]
    assert len(github.calls("POST")) == 1 and len(github.calls("PATCH")) == 1


def test_a_marker_in_someone_elses_comment_is_not_machmeters_when_the_author_is_given(github):
    github.add_comment(7, MARKER + "\nforged by a contributor", login="mallory")
    client, _ = _client(github)
    action, _ = upsert_comment(client, 7, MARKER + "\nreal", MARKER, author=BOT)
    assert action == "created"
    assert [c["user"]["login"] for c in github.on(7)] == ["mallory", BOT]
    assert github.on(7)[0]["body"].endswith("forged by a contributor")


def test_without_an_author_a_humans_comment_quoting_the_marker_is_never_edited(github):
    github.add_comment(7, MARKER + "\nquoted by a contributor", login="mallory")
    client, _ = _client(github)
    assert upsert_comment(client, 7, MARKER + "\nreal", MARKER)[0] == "created"  # GITHUB_TOKEN: the Actions bot
    assert upsert_comment(client, 7, MARKER + "\nagain", MARKER)[0] == "updated"
    assert [(c["user"]["login"], c["body"].split("\n")[1]) for c in github.on(7)] == [
        ("mallory", "quoted by a contributor"), (BOT, "again")]


def test_without_an_author_a_personal_token_edits_its_own_comment(github):
    github.user = "octo-maintainer"
    github.add_comment(7, MARKER + "\nquoted", login="mallory")
    mine = github.add_comment(7, MARKER + "\nold", login="octo-maintainer")
    client, _ = _client(github)
    action, comment = upsert_comment(client, 7, MARKER + "\nnew", MARKER)
    assert action == "updated" and comment["id"] == mine["id"]
    assert github.on(7)[0]["body"].endswith("quoted")


def test_an_answer_from_a_host_a_redirect_leads_to_is_not_trusted(github):
    # another server (another port: another host) that lists a forged comment to edit
    with FakeGitHub(token="") as elsewhere:
        elsewhere.handle = lambda method, raw_path, headers, raw_body: (
            200, [{"id": 1, "body": MARKER + "\nforged", "user": {"login": BOT}}])
        github.fail("GET", r"/comments$", 302, {}, headers={"Location": elsewhere.url + "/list"})
        client, _ = _client(github)
        with pytest.raises(GitHubError, match=r"redirected to http://127\.0\.0\.1:\d+, not the API .* not used"):
            upsert_comment(client, 7, MARKER + "\nreal", MARKER, author=BOT)
    assert github.calls("PATCH") == [] and github.calls("POST") == []


def test_the_marker_must_open_the_comment(github):
    github.add_comment(7, f"quoting the bot: {MARKER}", login=BOT)
    client, _ = _client(github)
    assert upsert_comment(client, 7, MARKER + "\nverdict", MARKER, author=BOT)[0] == "created"


def test_server_errors_are_retried_with_exponential_backoff(github):
    github.fail("GET", r"/comments$", 502)
    github.fail("GET", r"/comments$", 503)
    github.fail("GET", r"/comments$", 500)
    client, sleeps = _client(github, backoff=0.5)
    assert find_comment(client, 7, MARKER) is None
    assert sleeps == [0.5, 1.0, 2.0]


def test_retry_after_is_honoured_on_429_and_secondary_rate_limits(github):
    github.fail("GET", r"/comments$", 429, headers={"Retry-After": "3"})
    github.fail("GET", r"/comments$", 403, {"message": "You have exceeded a secondary rate limit"},
                headers={"Retry-After": "7"})
    client, sleeps = _client(github)
    assert find_comment(client, 7, MARKER) is None
    assert sleeps == [3.0, 7.0]


def test_primary_rate_limit_waits_until_the_reset(github):
    github.fail("PATCH", r"/issues/comments/", 403, {"message": "API rate limit exceeded"},
                headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(1_000_000 + 20)})
    comment = github.add_comment(7, MARKER + "\nold", login=BOT)
    client, sleeps = _client(github)
    assert upsert_comment(client, 7, MARKER + "\nnew", MARKER)[0] == "updated"
    assert sleeps == [21.0] and comment["body"].endswith("new")


def test_a_rate_limit_reset_far_away_is_a_clear_error_not_an_hour_of_waiting(github):
    github.fail("GET", r"/comments$", 403, {"message": "API rate limit exceeded for installation"},
                headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(1_000_000 + 3600)})
    client, sleeps = _client(github)
    with pytest.raises(GitHubError, match=r"rate limited by GitHub for another 3601 s .*API rate limit exceeded"):
        find_comment(client, 7, MARKER)
    assert sleeps == []


def test_persistent_server_errors_give_up_with_one_line(github):
    for _ in range(5):
        github.fail("GET", r"/comments$", 502, {"message": "Server Error"})
    client, sleeps = _client(github)
    with pytest.raises(GitHubError) as error:
        find_comment(client, 7, MARKER)
    assert str(error.value) == ("GET /repos/octo/repo/issues/7/comments: GitHub answered 502 Bad Gateway 5 times"
                                " — GitHub said: Server Error")
    assert len(sleeps) == 4


def test_a_comment_stored_despite_a_502_is_not_created_twice(github):
    github.fail("POST", r"/issues/7/comments$", 502, apply=True)
    client, sleeps = _client(github)
    action, comment = upsert_comment(client, 7, MARKER + "\nverdict", MARKER)
    assert action == "unchanged" and comment["body"] == MARKER + "\nverdict"
    assert len(github.on(7)) == 1 and len(github.calls("POST")) == 1 and sleeps == [1.0]


def test_a_comment_lost_to_a_502_is_created_on_the_next_round(github):
    github.fail("POST", r"/issues/7/comments$", 502)
    client, _ = _client(github)
    assert upsert_comment(client, 7, MARKER + "\nverdict", MARKER)[0] == "created"
    assert len(github.on(7)) == 1 and len(github.calls("POST")) == 2


def test_a_create_that_keeps_failing_gives_up_without_a_duplicate(github):
    for _ in range(5):
        github.fail("POST", r"/issues/7/comments$", 502)
    client, sleeps = _client(github)
    with pytest.raises(GitHubError, match=r"^POST /repos/octo/repo/issues/7/comments: GitHub answered 502 5 times: "
                                          r"the comment was not posted$"):
        upsert_comment(client, 7, MARKER + "\nverdict", MARKER)
    assert github.on(7) == [] and len(github.calls("POST")) == 5 and sleeps == [1.0, 2.0, 4.0, 8.0]


@pytest.mark.parametrize("status, payload, expected", [
    (401, {"message": "Bad credentials"}, "401 Unauthorized: the token is missing, expired or revoked"),
    (403, {"message": "Resource not accessible by integration"},
     "403 Forbidden: the token may not do this (a workflow job needs `permissions: pull-requests: write`)"
     " — GitHub said: Resource not accessible by integration"),
    (404, {"message": "Not Found"}, "404 Not Found: no such repository or pull request, or the token cannot see it"),
    (422, {"message": "Validation Failed", "errors": [{"message": "body is too long"}]},
     "422 Unprocessable Entity: GitHub rejected the request — GitHub said: Validation Failed body is too long"),
])
def test_client_errors_are_one_clear_line_and_not_retried(github, status, payload, expected):
    github.fail("POST", r"/comments$", status, payload)
    client, sleeps = _client(github)
    with pytest.raises(GitHubError) as error:
        upsert_comment(client, 7, MARKER + "\nverdict", MARKER)
    message = str(error.value)
    assert message.startswith("POST /repos/octo/repo/issues/7/comments: GitHub answered ") and expected in message
    assert "\n" not in message and sleeps == [] and TOKEN not in message


def test_a_wrong_token_is_refused_by_the_server(github):
    client, _ = _client(github, token="ghs_not_the_right_one")
    with pytest.raises(GitHubError, match="401 Unauthorized"):
        find_comment(client, 7, MARKER)


def test_the_token_never_appears_in_an_error_even_when_github_echoes_it(github):
    github.fail("PATCH", r"/issues/comments/", 422, {"message": f"token {TOKEN} is not allowed",
                                                      "errors": [f"Bearer {TOKEN}"]})
    github.add_comment(7, MARKER + "\nold", login=BOT)
    client, _ = _client(github)
    with pytest.raises(GitHubError) as error:
        upsert_comment(client, 7, MARKER + "\nnew", MARKER)
    assert TOKEN not in str(error.value) and "token *** is not allowed" in str(error.value)
    assert TOKEN not in repr(client.session.auth)


def test_a_token_with_a_newline_is_refused_without_echoing_it(github):
    with pytest.raises(MachmeterError) as error:
        GitHub("octo/repo", TOKEN + "\nX-Injected: 1", github.url)
    assert TOKEN not in str(error.value) and "characters no GitHub token has" in str(error.value)


def test_the_token_is_never_sent_to_a_host_a_link_header_names(github):
    github.fail("GET", r"/comments$", 200, [], headers={"Link": '<http://127.0.0.2:1/steal?page=2>; rel="next"'})
    client, _ = _client(github)
    with pytest.raises(GitHubError, match=r"refusing to send the token to http://127.0.0.2:1"):
        find_comment(client, 7, MARKER)


def test_no_answer_at_all_is_retried_then_reported(github):
    port = github.server.server_address[1]
    github.__exit__()  # nothing listens on the port any more
    client = GitHub("octo/repo", TOKEN, f"http://127.0.0.1:{port}", sleep=Sleeps(), attempts=3)
    with pytest.raises(GitHubError, match=r"^GET /repos/octo/repo/issues/7/comments: no answer from "
                                          r"127\.0\.0\.1:\d+ \(ConnectionError\) after 3 attempts$"):
        find_comment(client, 7, MARKER)
    assert client._sleep == [1.0, 2.0]


def test_an_enterprise_api_url_with_a_path_works_page_by_page():
    with FakeGitHub(prefix="/api/v3") as fake:
        fake.add_pull(3, "b" * 40)
        for index in range(120):
            fake.add_comment(3, f"c{index}")
        client, _ = _client(fake)
        assert client.api_url.endswith("/api/v3")
        assert upsert_comment(client, 3, MARKER + "\nx", MARKER)[0] == "created"
        assert all(path.startswith("/api/v3/repos/octo/repo/") or path == "/api/v3/user"
                   for _, path, _ in fake.requests)
        assert len(fake.on(3)) == 121


def test_repository_and_api_url_are_checked():
    with pytest.raises(MachmeterError, match="not OWNER/NAME"):
        GitHub("octo", TOKEN)
    with pytest.raises(MachmeterError, match="not an http"):
        GitHub("octo/repo", TOKEN, "ftp://example.com")


# -- which pull request an event is about

def _workflow_run(head_sha, pulls=(), event="pull_request", owner="octo", branch="feature"):
    return {"workflow_run": {"event": event, "head_sha": head_sha, "head_branch": branch,
                             "head_repository": {"owner": {"login": owner}},
                             "pull_requests": [{"number": n, "head": {"sha": s}} for n, s in pulls]}}


def test_pull_request_event_names_its_number():
    event = {"pull_request": {"number": 12, "head": {"sha": "c" * 40}}}
    pull = pull_request_from_event("pull_request", event, None, "event.json")
    assert (pull.number, pull.head_sha) == (12, "c" * 40)


def test_workflow_run_takes_the_pull_request_whose_head_is_the_run_head():
    event = _workflow_run("d" * 40, pulls=[(4, "e" * 40), (5, "d" * 40)])
    assert pull_request_from_event("workflow_run", event, None, "event.json").number == 5


def test_workflow_run_from_a_fork_asks_the_api_and_checks_the_head(github):
    github.add_pull(9, "f" * 40, ref="patch-1", owner="forker")
    github.add_pull(10, "0" * 40, ref="patch-1", owner="someone-else")
    client, _ = _client(github)
    event = _workflow_run("f" * 40, owner="forker", branch="patch-1")
    assert pull_request_from_event("workflow_run", event, client, "event.json").number == 9
    assert ("GET", "/repos/octo/repo/pulls", {"per_page": "100", "state": "open", "head": "forker:patch-1"}) \
        in github.requests
    moved_on = _workflow_run("1" * 40, owner="forker", branch="patch-1")  # the branch has a newer head now
    with pytest.raises(MachmeterError, match=r"event.json: 0 open pull requests have head 111111111111"):
        pull_request_from_event("workflow_run", moved_on, client, "event.json")


@pytest.mark.parametrize("name, event, message", [
    ("push", {"ref": "refs/heads/main"}, "a push event names no pull request"),
    ("workflow_run", _workflow_run("a" * 40, event="push"), "triggered by 'push', not by a pull request"),
    ("workflow_run", _workflow_run("a" * 40, owner=None), "no pull request of the workflow run's head"),
])
def test_events_without_a_pull_request_are_one_line_errors(name, event, message):
    with pytest.raises(MachmeterError, match=re.escape(message)) as error:
        pull_request_from_event(name, event, None, "/tmp/event.json")
    assert str(error.value).startswith("/tmp/event.json: ") and str(error.value).endswith("(pass --pr)")
