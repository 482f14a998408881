"""Dependency-injector containers: one per adapter set, the same provider names in each.

``build_container(settings)`` picks the adapter set from the settings (SQLite/PostgreSQL +
filesystem/memory object store); ``build_memory_container()`` is the harness's in-memory set.
Area services are providers on the base container, so every adapter set gets them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dependency_injector import containers, providers

from adapters.http.fetcher import fetcher_from_settings
from adapters.intel_sources import make_intel_service, make_replay_gate
from adapters.jobs import InProcessJobRunner
from adapters.mail.memory import MemoryOutbox
from adapters.memory.state import MemoryState, MemoryUnitOfWork
from adapters.objectstore.memory import MemoryObjectStore
from adapters.registry import memory_factories, sql_factories
from adapters.sql.database import Database, SqlUnitOfWork
from gharart_core.docs.edge import DocsEdgeService
from gharart_core.docs.service import DocsService
from gharart_core.files.service import FilesService
from gharart_core.identity.login_link_service import LoginLinkService
from gharart_core.identity.service import IdentityService
from gharart_core.links.service import LinksService
from gharart_core.shared.clock import SystemClock
from gharart_core.shared.ids import UlidIds
from gharart_core.shared.tokens import SecretsTokenSource
from gharart_core.sites.service import SitesLimits, SitesService
from gharart_core.support.service import SupportService

from .http.hosts import DnsHostnameVerifier
from .http.routes.publisher_wiring import deployment_records_service_for, publisher_service_for
from .settings import Settings, presigned_download_ttl
from .support_directory import RepositoryArtifactDirectory

__all__ = ["Container", "MemoryGateways", "SqlGateways", "build_container", "build_memory_container"]


def sql_uow_factory(db: Database) -> Callable[..., SqlUnitOfWork]:
    factories = sql_factories()

    def make(write: bool = True) -> SqlUnitOfWork:
        return SqlUnitOfWork(db, factories, write=write)

    return make


def memory_uow_factory(state: MemoryState) -> Callable[..., MemoryUnitOfWork]:
    factories = memory_factories()

    def make(write: bool = True) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(state, factories, write=write)

    return make


def object_store_from_url(url: str, env: Any = None) -> Any:
    if url.startswith("memory://"):
        return MemoryObjectStore()
    if url.startswith("file://"):
        from adapters.objectstore.filesystem import FilesystemObjectStore

        return FilesystemObjectStore(Path(url[len("file://"):]))
    if url.startswith("s3://"):
        from adapters.objectstore.s3 import S3ObjectStore

        return S3ObjectStore.from_url(url, env=env)  # GHARART_S3_* settings
    raise ValueError(f"unsupported GHARART_OBJECT_STORE {url!r}")


def jobs_from_settings(settings: Settings) -> Any:
    """In-process runner by default; ``GHARART_JOB_QUEUE=postgres``: the procrastinate queue."""
    if (settings.extra.get("GHARART_JOB_QUEUE") or "").strip().lower() == "postgres":
        from adapters.jobs_queue import QueueJobRunner

        return QueueJobRunner(settings.resolved_database_url)
    return InProcessJobRunner()


def mailer_from_settings(settings: Settings) -> Any:
    if settings.smtp_url:
        from adapters.mail.smtp import SmtpMailer

        return SmtpMailer.from_url(settings.smtp_url, sender=settings.mail_from)
    from adapters.mail.eml import EmlOutbox

    return EmlOutbox(settings.outbox_dir)


def make_files_service(clock: Any, ids: Any, tokens: Any, store: Any, mailer: Any, uow_factory: Any,
                       settings: Settings) -> FilesService:
    return FilesService(clock, ids, tokens, store, mailer, uow_factory, max_file_bytes=settings.max_file_bytes,
                        retention_s=settings.file_retention_s, public_url=settings.public_url,
                        direct_download_ttl_s=presigned_download_ttl(settings.extra))


def links_service_for(settings: Settings, clock: Any, ids: Any, uow_factory: Any, jobs: Any,
                      fetcher: Any) -> LinksService:
    from entrypoints.settings import int_setting

    extra = settings.extra
    return LinksService(clock=clock, ids=ids, uow_factory=uow_factory, jobs=jobs, fetcher=fetcher,
                        health_timeout_s=settings.health_timeout_s,
                        health_concurrency=int_setting(extra, "GHARART_HEALTH_CONCURRENCY", 20),
                        health_per_host=int_setting(extra, "GHARART_HEALTH_PER_HOST", 4),
                        health_max_redirects=int_setting(extra, "GHARART_HEALTH_MAX_REDIRECTS", 5))


def docs_service_for(settings: Settings, clock: Any, ids: Any, objects: Any) -> DocsService:
    max_page = int(settings.extra.get("GHARART_DOCS_MAX_PAGE_BYTES", "") or 10 * 1024 * 1024)
    return DocsService(clock, ids, objects, internal_domains=settings.internal_domains,
                       max_page_bytes=max_page)


class Container(containers.DeclarativeContainer):
    """Services and the gateway placeholders every adapter set fills.

    ``uow_factory``, ``object_store`` and ``mailer`` are ``Dependency`` providers: the build
    functions below override them with an adapter set's gateways (``SqlGateways`` or
    ``MemoryGateways``), and every service declared here sees the override. Services are
    declared once, here; swapping storage is a settings change.
    """

    settings = providers.Dependency(instance_of=Settings)
    clock: providers.Provider[Any] = providers.Singleton(SystemClock)
    ids: providers.Provider[Any] = providers.Singleton(UlidIds)
    tokens: providers.Provider[Any] = providers.Singleton(SecretsTokenSource)
    uow_factory: providers.Provider[Any] = providers.Dependency()
    object_store: providers.Provider[Any] = providers.Dependency()
    mailer: providers.Provider[Any] = providers.Dependency()
    jobs: providers.Provider[Any] = providers.Singleton(jobs_from_settings, settings)
    fetcher: providers.Provider[Any] = providers.Singleton(fetcher_from_settings, settings)

    identity_service = providers.Singleton(
        IdentityService, clock=clock, ids=ids, tokens=tokens,
        operator_emails=settings.provided.operators,
    )

    login_link_service = providers.Singleton(
        LoginLinkService, clock=clock, ids=ids, tokens=tokens, mailer=mailer, identity=identity_service,
        ttl_s=settings.provided.login_link_ttl_s, public_url=settings.provided.public_url)

    links_service = providers.Singleton(links_service_for, settings, clock, ids, uow_factory, jobs, fetcher)

    docs_service = providers.Singleton(docs_service_for, settings, clock, ids, object_store)
    docs_edge_service = providers.Singleton(
        DocsEdgeService, clock, ids, tokens, object_store, mailer, uow_factory,
        public_url=settings.provided.public_url)

    # intel's ReplayGate implementation, passed to the sites service as ``replay_gate``
    sites_replay_gate: providers.Provider[Any] = providers.Singleton(make_replay_gate, settings=settings,
                                                                      clock=clock)
    sites_hostname_verifier: providers.Provider[Any] = providers.Singleton(DnsHostnameVerifier)
    sites_service = providers.Singleton(
        SitesService, clock=clock, ids=ids, tokens=tokens, object_store=object_store,
        replay_gate=sites_replay_gate, site_domain=settings.provided.site_domain,
        limits=providers.Callable(SitesLimits.from_env, settings.provided.extra),
        hostname_verifier=sites_hostname_verifier)

    files_service = providers.Singleton(make_files_service, clock, ids, tokens, object_store, mailer, uow_factory,
                                        settings)

    support_directory: providers.Provider[Any] = providers.Singleton(RepositoryArtifactDirectory)
    support_service = providers.Singleton(
        SupportService, clock=clock, ids=ids, mailer=mailer, directory=support_directory,
        operator_emails=settings.provided.operators, public_url=settings.provided.public_url,
        site_domain=settings.provided.site_domain)

    intel_service = providers.Singleton(
        make_intel_service, settings=settings, clock=clock, ids=ids, jobs=jobs, uow_factory=uow_factory,
        sites=sites_service, fetcher=fetcher)

    # publisher (IGNY8 API): deployment records are sites deployments; webhooks use the fetcher
    publisher_service = providers.Singleton(publisher_service_for, clock, ids, identity_service, sites_service,
                                            fetcher, settings.provided.extra)
    deployment_records_service = providers.Singleton(deployment_records_service_for, clock, ids,
                                                     publisher_service, sites_service)


class SqlGateways(containers.DeclarativeContainer):
    """The embedded default and scale-out adapter set: SQL + filesystem/S3 + .eml outbox or SMTP."""

    settings = providers.Dependency(instance_of=Settings)
    database = providers.Singleton(Database, url=settings.provided.resolved_database_url)
    uow_factory = providers.Singleton(sql_uow_factory, database)
    object_store = providers.Singleton(object_store_from_url, settings.provided.resolved_object_store,
                                       settings.provided.extra)
    mailer = providers.Singleton(mailer_from_settings, settings)


class MemoryGateways(containers.DeclarativeContainer):
    """The harness's adapter set: everything in process memory."""

    state = providers.Singleton(MemoryState)
    uow_factory = providers.Singleton(memory_uow_factory, state)
    object_store = providers.Singleton(MemoryObjectStore)
    mailer = providers.Singleton(MemoryOutbox)


GATEWAY_NAMES = ("uow_factory", "object_store", "mailer")


def _wire(container: Any, gateways: Any, extra: tuple[str, ...]) -> Any:
    for name in GATEWAY_NAMES:
        getattr(container, name).override(getattr(gateways, name))
    for name in extra:
        setattr(container, name, getattr(gateways, name))
    container.gateways = providers.Object(gateways)
    return container


def build_container(settings: Settings | None = None) -> Any:
    """The service's container: SQL (SQLite or PostgreSQL) and the configured object store."""
    settings = settings or Settings.from_env()
    return _wire(Container(settings=settings), SqlGateways(settings=settings), ("database",))


def build_memory_container(settings: Settings | None = None, **overrides: Any) -> Any:
    """The harness's container: memory adapters; ``overrides`` replace providers by name."""
    settings = settings or Settings(data_dir=Path("/nonexistent"), object_store="memory://", auto_migrate=False)
    container = _wire(Container(settings=settings), MemoryGateways(), ("state",))
    for name, value in overrides.items():
        getattr(container, name).override(providers.Object(value))
    return container
