"""The text model of a prompt: labelled fields in sections, warnings, buttons. Pure data; built
by agent.ui.text and agent.ui.certtext, rendered by the dialogs, the terminal and the scripted
prompter's log."""

from __future__ import annotations

from dataclasses import dataclass


def pick(vi: str, en: str, lang: str, sep: str = " / ") -> str:
    """The text in ``lang`` ("vi" or "en"; English falls back to Vietnamese when there is none);
    with ``lang`` "" both, Vietnamese first (the terminal and the scripted prompter's log)."""
    if lang == "en":
        return en or vi
    if lang == "vi" or not en:
        return vi
    return f"{vi}{sep}{en}"


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

    def label_in(self, lang: str) -> str:
        """The label in the dialog's language ("" = both)."""
        return pick(self.label_vi, self.label_en, lang, " · ")


@dataclass(frozen=True)
class Section:
    """A titled group of fields (the certificate, one signed item...)."""

    title: str
    fields: tuple[Field, ...]
    subtitle: str = ""
    # The certificate picker's heading for a run of sections: the token they are on (the
    # agent's own words around the token's label, which is rendered inert).
    group: str = ""
    # A small PNG of the page where the visible signature goes (a PDF item with a stamp), from
    # the agent's own renderer; the dialog still checks its size before showing it.
    preview_png: bytes | None = None


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

    def label_in(self, lang: str) -> str:
        """The caption in the dialog's language ("" = both)."""
        return pick(self.label_vi, self.label_en, lang)


@dataclass(frozen=True)
class Warning:
    """A highlighted message (tries left, final try, locked, expired certificate)."""

    vi: str
    en: str
    severity: str = "warning"  # "warning" (amber) or "danger" (red)

    def text_in(self, lang: str) -> tuple[str, str]:
        """(the warning in ``lang``, the same in the other language, shown smaller)."""
        return (self.en, self.vi) if lang == "en" else (self.vi, self.en)


@dataclass(frozen=True)
class PromptText:
    """Everything one prompt shows."""

    kind: str  # "pair", "consent", "certificate", "pin", "pin_pad" or "credential" (remote)
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
    # The language the agent's own words are in: "vi" or "en" (the dialogs, from the tray's
    # setting), or "" for both, Vietnamese first (the terminal, the scripted prompter's log).
    lang: str = ""

    def question(self) -> tuple[str, str]:
        """(the question in the prompt's language, the same in the other one)."""
        if self.lang == "en":
            return self.question_en, self.question_vi
        return self.question_vi, self.question_en

    def summary(self) -> tuple[str, str]:
        """(the agent's one-sentence summary in the prompt's language, the other one)."""
        if self.lang == "en":
            return self.summary_en, self.summary_vi
        return self.summary_vi, self.summary_en

    def note(self) -> str:
        """The note under the details, in the prompt's language (both when "")."""
        return pick(self.note_vi, self.note_en, self.lang, "\n")
