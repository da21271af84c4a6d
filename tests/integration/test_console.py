"""The web console over HTTP on the local stack: GET /console and its assets are public, typed,
cacheable and locked down by their headers; the API the console reads still wants a credential.
Last, the query function's own replies on a stage, as API Gateway gets them. (tests/browser/
drives the console itself in Chromium.)"""

import base64
import gzip
import re
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest

from tests.support.handlers import invoke, sample_event, set_headers
from tests.support.local_stack import StackSession

TYPES_BY_SUFFIX = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}
MODULE_IMPORT = re.compile(r'^import .* from "(\./[\w.-]+\.js)";$', re.MULTILINE)


class PageParts(HTMLParser):
    """What a page loads (script and link URLs) and anything inline a strict CSP would block."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            if attributes.get("src"):
                self.urls.append(str(attributes["src"]))
            else:
                self.inline.append("<script> without src")
        if tag == "link" and attributes.get("href"):
            self.urls.append(str(attributes["href"]))
        if tag == "style":
            self.inline.append("<style>")
        self.inline += [f"{tag} {name}=" for name in attributes if name == "style"]
        self.inline += [f"{tag} {name}=" for name in attributes if name.startswith("on")]


def page_parts(http: StackSession) -> PageParts:
    parts = PageParts()
    parts.feed(http.get("/console").text)
    return parts


def asset_url(http: StackSession, name: str) -> str:
    """An asset's URL in the version the page names."""
    app_js = next(url for url in page_parts(http).urls if url.endswith("/app.js"))
    return urljoin(f"{http.base_url}/console", app_js.replace("app.js", name))


def assert_locked_down(reply) -> None:
    policy = reply.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["Referrer-Policy"] == "no-referrer"


def test_the_console_page_is_public_html_under_a_strict_content_security_policy(http):
    reply = http.get("/console")  # no credential
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
    assert_locked_down(reply)
    assert reply.headers["Cache-Control"] == "no-cache"
    assert reply.headers["ETag"].startswith('W/"')
    parts = page_parts(http)
    assert parts.inline == []
    assert any(url.endswith("/app.js") for url in parts.urls)


def test_the_page_names_its_assets_relative_to_itself_so_it_works_under_a_stage(http):
    parts = page_parts(http)
    for url in parts.urls:
        assert not url.startswith(("/", "http:", "https:", "//")), url
        # On execute-api, the page is /Prod/console: its assets stay under the stage.
        assert urljoin("https://api.example/Prod/console", url).startswith(
            "https://api.example/Prod/console/assets/"
        )


def test_every_asset_and_module_is_served_typed_and_cached_for_a_year(http):
    page_url = f"{http.base_url}/console"
    pending = [urljoin(page_url, url) for url in page_parts(http).urls]
    served = set()
    while pending:
        url = pending.pop()
        if url in served:
            continue
        reply = http.get(url)
        served.add(url)
        assert reply.status_code == 200, url
        suffix = "." + url.rpartition(".")[2]
        assert reply.headers["Content-Type"] == TYPES_BY_SUFFIX[suffix], url
        assert reply.headers["Cache-Control"] == "public, max-age=31536000, immutable", url
        assert reply.headers["ETag"].startswith('W/"'), url
        assert_locked_down(reply)
        if suffix == ".js":  # the modules each module imports, which the page does not name
            pending += [urljoin(url, name) for name in MODULE_IMPORT.findall(reply.text)]
    names = {url.rpartition("/")[2] for url in served}
    assert {"app.js", "api.js", "events.js", "stats.js", "alerts.js", "tracker.js"} <= names
    assert {"uplot-1.6.32.min.js", "uplot-1.6.32.min.css", "console.css"} <= names


def test_the_vendored_chart_library_is_small_compressed_and_its_licence_is_served(http):
    reply = http.get(asset_url(http, "uplot-1.6.32.min.js"), stream=True)
    on_the_wire = len(reply.raw.read(decode_content=False))
    assert reply.headers["Content-Encoding"] == "gzip"
    assert on_the_wire < 30_000
    licence = http.get(asset_url(http, "uplot-LICENSE.txt"))
    assert licence.status_code == 200
    assert "MIT License" in licence.text


@pytest.mark.parametrize("kind", ["page", "asset"])
def test_a_cached_copy_is_revalidated_with_its_etag(http, kind):
    url = f"{http.base_url}/console" if kind == "page" else asset_url(http, "console.css")
    first = http.get(url)
    etag = first.headers["ETag"]
    again = http.get(url, headers={"If-None-Match": f'"an-older-one", {etag}'})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag
    changed = http.get(url, headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200
    assert changed.content == first.content


def test_an_unknown_asset_or_another_versions_asset_is_a_json_404(http):
    app_js = asset_url(http, "app.js")
    for url in [
        asset_url(http, "nothing.js"),
        asset_url(http, "index.html"),  # the page's template is not an asset
        re.sub(r"/[0-9a-f]{12}/app\.js$", "/000000000000/app.js", app_js),  # another version
    ]:
        assert url != app_js
        reply = http.get(url)
        assert reply.status_code == 404, url
        assert reply.headers["Content-Type"] == "application/json"
        assert reply.json()["error"] == "NOT_FOUND"


def test_the_page_needs_no_credential_but_the_api_it_reads_still_does(http):
    assert http.get("/console").status_code == 200
    refused = http.get("/apps")
    assert refused.status_code == 401
    assert refused.json()["error"] == "UNAUTHORIZED"
    assert http.get(f"/apps/{http.stack.default_app_id}/events").status_code == 401
    assert http.get("/apps", headers=http.admin).status_code == 200


# ---------------------------------------------------------------- the function, on a stage


def on_stage(path: str, headers: dict[str, str | None]) -> dict:
    """GET `path` as API Gateway passes it from https://…/Prod<path> (a public route)."""
    event = set_headers(sample_event("health"), headers)
    event["path"] = event["requestContext"]["resourcePath"] = event["resource"] = path
    event["requestContext"]["path"] = f"/Prod{path}"
    return invoke("query", event)


def test_on_a_stage_the_function_gzips_for_api_gateway_and_revalidates_without_a_body(aws):
    page = on_stage("/console", {"Accept-Encoding": None})
    assert (page["statusCode"], page["isBase64Encoded"]) == (200, False)
    asset = re.search(r'src="(console/assets/[0-9a-f]{12}/app\.js)"', page["body"])
    assert asset, "the page names app.js in its version"

    zipped = on_stage(f"/{asset[1]}", {"Accept-Encoding": "gzip, br"})
    assert zipped["statusCode"] == 200
    assert zipped["isBase64Encoded"] is True  # binary for API Gateway (BinaryMediaTypes */*)
    assert zipped["multiValueHeaders"]["Content-Encoding"] == ["gzip"]
    script = gzip.decompress(base64.b64decode(zipped["body"])).decode()
    assert 'from "./api.js"' in script

    etag = zipped["multiValueHeaders"]["ETag"][0]
    unchanged = on_stage(f"/{asset[1]}", {"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert unchanged["statusCode"] == 304
    assert unchanged["body"] == ""  # not gzip's 20 bytes of nothing
    assert "Content-Encoding" not in unchanged["multiValueHeaders"]

    missing = on_stage("/console/assets/000000000000/app.js", {})
    assert missing["statusCode"] == 404
