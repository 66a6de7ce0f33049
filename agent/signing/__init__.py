"""Signature formats (XML-DSig, CMS, origin-bound challenges) and their verification.

Formats depend only on the :class:`~agent.signing.signer.Signer` interface; the token layer
provides the real implementation, a software signer makes pure format tests cheap.
"""
