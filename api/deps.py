"""FastAPI dependencies as `Annotated` aliases: the services, settings and the caller's kb scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path, Request

from api.auth import key_scope
from api.schemas import DocumentDetail
from api.services import Services
from api.settings import Settings


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_settings(services: ServicesDep) -> Settings:
    return services.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_scope(
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> list[str] | None:
    return key_scope(settings, authorization, x_api_key)


KeyDep = Annotated[list[str] | None, Depends(get_scope)]  # the kbs the caller may read; None = all


def get_document(services: ServicesDep, scope: KeyDep, doc_id: Annotated[str, Path()]) -> DocumentDetail:
    return services.get_document(doc_id, scope)


DocumentDep = Annotated[DocumentDetail, Depends(get_document)]
