"""The agent service: loopback HTTPS + WSS, protocol v1 (JSON-RPC 2.0), origin security."""

PROTOCOL_VERSIONS = ("1",)
