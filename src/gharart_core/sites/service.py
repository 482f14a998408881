"""Sites use cases: deployments, blobs, promote/rollback, site mode, bindings (SPEC §5, A.3).

:class:`SitesService` is one service assembled from cohesive parts: :mod:`.base` (constructor,
limits, shared steps), :mod:`.site_settings`, :mod:`.deployments`, :mod:`.bindings` and
:mod:`.serving` (profile and preview), so callers see one service.
"""

from __future__ import annotations

from .base import BlobUpload, SitesLimits, blob_key
from .bindings import BindingsMixin
from .deployments import DeploymentsMixin
from .site_settings import SiteSettingsMixin

__all__ = ["BlobUpload", "SitesLimits", "SitesService", "blob_key"]


class SitesService(SiteSettingsMixin, DeploymentsMixin, BindingsMixin):
    """Every sites use case (see the modules above)."""
