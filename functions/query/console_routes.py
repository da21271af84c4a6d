"""The web console: GET /console (the page) and GET /console/assets/{version}/{name} (its scripts,
styles and the vendored uPlot), all public: the page holds no data, and every read it makes goes
through the API with the credential the user signs in with (docs/console.md).

The files are committed under console/ beside this module. `version` is a hash of all of them, so
an asset's URL changes whenever any file does: assets are cached for a year, the page is
revalidated (ETag) on every load. The page names its assets relative to its own URL, and modules
import each other relatively, so the console works under a stage prefix (/Prod/console) as well
as at the root of a custom domain or the local stack.
"""

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from eventlog_api import rest_event

from eventlog.base.errors import NotFoundError

router = Router()

CONSOLE_DIR = Path(__file__).with_name("console")
ASSETS_DIR = CONSOLE_DIR / "assets"
VERSION_PLACEHOLDER = "{{version}}"

# No inline script or style, nothing from another origin; the API is on the page's own origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
PAGE_CACHE_CONTROL = "no-cache"  # revalidate: a new deployment's page names new asset URLs
ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"
ASSET_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
}

PAGE_RESPONSE: dict[int, OpenAPIResponse] = {
    200: {
        "description": "The console's page (its data comes from the API, with the user's key)",
        "content": {"text/html": {"schema": {"type": "string"}}},
    },
    304: {"description": "Not modified (If-None-Match named the page's ETag)"},
}
ASSET_RESPONSE: dict[int, OpenAPIResponse] = {
    200: {
        "description": "A script, style sheet, icon or licence of the console",
        "content": {
            media_type.partition(";")[0]: {"schema": {"type": "string"}}
            for media_type in ASSET_TYPES.values()
        },
    },
    304: {"description": "Not modified (If-None-Match named the asset's ETag)"},
}


@dataclass(frozen=True)
class StaticFile:
    body: str
    content_type: str
    etag: str

    @classmethod
    def of(cls, body: str, content_type: str) -> "StaticFile":
        digest = hashlib.sha256(body.encode()).hexdigest()[:20]
        # Weak: the same file is sent gzipped or not, as the client accepts (one tag for both).
        return cls(body, content_type, f'W/"{digest}"')


@functools.cache
def _assets() -> dict[str, StaticFile]:
    return {
        path.name: StaticFile.of(path.read_text(), ASSET_TYPES[path.suffix])
        for path in sorted(ASSETS_DIR.iterdir())
        if path.suffix in ASSET_TYPES
    }


@functools.cache
def _version() -> str:
    digest = hashlib.sha256()
    for name, asset in _assets().items():
        digest.update(f"{name}\0{asset.etag}\0".encode())
    return digest.hexdigest()[:12]


@functools.cache
def _page() -> StaticFile:
    html = (CONSOLE_DIR / "index.html").read_text().replace(VERSION_PLACEHOLDER, _version())
    return StaticFile.of(html, content_types.TEXT_HTML + "; charset=utf-8")


def _opaque_tag(etag: str) -> str:
    return etag.strip().removeprefix("W/")


def _reply(file: StaticFile, cache_control: str) -> Response:
    headers = {
        **SECURITY_HEADERS,
        "Cache-Control": cache_control,
        "ETag": file.etag,
        "Vary": "Accept-Encoding",
    }
    # If-None-Match compares tags weakly (RFC 9110 13.1.2).
    if_none_match = rest_event(router).headers.get("if-none-match") or ""
    if _opaque_tag(file.etag) in {_opaque_tag(tag) for tag in if_none_match.split(",")}:
        # Not compressed: gzip would turn the empty body into 20 bytes, and a 304 has none.
        return Response(304, None, "", headers, compress=False)
    return Response(200, file.content_type, file.body, headers)


# No return annotations: Powertools would try to validate a Response as a model.
@router.get(
    "/console",
    summary="The web console: sign in with a key or token, then browse through the API",
    responses=PAGE_RESPONSE,
    compress=True,
)
def console_page():
    return _reply(_page(), PAGE_CACHE_CONTROL)


@router.get(
    "/console/assets/<version>/<name>",
    summary="A file of the web console, in the version its page names (cached for a year)",
    responses=ASSET_RESPONSE,
    compress=True,
)
def console_asset(version: str, name: str):
    asset = _assets().get(name)
    if asset is None or version != _version():
        # Another version's asset is not served as this one's: a page that old must reload.
        raise NotFoundError(f"the console has no asset {name!r} in version {version!r}")
    return _reply(asset, ASSET_CACHE_CONTROL)
