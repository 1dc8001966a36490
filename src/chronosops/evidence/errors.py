from __future__ import annotations

from chronosops.core.errors import ConflictError, NotFoundError


class BundleNotFoundError(NotFoundError):
    code = "bundle-not-found"

    def __init__(self, bundle_id: str) -> None:
        super().__init__(f"Evidence bundle not found: {bundle_id}")


class BundleTamperedError(ConflictError):
    code = "bundle-tampered"

    def __init__(self, bundle_id: str, recomputed: str) -> None:
        super().__init__(
            f"Evidence bundle {bundle_id} no longer matches its content hash "
            f"(re-sealed as {recomputed}); it was modified after it was stored"
        )
