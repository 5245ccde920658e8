"""A strict fake Telegram Bot API server for tests and the local demo sandbox.

See :class:`FakeTelegram`. The packaged ``bot/data/bot_api_methods.json`` (a trimmed copy of the Bot
API documentation) decides which methods exist and which parameters they require.
"""

from .model import ApiError, Call, UploadedFile
from .ratelimit import RateLimits
from .server import FakeTelegram

__all__ = ["ApiError", "Call", "FakeTelegram", "RateLimits", "UploadedFile"]
