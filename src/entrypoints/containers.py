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
from adapters.jobs import InProcessJobRunner
from adapters.mail.memory import MemoryOutbox
from adapters.memory.state import MemoryState, MemoryUnitOfWork
from adapters.objectstore.memory import MemoryObjectStore
from adapters.registry import memory_factories, sql_factories
from adapters.sql.database import Database, SqlUnitOfWork
from gharart_core.identity.service import IdentityService
from gharart_core.links.service import LinksService
from gharart_core.shared.clock import SystemClock
from gharart_core.shared.ids import UlidIds
from gharart_core.shared.tokens import SecretsTokenSource
from gharart_core.sites.service import SitesLimits, SitesService

from .http.hosts import DnsHostnameVerifier
from .settings import Settings

__all__ = ["Container", "MemoryContainer", "SqlContainer", "build_container", "build_memory_container"]


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


def object_store_from_url(url: str) -> Any:
    if url.startswith("memory://"):
        return MemoryObjectStore()
    if url.startswith("file://"):
        from adapters.objectstore.filesystem import FilesystemObjectStore

        return FilesystemObjectStore(Path(url[len("file://"):]))
    if url.startswith("s3://"):
        from adapters.objectstore.s3 import S3ObjectStore  # type: ignore[import-not-found]

        return S3ObjectStore.from_url(url)
    raise ValueError(f"unsupported GHARART_OBJECT_STORE {url!r}")


def mailer_from_settings(settings: Settings) -> Any:
    if settings.smtp_url:
        from adapters.mail.smtp import SmtpMailer

        return SmtpMailer.from_url(settings.smtp_url)
    from adapters.mail.eml import EmlOutbox

    return EmlOutbox(settings.outbox_dir)


def links_service_for(settings: Settings, clock: Any, ids: Any, uow_factory: Any, jobs: Any,
                      fetcher: Any) -> LinksService:
    return LinksService(clock=clock, ids=ids, uow_factory=uow_factory, jobs=jobs, fetcher=fetcher,
                        health_timeout_s=settings.health_timeout_s)


def _links_provider(uow_factory: Any) -> Any:
    # declared per adapter set: a base-class provider cannot see the subclass's uow_factory
    return providers.Singleton(links_service_for, Container.settings, Container.clock, Container.ids,
                               uow_factory, Container.jobs, Container.fetcher)


def _sites_provider(object_store: Any) -> Any:
    # declared per adapter set: a base-class provider would keep the base's object-store placeholder
    c = Container
    return providers.Singleton(
        SitesService, clock=c.clock, ids=c.ids, tokens=c.tokens, object_store=object_store,
        replay_gate=c.sites_replay_gate, site_domain=c.settings.provided.site_domain,
        limits=providers.Callable(SitesLimits.from_env, c.settings.provided.extra),
        hostname_verifier=c.sites_hostname_verifier)


class Container(containers.DeclarativeContainer):
    """Provider names shared by every adapter set."""

    settings = providers.Dependency(instance_of=Settings)
    clock: providers.Provider[Any] = providers.Singleton(SystemClock)
    ids: providers.Provider[Any] = providers.Singleton(UlidIds)
    tokens: providers.Provider[Any] = providers.Singleton(SecretsTokenSource)
    uow_factory: providers.Provider[Any] = providers.Dependency()
    object_store: providers.Provider[Any] = providers.Dependency()
    mailer: providers.Provider[Any] = providers.Dependency()
    jobs: providers.Provider[Any] = providers.Singleton(InProcessJobRunner)

    identity_service = providers.Singleton(
        IdentityService, clock=clock, ids=ids, tokens=tokens,
        operator_emails=settings.provided.operators,
    )
    fetcher: providers.Provider[Any] = providers.Singleton(fetcher_from_settings, settings)
    # sites: intel wires its ReplayGate implementation here (None = NoReplayGate)
    sites_replay_gate: providers.Provider[Any] = providers.Object(None)
    sites_hostname_verifier: providers.Provider[Any] = providers.Singleton(DnsHostnameVerifier)


class SqlContainer(Container):
    database = providers.Singleton(Database, url=Container.settings.provided.resolved_database_url)
    uow_factory = providers.Singleton(sql_uow_factory, database)
    links_service = _links_provider(uow_factory)
    object_store = providers.Singleton(object_store_from_url, Container.settings.provided.resolved_object_store)
    sites_service = _sites_provider(object_store)
    mailer = providers.Singleton(mailer_from_settings, Container.settings)


class MemoryContainer(Container):
    state = providers.Singleton(MemoryState)
    uow_factory = providers.Singleton(memory_uow_factory, state)
    links_service = _links_provider(uow_factory)
    object_store = providers.Singleton(MemoryObjectStore)
    sites_service = _sites_provider(object_store)
    mailer = providers.Singleton(MemoryOutbox)


def build_container(settings: Settings | None = None) -> SqlContainer:
    settings = settings or Settings.from_env()
    return SqlContainer(settings=settings)


def build_memory_container(settings: Settings | None = None, **overrides: Any) -> MemoryContainer:
    settings = settings or Settings(data_dir=Path("/nonexistent"), object_store="memory://", auto_migrate=False)
    container = MemoryContainer(settings=settings)
    for name, value in overrides.items():
        getattr(container, name).override(providers.Object(value))
    return container
