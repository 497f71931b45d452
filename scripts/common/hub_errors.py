"""One line for every way something on the Hugging Face Hub cannot be had (a base model or a dataset)."""

from __future__ import annotations

import os

from scripts.common.errors import UserError, exception_chain

# the HTTP libraries the Hub clients use (huggingface_hub 1.x ships httpx2 / httpcore2)
NETWORK_LIBRARIES = ("httpx", "httpx2", "httpcore", "httpcore2", "requests", "urllib3")


def token_hint() -> str:
    return "" if os.environ.get("HF_TOKEN") else " (no token: set HF_TOKEN or run `huggingface-cli login`)"


def is_network(exc: BaseException | None) -> bool:
    """A connection that failed, in any of the HTTP libraries the Hub clients use (causes included)."""
    return any(
        _from_network_library(e) or isinstance(e, (ConnectionError, TimeoutError))
        for e in exception_chain(exc)
    )


def _from_network_library(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0] in NETWORK_LIBRARIES


def hub_error(
    exc: Exception,
    what: str,
    fix: str,
    revision_key: str = "revision",
    revision: str | None = None,
    cached: bool | None = None,
) -> UserError:
    """`what` is e.g. "model 'owner/name'" or "dataset owner/name"; `fix` ends the not-found line;
    `cached` says whether a local copy exists (None: not known)."""
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    if isinstance(exc, GatedRepoError):
        return UserError(
            f"{what} is gated: accept its conditions on its Hub page, then use a token of that "
            f"account{token_hint()}"
        )
    if isinstance(exc, RevisionNotFoundError):
        return UserError(
            f"{revision_key}={revision!r} is not a branch, tag or commit of {what}; fix {revision_key}"
        )
    if isinstance(exc, RepositoryNotFoundError):
        return UserError(f"{what} was not found on the Hub (404), or it is private{token_hint()}; {fix}")
    if (
        isinstance(exc, HfHubHTTPError)
        and exc.response is not None
        and exc.response.status_code in (401, 403)
    ):
        return UserError(
            f"the Hub refused access to {what} ({exc.response.status_code}){token_hint()}; use a "
            "token that may read it"
        )
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    # The installed client wraps a failed connection in LocalEntryNotFoundError: a network failure is said
    # as one, not as "offline mode" (and never as "check the id")
    if is_network(exc) and not offline:
        return _unreachable(exc, what, cached)
    if isinstance(exc, (OfflineModeIsEnabled, LocalEntryNotFoundError)) or "offline" in str(exc).lower():
        return UserError(
            f"{what} is not in the local Hugging Face cache and the Hub cannot be reached "
            "(HF_HUB_OFFLINE or no network); connect once without HF_HUB_OFFLINE to download it"
        )
    cause = exc.__cause__ or exc.__context__ or exc
    first = str(cause).splitlines()[0][:160] if str(cause) else ""
    return UserError(f"{what} could not be loaded ({cause.__class__.__name__}: {first}); {fix}")


def _network_cause(exc: BaseException) -> str:
    """The innermost connection error's class name (ConnectError, ConnectTimeout ...)."""
    names = [e.__class__.__name__ for e in exception_chain(exc) if _from_network_library(e)]
    return names[-1] if names else exc.__class__.__name__


def _unreachable(exc: BaseException, what: str, cached: bool | None) -> UserError:
    local = (
        ""
        if cached is None
        else "; a cached copy exists: run with HF_HUB_OFFLINE=1 to use it"
        if cached
        else "; no cached copy exists on this machine"
    )
    return UserError(
        f"could not reach the Hub for {what} ({_network_cause(exc)}): check the network or the proxy, "
        f"then run again{local}"
    )
