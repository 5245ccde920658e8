"""A local sandbox: the real bot against the fake Bot API, played from a web page.

``leopard-watch run`` without ``BOT_TOKEN`` starts it (see :func:`bot.sandbox.runner.run_sandbox`):
a person plays a resident chatting with the bot and, side by side, sees the staff moderation group
and the channels and presses the staff buttons. Same handlers, same SQLite database code, nothing
mocked below the Bot API. It is how county officials see a demo and how new staff are trained.
"""

from bot.sandbox.world import SandboxSettings

__all__ = ["SandboxSettings"]
