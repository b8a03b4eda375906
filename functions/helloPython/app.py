"""A Lambda Python handler, unchanged: invoq runs it on the host's python3 (see docs/runtimes.md)."""
import logging

logger = logging.getLogger()
invocations = 0  # module state survives between warm calls


def handler(event, context):
    global invocations
    invocations += 1
    name = (event or {}).get("name", "world")
    logger.info("greeting %s", name)
    return {
        "greeting": f"hello, {name}",
        "requestId": context.aws_request_id,
        "warmCalls": invocations,
        "remainingMs": context.get_remaining_time_in_millis(),
    }
