"""Broker middleware: every log line written while a consumed message is handled names its
command and tenant (`crm.logging_setup.bind_message_context`)."""

from typing import Any

from faststream import BaseMiddleware

from crm.logging_setup import bind_message_context, unbind_work_context


class MessageLogContext(BaseMiddleware):
    """For `KafkaBroker(middlewares=[MessageLogContext, ...])`, first: the outermost scope."""

    async def consume_scope(self, call_next: Any, msg: Any) -> Any:
        token = bind_message_context(msg.body, msg.headers)
        try:
            return await call_next(msg)
        finally:
            unbind_work_context(token)
