"""FastAPI dependencies as `Annotated` aliases: the services, settings and the caller's kb scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.auth import presented_scope
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


# declared as security schemes, so the OpenAPI document says how to send a key; the guard has already
# refused a missing or wrong one where keys are set (auto_error off: no key is fine without keys)
API_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key (api_keys)")
BEARER = HTTPBearer(auto_error=False, description="an API key as `Authorization: Bearer KEY`")


def get_presented_key(
    x_api_key: Annotated[str | None, Security(API_KEY_HEADER)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
) -> str | None:
    """The API key the request carries (X-API-Key first, as `presented_key` reads it), if any."""
    return (x_api_key or "").strip() or (bearer.credentials.strip() if bearer else None)


PresentedKeyDep = Annotated[str | None, Depends(get_presented_key)]


def get_scope(settings: SettingsDep, presented: PresentedKeyDep) -> list[str] | None:
    return presented_scope(settings, presented)


KeyDep = Annotated[list[str] | None, Depends(get_scope)]  # the kbs the caller may read; None = all


def get_document(services: ServicesDep, scope: KeyDep, doc_id: Annotated[str, Path()]) -> DocumentDetail:
    return services.get_document(doc_id, scope)


DocumentDep = Annotated[DocumentDetail, Depends(get_document)]
