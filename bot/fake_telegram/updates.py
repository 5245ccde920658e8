"""The fake Bot API's update delivery: getUpdates (long polling) and webhooks."""

from __future__ import annotations

import asyncio
import copy
import json
import re
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout

from .model import ApiError, UploadedFile
from .people import _People
from .records import (
    _SECRET_RE,
    _NotImplementedError,
)


class _Updates(_People):
    """getUpdates (long polling) and webhooks."""

    def _api_getMe(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return copy.deepcopy(self.bot_user)

    def _api_logOut(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return True

    def _api_close(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return True

    async def _api_getUpdates(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        conflict = ApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
        if self._webhook is not None:
            raise conflict
        limit = p.get("limit", 100)
        if limit <= 0 or limit > 100:
            limit = 100  # Telegram silently uses the default
        timeout = max(0, p.get("timeout", 0))
        if "allowed_updates" in p:
            self._allowed_updates = [str(k) for k in p["allowed_updates"]]
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # an older parked getUpdates ends with a Conflict
        self._confirm(p.get("offset"))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            batch = self._take_updates(limit)
            if batch:
                return batch
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closing:
                return []
            await self._wait_change(remaining)
            if self._poll_generation != generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            if self._webhook is not None:
                raise conflict

    def _api_setWebhook(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        url = p["url"]
        if not url:
            return self._api_deleteWebhook(p, files)
        match = re.match(r"(https?)://([^/:]+)", url)
        if match is None:
            raise ApiError.bad("bad webhook: Wrong HTTP URL specified")
        if match.group(1) == "http" and match.group(2) not in ("127.0.0.1", "localhost", "::1"):
            raise ApiError.bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get("secret_token")
        if secret is not None and not _SECRET_RE.fullmatch(secret):
            raise ApiError.bad("secret token contains unallowed characters")
        if p.get("certificate") is not None:
            raise _NotImplementedError("setWebhook certificate")
        if p.get("drop_pending_updates"):
            self._pending.clear()
        if "allowed_updates" in p:
            self._allowed_updates = [str(k) for k in p["allowed_updates"]]
        max_connections = p.get("max_connections", 40)
        if not 1 <= max_connections <= 100:
            max_connections = 40
        self._webhook = {"url": url, "secret_token": secret, "max_connections": max_connections}
        self._webhook_last_error = None
        self._notify()
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.get_running_loop().create_task(self._webhook_loop())
        return True

    def _api_deleteWebhook(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        self._webhook = None
        if p.get("drop_pending_updates"):
            self._pending.clear()
        self._notify()
        return True

    def _api_getWebhookInfo(self, p: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        info: dict[str, Any] = {
            "url": self._webhook["url"] if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self._webhook:
            info["max_connections"] = self._webhook["max_connections"]
            if self._allowed_updates:
                info["allowed_updates"] = list(self._allowed_updates)
            if self._webhook_last_error:
                info["last_error_date"], info["last_error_message"] = self._webhook_last_error
        return info

    async def _webhook_loop(self) -> None:
        delay = self.webhook_retry_delay
        while not self._closing:
            webhook = self._webhook
            if webhook is None:
                return
            update = next((u for u in self._pending), None)
            if update is None:
                await self._wait_change(1.0)
                continue
            if not self._allowed(update.kind):
                self._pending.remove(update)
                self._notify()
                continue
            if self._webhook_session is None:
                self._webhook_session = ClientSession(timeout=ClientTimeout(total=10))
            headers = {"Content-Type": "application/json"}
            if webhook.get("secret_token"):
                headers["X-Telegram-Bot-Api-Secret-Token"] = webhook["secret_token"]
            update.delivered = True
            try:
                async with self._webhook_session.post(
                    webhook["url"], data=json.dumps(update.data, ensure_ascii=False).encode(), headers=headers
                ) as response:
                    await response.read()
                    ok = 200 <= response.status < 300
                    error = f"Wrong response from the webhook: {response.status} {response.reason}"
            except (ClientError, TimeoutError, OSError) as exc:
                ok = False
                error = f"Connection failed: {type(exc).__name__}"
            if ok:
                if update in self._pending:
                    self._pending.remove(update)
                delay = self.webhook_retry_delay
                self._notify()
            else:
                self._webhook_last_error = (self._now(), error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
