"""The names the loopback certificate is for, and the prefix that marks Kyso's own CAs.

Plain constants (no cryptography), shared by minting, checking and the trust stores.
"""

from __future__ import annotations

import ipaddress

CA_NAME_PREFIX = "Kyso Local CA"
LOOPBACK_IPS = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))
LOOPBACK_DNS = ("localhost",)
