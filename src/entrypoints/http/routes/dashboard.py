"""The dashboard: server-rendered pages at ``/dashboard``, a thin client of the ``/v2`` API.

Every page and action calls the app's own API in-process with the signed-in user's bearer token
(the PAT pasted at sign-in, or the session PAT an email sign-in link minted, kept in an HttpOnly
cookie), so every rule, error code and audit entry is the API's; only the email sign-in pages call
the identity area directly, since there is no token yet. The pages live in
``entrypoints/http/dashboard/`` (one module per section, next to the templates and static files);
this module lists them in ``ROUTES`` and keeps their names importable from here.
"""

from __future__ import annotations

from ..dashboard.common import CSRF_COOKIE as CSRF_COOKIE
from ..dashboard.common import FLASH_COOKIE as FLASH_COOKIE
from ..dashboard.common import PREFIX as PREFIX
from ..dashboard.common import PREVIEW_HEADERS as PREVIEW_HEADERS
from ..dashboard.common import RID_COOKIE as RID_COOKIE
from ..dashboard.common import ROLE_RANK as ROLE_RANK
from ..dashboard.common import ROOT as ROOT
from ..dashboard.common import STATIC_TYPES as STATIC_TYPES
from ..dashboard.common import TOKEN_COOKIE as TOKEN_COOKIE
from ..dashboard.common import ApiResult as ApiResult
from ..dashboard.common import Dash as Dash
from ..dashboard.common import _csrf_refused as _csrf_refused
from ..dashboard.common import _decode as _decode
from ..dashboard.common import _dt as _dt
from ..dashboard.common import _encode as _encode
from ..dashboard.common import _env as _env
from ..dashboard.common import _form as _form
from ..dashboard.common import _guard as _guard
from ..dashboard.common import _h as _h
from ..dashboard.common import _inner_app as _inner_app
from ..dashboard.common import _int as _int
from ..dashboard.common import _items as _items
from ..dashboard.common import _s as _s
from ..dashboard.common import can as can
from ..dashboard.docs import _docs_page as _docs_page
from ..dashboard.docs import docs_evaluate as docs_evaluate
from ..dashboard.docs import docs_page as docs_page
from ..dashboard.docs import docs_policy as docs_policy
from ..dashboard.files import file_page as file_page
from ..dashboard.files import file_share as file_share
from ..dashboard.files import file_update as file_update
from ..dashboard.files import file_upload as file_upload
from ..dashboard.files import files_page as files_page
from ..dashboard.files import share_revoke as share_revoke
from ..dashboard.links import _link_page as _link_page
from ..dashboard.links import health_run as health_run
from ..dashboard.links import health_start as health_start
from ..dashboard.links import import_errors as import_errors
from ..dashboard.links import import_page as import_page
from ..dashboard.links import import_run as import_run
from ..dashboard.links import import_run_page as import_run_page
from ..dashboard.links import link_create as link_create
from ..dashboard.links import link_edit as link_edit
from ..dashboard.links import link_page as link_page
from ..dashboard.links import link_preview as link_preview
from ..dashboard.links import link_rollback as link_rollback
from ..dashboard.links import links_export as links_export
from ..dashboard.links import links_page as links_page
from ..dashboard.login_link import login_email as login_email
from ..dashboard.login_link import login_link_page as login_link_page
from ..dashboard.login_link import login_link_redeem as login_link_redeem
from ..dashboard.session import handle_home as handle_home
from ..dashboard.session import home as home
from ..dashboard.session import login as login
from ..dashboard.session import login_form as login_form
from ..dashboard.session import logout as logout
from ..dashboard.session import static as static
from ..dashboard.sites import binding_create as binding_create
from ..dashboard.sites import deployment_create as deployment_create
from ..dashboard.sites import deployment_page as deployment_page
from ..dashboard.sites import deployment_preview as deployment_preview
from ..dashboard.sites import deployment_promote as deployment_promote
from ..dashboard.sites import intel_page as intel_page
from ..dashboard.sites import intel_run as intel_run
from ..dashboard.sites import intel_start as intel_start
from ..dashboard.sites import site_mode as site_mode
from ..dashboard.sites import site_rollback as site_rollback
from ..dashboard.sites import sites_page as sites_page
from ..dashboard.support import operator_escalate as operator_escalate
from ..dashboard.support import operator_escalation_status as operator_escalation_status
from ..dashboard.support import operator_page as operator_page
from ..dashboard.support import support_page as support_page
from ..dashboard.support import support_report as support_report

__all__ = ["ROUTES"]

ROUTES = [
    static, home, login_form, login, login_email, login_link_page, login_link_redeem, logout, handle_home,
    links_page, links_export, link_create, link_page,
    link_edit, link_rollback, link_preview, import_page, import_run, import_run_page, import_errors, health_start,
    health_run, sites_page, deployment_create, deployment_page, deployment_preview, deployment_promote,
    site_rollback, site_mode, binding_create, intel_page, intel_start, intel_run, files_page, file_upload, file_page,
    file_update, file_share, share_revoke, docs_page, docs_policy, docs_evaluate, support_page, support_report,
    operator_page, operator_escalate, operator_escalation_status,
]
