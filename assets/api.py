def register(router) -> None:
    """Registers this app's REST resources (API.md) on the /api/v1/ router."""
