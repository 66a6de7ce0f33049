"""The text model of a prompt: labelled fields in sections, warnings, buttons. Pure data; built
by agent.ui.text and agent.ui.certtext, rendered by the dialogs, the terminal and the scripted
prompter's log."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    """One labelled value: "Mã số thuế · Tax code: 0101234567"."""

    label_vi: str
    label_en: str
    value: str
    style: str = "normal"  # "normal", "bold", "mono" or "danger"

    @property
    def label(self) -> str:
        """Both labels, Vietnamese first."""
        return f"{self.label_vi} · {self.label_en}" if self.label_en else self.label_vi


@dataclass(frozen=True)
class Section:
    """A titled group of fields (the certificate, one signed item...)."""

    title: str
    fields: tuple[Field, ...]
    subtitle: str = ""
    # The certificate picker's heading for a run of sections: the token they are on (the
    # agent's own words around the token's label, which is rendered inert).
    group: str = ""


@dataclass(frozen=True)
class Choice:
    """A button: its answer key, its bilingual label, and its role."""

    key: str
    label_vi: str
    label_en: str
    role: str = "normal"  # "primary", "normal" or "cancel" (Escape and closing the window)

    @property
    def label(self) -> str:
        """The caption shown on the button."""
        return f"{self.label_vi} / {self.label_en}"


@dataclass(frozen=True)
class Warning:
    """A highlighted message (tries left, final try, locked, expired certificate)."""

    vi: str
    en: str
    severity: str = "warning"  # "warning" (amber) or "danger" (red)


@dataclass(frozen=True)
class PromptText:
    """Everything one prompt shows."""

    kind: str  # "pair", "consent", "certificate", "pin" or "credential" (remote PIN/OTP)
    title: str  # window title
    question_vi: str
    question_en: str
    origin: str = ""  # shown in bold on its own line
    sections: tuple[Section, ...] = ()
    warnings: tuple[Warning, ...] = ()
    choices: tuple[Choice, ...] = ()
    note_vi: str = ""
    note_en: str = ""
    summary_vi: str = ""  # what the page asks for, in one sentence (shown under the origin)
    summary_en: str = ""
    pin_length: tuple[int, int] = (0, 0)  # (min, max) PIN length the token accepts; 0 = unknown
    # A remote credential's prompt ("credential"): the masked fields to fill, in order, as
    # (key, label_vi, label_en) with key "pin" or "otp".
    secret_fields: tuple[tuple[str, str, str], ...] = ()
