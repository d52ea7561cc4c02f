"""Messages for an operator are one line of reasonable length.

An error often quotes what it refuses; a 100 kB argument or a value with a
newline must not turn into a 100 kB line or a second line in mon's log.  No
imports: lvs.alert and the monitors use it on their hot path.
"""

LIMIT = 400


def one_line(text: str, limit: int = LIMIT) -> str:
    """``text`` with line breaks escaped and its middle cut when longer than ``limit``."""
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    if len(text) > limit:
        keep = limit // 2
        text = f"{text[:keep]}...[{len(text) - 2 * keep} characters cut]...{text[-keep:]}"
    return text
