"""How far a received body may differ from its LIST size: one definition, both ways.

LIST is a hint, not a contract (DESIGN rule 13). Real servers differ from it:

- mailutils and Courier add a CRLF to a message without a final newline (+2 octets);
- mpopd and others count LF line endings: in CRLF form a base64 attachment grows by
  one CR per 77-octet line, about +1.3 %; a text of short lines by more (a 20-octet
  line grows 5 %);
- Exchange is reported to give estimates, a little off either way.

So the two checks are sized for what they guard against, not for the real peers:

- The **over-run guard** stops a body that never ends (a broken or hostile server). It
  allows 64 KiB plus 12.5 %: every peer above stays far inside it, and an endless body is
  still cut off after an eighth more than it claimed.
- The **shortfall check** catches a body cut short (an unstuffed "." line, a server that
  sends 100 octets where LIST said 100,000). It fires only far below: more than 1 KiB
  plus a quarter short. No peer above is ever short by more than a few octets, and a
  truncation worth worrying about is rarely subtle.
"""

from __future__ import annotations

__all__ = ["OVERRUN_SLACK", "overrun_limit", "too_short"]

OVERRUN_SLACK = 64 * 1024
SHORTFALL_SLACK = 1024


def overrun_limit(size: int) -> int:
    """Octets a body of LIST ``size`` may have before it is an over-run."""
    return size + OVERRUN_SLACK + size // 8


def too_short(size: int, received: int) -> bool:
    """True when ``received`` octets are far below the LIST ``size`` (a suspect copy)."""
    return size - received > SHORTFALL_SLACK + size // 4
