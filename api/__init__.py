"""Heat Ledger's HTTP API: the FastAPI app factory, its routers, schemas, authentication and
RFC 9457 problem responses. Build the app with ``api.app.create_app(container)``."""
