"""The API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc), on vendored assets.

FastAPI's stock pages load their scripts, style sheets, fonts and favicon from public CDNs: on a
utility's offline or filtered network they stay blank. These pages name only files the app serves
itself under ``/static/vendor/`` (versions and licences in api/web/static/vendor/VERSIONS.md), so
they work wherever the API answers. Like before, they need no token: the OpenAPI document they
render is public, every operation it lists is not.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

VENDOR_URL = "/static/vendor"
SWAGGER_JS_URL = f"{VENDOR_URL}/swagger-ui/swagger-ui-bundle.js"
SWAGGER_CSS_URL = f"{VENDOR_URL}/swagger-ui/swagger-ui.css"
REDOC_JS_URL = f"{VENDOR_URL}/redoc/redoc.standalone.js"
FAVICON_URL = f"{VENDOR_URL}/swagger-ui/favicon-32x32.png"

# The browser loads nothing from another host on these pages, whatever the bundles hold: ReDoc's
# sidebar, for one, shows its maker's logo from a CDN. Inline script and style stay allowed (the
# page's initialising script, the styles both libraries inject); ReDoc's search runs in a blob worker.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def install_api_docs(app: FastAPI) -> None:
    """Serve /docs and /redoc for ``app`` (built with ``docs_url=None, redoc_url=None``).

    Neither page is in the OpenAPI document. The Swagger page has no OAuth2 redirect: the API's
    tokens are bearer tokens pasted into "Authorize", there is no OAuth2 flow to return from.
    """
    openapi_url = app.openapi_url
    assert openapi_url is not None, "the documentation pages render the OpenAPI document"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return _confined(
            get_swagger_ui_html(
                openapi_url=openapi_url,
                title=f"{app.title} — API (Swagger UI)",
                swagger_js_url=SWAGGER_JS_URL,
                swagger_css_url=SWAGGER_CSS_URL,
                swagger_favicon_url=FAVICON_URL,
                oauth2_redirect_url=None,
                # Swagger UI otherwise sends the document to its maker's online validator for a badge.
                swagger_ui_parameters={"validatorUrl": None},
            )
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return _confined(
            get_redoc_html(
                openapi_url=openapi_url,
                title=f"{app.title} — API (ReDoc)",
                redoc_js_url=REDOC_JS_URL,
                redoc_favicon_url=FAVICON_URL,
                with_google_fonts=False,
            )
        )


def _confined(page: HTMLResponse) -> HTMLResponse:
    """The page with its Content-Security-Policy: this origin only."""
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page
