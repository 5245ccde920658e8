"""The web side of the bot, without Telegram: the tip line, its status pages, health and metrics.

Plain aiohttp and the same core as the Telegram conversation: a web report is a draft built with
`bot.report`, `bot.locations`, `bot.when` and `bot.media`, stored with `Store.submit_report` and
announced to staff with `bot.cards`. The Telegram side (the webhook route, PTB metrics hooks and
the runner) is `handlers/web.py`, which builds its application with :func:`bot.web.app.make_tipline_app`.
"""
