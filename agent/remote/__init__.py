"""Remote signing (ký số từ xa): keys in a provider's HSM, reached over the CSC API v2.

A remote credential is a key source like a USB token, so this package sits beside
``agent/tokens`` and below ``agent/signing``: ``agent.signing.remote.RemoteSigner`` wraps a
credential from here, and every format signs with it unchanged. Nothing here imports the
server or the UI; the PIN/OTP comes through :class:`agent.remote.prompt.CredentialPrompter`.
"""
