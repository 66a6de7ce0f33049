"""PDF signing (PAdES) and inspection, on pyHanko. Heavy imports wait until first use."""

from agent.signing.pdf.inspect import EarlierSignature, PdfFacts, inspect_pdf
from agent.signing.pdf.sign import (
    PadesLevel,
    PdfSignOptions,
    PdfSignResult,
    Placement,
    sign_pdf,
    stamp_lines,
)

__all__ = [
    "EarlierSignature",
    "PadesLevel",
    "PdfFacts",
    "PdfSignOptions",
    "PdfSignResult",
    "Placement",
    "inspect_pdf",
    "sign_pdf",
    "stamp_lines",
]
