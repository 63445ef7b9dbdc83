"""The GitHub REST calls of ``machmeter comment`` (one sticky comment on a pull request) and ``machmeter
notify`` (one issue per regression range of the nightly check).

Pull-request comments are issue comments (``/repos/{owner}/{repo}/issues/{number}/comments``). The
token is sent only in the Authorization header, only to the configured API host, and never appears in
a message: every text that leaves this module is built here, from status codes and GitHub's own
``message``, with the token redacted.

Answers worth waiting for (5xx, 429, 403 from a rate limit) are retried with exponential backoff,
honouring ``Retry-After`` and ``x-ratelimit-reset``; a comment is created at most once even when
GitHub answers 5xx after storing it (the comment is looked up again before a second try).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
import requests.auth

from machmeter import __version__
from machmeter.errors import MachmeterError

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
_SERVER_ERRORS = {500, 502, 503, 504}
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
# the characters of GitHub's tokens (ghp_…, ghs_…, github_pat_…, hex); requests would quote any other
# header value, token included, in its exception text
_TOKEN = re.compile(r"[A-Za-z0-9_.\-]+")
_MAX_PAGES = 300  # 30,000 comments: a pagination that goes on longer is a server bug
# who posts with the GITHUB_TOKEN of GitHub Actions; an installation token may not read GET /user
ACTIONS_BOT = "github-actions[bot]"


class GitHubError(MachmeterError):
    """A GitHub API call that failed; the message is one line and holds no token. ``status``: GitHub's
    HTTP status, when it answered."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class _MaybeStored(GitHubError):
    """A request that changes something got no clear answer: GitHub may have applied it."""


@dataclass(frozen=True)
class PullRequest:
    number: int
    head_sha: str | None = None


def check_repository(repository: str) -> str:
    if not _REPOSITORY.fullmatch(repository or ""):
        raise MachmeterError(f"repository {repository!r} is not OWNER/NAME")
    return repository


class _Bearer(requests.auth.AuthBase):
    def __init__(self, token: str):
        self._token = token

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "_Bearer(***)"


class GitHub:
    """A client of one repository's REST API (github.com or a GitHub Enterprise ``/api/v3`` URL)."""

    def __init__(self, repository: str, token: str, api_url: str = DEFAULT_API_URL, *, attempts: int = 5,
                 backoff: float = 1.0, max_wait: float = 120.0, timeout: float = 30.0, sleep=None, clock=None):
        self.repository = check_repository(repository)
        api_url = (api_url or DEFAULT_API_URL).rstrip("/")
        if urlsplit(api_url).scheme not in ("https", "http") or not urlsplit(api_url).netloc:
            raise MachmeterError(f"API URL {api_url!r} is not an http(s) URL")
        token = (token or "").strip()
        if not token:
            raise MachmeterError("GITHUB_TOKEN is empty")
        if not _TOKEN.fullmatch(token):
            raise MachmeterError("GITHUB_TOKEN holds characters no GitHub token has (a quoting mistake?)")
        self.api_url = api_url
        self._token = token
        self.attempts, self.backoff, self.max_wait, self.timeout = attempts, backoff, max_wait, timeout
        self._sleep = time.sleep if sleep is None else sleep
        self._clock = time.time if clock is None else clock
        self.session = requests.Session()
        # an auth object (not a header) keeps a ~/.netrc entry from replacing the token, and requests
        # drops it when a redirect leaves the host
        self.session.auth = _Bearer(token)
        self.session.headers.update({
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": f"machmeter/{__version__}",
        })

    # -- transport

    def _redact(self, text: str) -> str:
        return str(text).replace(self._token, "***")

    def _error(self, message: str, kind: type = GitHubError, status: int | None = None) -> GitHubError:
        # a server's reason phrase or message could echo anything: every text is redacted on its way out
        return kind(self._redact(message), status)

    def _where(self, method: str, url: str) -> str:
        return f"{method} {urlsplit(url).path}"

    def _is_api(self, url: str) -> bool:
        ours, theirs = urlsplit(self.api_url), urlsplit(url)
        return (theirs.scheme, theirs.netloc) == (ours.scheme, ours.netloc) and theirs.path.startswith(ours.path)

    def _url(self, path_or_url: str) -> str:
        url = path_or_url if "://" in path_or_url else self.api_url + path_or_url
        # the token goes to the API host only, whatever a Link header says
        if not self._is_api(url):
            theirs = urlsplit(url)
            raise self._error(f"refusing to send the token to {theirs.scheme}://{theirs.netloc} "
                              f"(not the API at {self.api_url})")
        return url

    def _backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1, 2, ...): exponential backoff."""
        return self.backoff * 2 ** (attempt - 1)

    def _wait_for(self, response: requests.Response, attempt: int) -> float | None:
        """Seconds to wait before trying again, or None when the answer is final."""
        status, headers = response.status_code, response.headers
        rate_limited = status == 429 or (status == 403 and (headers.get("x-ratelimit-remaining") == "0"
                                                            or "retry-after" in headers))
        if status not in _SERVER_ERRORS and not rate_limited:
            return None
        retry_after = headers.get("retry-after", "")
        if retry_after.strip().isdigit():
            return float(retry_after)
        reset = headers.get("x-ratelimit-reset", "")
        if rate_limited and reset.strip().isdigit() and headers.get("x-ratelimit-remaining") == "0":
            return max(0.0, float(reset) - self._clock()) + 1.0
        if rate_limited and status == 403:
            return 60.0  # a secondary rate limit without a hint: GitHub asks for at least a minute
        return self._backoff(attempt)

    def request(self, method: str, path_or_url: str, *, json=None, params=None, idempotent: bool = True):
        url = self._url(path_or_url)
        where = self._where(method, url)
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.session.request(method, url, json=json, params=params, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as error:
                reason = f"{where}: no answer from {urlsplit(url).netloc} ({type(error).__name__})"
                if not idempotent:
                    raise self._error(reason, _MaybeStored) from None
                if attempt == self.attempts:
                    raise self._error(f"{reason} after {attempt} attempts") from None
                self._sleep(self._backoff(attempt))
                continue
            except requests.RequestException as error:
                raise self._error(f"{where}: request failed ({type(error).__name__})") from None
            if not self._is_api(response.url):
                # requests followed a redirect elsewhere (without the token): whatever answered there is
                # not GitHub's answer, and comments listed by it must not decide which comment is edited
                theirs = urlsplit(response.url)
                raise self._error(f"{where}: redirected to {theirs.scheme}://{theirs.netloc}, not the API at "
                                  f"{self.api_url}: its answer is not used")
            wait = self._wait_for(response, attempt)
            if wait is None:
                return self._final(response, where)
            if not idempotent and response.status_code in _SERVER_ERRORS:
                raise self._error(f"{where}: GitHub answered {response.status_code}", _MaybeStored)
            if attempt == self.attempts:
                raise self._error(f"{where}: GitHub answered {response.status_code} {response.reason} "
                                  f"{attempt} times{self._said(response)}")
            if wait > self.max_wait:
                raise self._error(f"{where}: rate limited by GitHub for another {wait:.0f} s{self._said(response)}")
            self._sleep(wait)
        raise AssertionError("unreachable")

    def _said(self, response: requests.Response) -> str:
        """GitHub's own explanation, one line, redacted."""
        try:
            data = response.json()
        except ValueError:
            return ""
        if not isinstance(data, dict):
            return ""
        parts = [str(data.get("message") or "")]
        for error in data.get("errors") or []:
            if isinstance(error, dict):
                parts.append(str(error.get("message") or error.get("code") or ""))
            elif isinstance(error, str):
                parts.append(error)
        text = " ".join(self._redact(" ".join(p for p in parts if p)).split())
        return f" — GitHub said: {text[:300]}" if text else ""

    def _final(self, response: requests.Response, where: str) -> requests.Response:
        status = response.status_code
        if status < 400:
            return response
        said = self._said(response)
        meaning = {
            401: "the token is missing, expired or revoked",
            403: "the token may not do this (a workflow job needs `permissions: pull-requests: write`)",
            404: "no such repository or pull request, or the token cannot see it",
            422: "GitHub rejected the request",
        }.get(status, "the request failed")
        raise self._error(f"{where}: GitHub answered {status} {response.reason}: {meaning}{said}", status=status)

    def _json(self, response: requests.Response, where: str, kind: type):
        try:
            data = response.json()
        except ValueError:
            raise self._error(f"{where}: GitHub answered {response.status_code} with something other than JSON") from None
        if not isinstance(data, kind):
            raise self._error(f"{where}: GitHub answered with an unexpected {type(data).__name__}")
        return data

    def paginate(self, path: str, params: dict | None = None):
        """Every item of a listing, following the Link header's ``next`` page."""
        url, params = self._url(path), {"per_page": 100, **(params or {})}
        for _ in range(_MAX_PAGES):
            response = self.request("GET", url, params=params)
            yield from self._json(response, self._where("GET", url), list)
            url, params = response.links.get("next", {}).get("url"), None
            if not url:
                return
        raise self._error(f"{self._where('GET', path)}: more than {_MAX_PAGES} pages")

    # -- endpoints

    def own_login(self) -> str:
        """The login of the comments this token writes: GET /user; for an installation token, which may
        not read it (403), the Actions bot (another app's token needs ``--author '<app>[bot]'``).
        A "[bot]" login is never a person's, so a human's comment is never taken for machmeter's."""
        try:
            data = self._json(self.request("GET", "/user"), "GET /user", dict)
        except GitHubError as error:
            if error.status == 403:
                return ACTIONS_BOT
            raise
        login = data.get("login")
        if not isinstance(login, str) or not login:
            raise self._error("GET /user: GitHub answered without a login")
        return login

    def _repo(self, suffix: str) -> str:
        return f"/repos/{self.repository}{suffix}"

    def issue_comments(self, number: int):
        return self.paginate(self._repo(f"/issues/{number}/comments"))

    def create_comment(self, number: int, body: str) -> dict:
        path = self._repo(f"/issues/{number}/comments")
        response = self.request("POST", path, json={"body": body}, idempotent=False)
        return self._json(response, self._where("POST", path), dict)

    def update_comment(self, comment_id: int, body: str) -> dict:
        path = self._repo(f"/issues/comments/{comment_id}")
        return self._json(self.request("PATCH", path, json={"body": body}), self._where("PATCH", path), dict)

    def issues(self, creator: str, state: str = "all"):
        """The issues (never pull requests, which the listing also holds) that ``creator`` opened."""
        for issue in self.paginate(self._repo("/issues"), {"state": state, "creator": creator}):
            if isinstance(issue, dict) and "pull_request" not in issue:
                yield issue

    def create_issue(self, title: str, body: str) -> dict:
        path = self._repo("/issues")
        response = self.request("POST", path, json={"title": title, "body": body}, idempotent=False)
        return self._json(response, self._where("POST", path), dict)

    def update_issue(self, number: int, **fields) -> dict:
        """PATCH an issue's title, body, state (and state_reason): the same answer however often it is sent."""
        path = self._repo(f"/issues/{number}")
        return self._json(self.request("PATCH", path, json=fields), self._where("PATCH", path), dict)

    def pull_request(self, number: int) -> dict:
        path = self._repo(f"/pulls/{number}")
        return self._json(self.request("GET", path), self._where("GET", path), dict)

    def open_pull_requests(self, head: str) -> list[dict]:
        """Open pull requests whose head is ``owner:branch`` (forks included)."""
        return list(self.paginate(self._repo("/pulls"), {"state": "open", "head": head}))


def find_comment(client: GitHub, number: int, marker: str, author: str | None = None) -> dict | None:
    """The oldest comment that starts with ``marker`` (by ``author`` when given): machmeter's one comment."""
    for comment in client.issue_comments(number):
        if not isinstance(comment, dict):
            continue
        login = (comment.get("user") or {}).get("login") if isinstance(comment.get("user"), dict) else None
        if str(comment.get("body") or "").startswith(marker) and (author is None or login == author):
            return comment
    return None


def upsert_comment(client: GitHub, number: int, body: str, marker: str, author: str | None = None):
    """Create machmeter's comment on the pull request, or edit the one there, by ``author`` (default:
    the token's own login; anyone may quote the marker): returns
    (``"created"`` | ``"updated"`` | ``"unchanged"``, the comment)."""
    if not body.startswith(marker):
        raise ValueError("the body must start with the marker that finds it again")
    author = author or client.own_login()

    def update(existing: dict):
        if existing.get("body") == body:
            return "unchanged", existing
        if not isinstance(existing.get("id"), int):
            raise GitHubError("GitHub listed machmeter's comment without an id")
        return "updated", client.update_comment(existing["id"], body)

    return create_once(client, lambda: find_comment(client, number, marker, author), update,
                       lambda: client.create_comment(number, body), "the comment")


def create_once(client: GitHub, find, update, create, what: str):
    """``update(found)`` of what ``find()`` finds, else ``("created", create())``: created at most once
    even when GitHub answers 5xx after storing it (it is looked for again before a second try)."""
    problem = None
    for attempt in range(1, client.attempts + 1):
        existing = find()
        if existing is not None:
            return update(existing)
        try:
            return "created", create()
        except _MaybeStored as error:
            # it may be stored after all: the next round looks for it before creating another
            problem = error
            if attempt < client.attempts:
                client._sleep(client._backoff(attempt))
    raise GitHubError(f"{problem} {client.attempts} times: {what} was not posted")


def _head_sha(pull: dict) -> str | None:
    head = pull.get("head") if isinstance(pull, dict) else None
    return head.get("sha") if isinstance(head, dict) else None


def pull_request_from_event(event_name: str, event: dict, client: GitHub | None, source: str) -> PullRequest:
    """The pull request a GitHub Actions event is about. For ``workflow_run`` the event's own
    ``pull_requests`` (same-repository branches) or, for forks where GitHub leaves that empty, the open
    pull request whose head is the run's head commit: never anything the triggering run wrote."""
    def fail(problem: str):
        raise MachmeterError(f"{source}: {problem} (pass --pr)")

    if not isinstance(event, dict):
        fail("not a GitHub event")
    pull = event.get("pull_request")
    if isinstance(pull, dict) and isinstance(pull.get("number"), int):
        return PullRequest(pull["number"], _head_sha(pull))
    if event_name != "workflow_run" or not isinstance(event.get("workflow_run"), dict):
        fail(f"a {event_name or 'unknown'} event names no pull request")
    run = event["workflow_run"]
    if run.get("event") not in ("pull_request", "pull_request_target"):
        fail(f"the workflow run was triggered by {run.get('event')!r}, not by a pull request")
    head_sha = run.get("head_sha")
    if not isinstance(head_sha, str):
        fail("the workflow run has no head_sha")
    for candidate in run.get("pull_requests") or []:
        if isinstance(candidate, dict) and _head_sha(candidate) == head_sha and isinstance(candidate.get("number"), int):
            return PullRequest(candidate["number"], head_sha)
    owner = ((run.get("head_repository") or {}).get("owner") or {}).get("login")
    branch = run.get("head_branch")
    if client is None or not isinstance(owner, str) or not isinstance(branch, str):
        fail(f"no pull request of the workflow run's head {head_sha[:12]} in the event")
    matches = [p["number"] for p in client.open_pull_requests(f"{owner}:{branch}")
               if _head_sha(p) == head_sha and isinstance(p.get("number"), int)]
    if len(matches) != 1:
        fail(f"{len(matches)} open pull requests have head {head_sha[:12]}")
    return PullRequest(matches[0], head_sha)
