"""What the console calls things, in French, and what it tells a person to do."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from demat.tracking.states import State
from demat.tracking.store import Transmission

#: The French name of each state.
STATES: Final = {
    State.ACCEPTED: "à envoyer",
    State.SENDING: "en cours d'envoi",
    State.UNKNOWN: "issue incertaine",
    State.SENT: "envoyé, en attente",
    State.ACKNOWLEDGED: "acquitté",
    State.REJECTED: "rejeté",
    State.FAILED: "en échec",
    State.CANCEL_REQUESTED: "annulation demandée",
    State.CANCELLED: "annulé",
}

#: The badge colour class of each state (the page's CSS names them).
TONES: Final = {
    State.ACCEPTED: "wait",
    State.SENDING: "wait",
    State.UNKNOWN: "bad",
    State.SENT: "wait",
    State.ACKNOWLEDGED: "good",
    State.REJECTED: "bad",
    State.FAILED: "bad",
    State.CANCEL_REQUESTED: "wait",
    State.CANCELLED: "neutral",
}

#: The French name of each flow.
FLOWS: Final = {
    "pes": "PES (Hélios)",
    "actes": "Actes",
    "budget": "Budget (TOTEM)",
    "elections": "Listes électorales",
    "archive_transfer": "Transfert SAE",
}

#: The French name of each journal event.
EVENTS: Final = {
    "recorded": "enregistré",
    "resent": "renvoyé (nouvel envoi du même document)",
    "document_received": "document reçu",
    "retry_requested": "relance demandée",
    "send_started": "envoi commencé",
    "submitted": "déposé sur la plateforme",
    "refused": "refusé par la plateforme",
    "not_sent": "non envoyé",
    "outcome_unknown": "issue de l'envoi inconnue",
    "progress": "avancement",
    "ack_ok": "acquitté",
    "ack_ko": "rejeté",
    "found": "retrouvé sur la plateforme",
    "found_without_id": "retrouvé sans identifiant",
    "absent": "absent de la plateforme",
    "undetermined": "non déterminé",
    "resolved_sent": "tranché : reçu par la plateforme",
    "resolved_absent": "tranché : non reçu, à renvoyer",
    "cancel_requested": "annulation demandée",
    "cancelled": "annulé",
    "cancel_refused": "annulation refusée",
    "expired": "expiré",
    "failed": "en échec",
}

#: Which identifiers of a transmission are shown, and under what name.
IDENTIFIERS: Final = {
    "nom_fic": "NomFic",
    "id_coll": "IdColl",
    "cod_col": "CodCol",
    "cod_bud": "CodBud",
    "numero": "Numéro",
    "nature": "Nature",
    "objet": "Objet",
    "date": "Date de la décision",
    "matieres": "Matière",
    "commune": "Commune",
    "id_acte": "IDActe",
}


def identifiers(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The identifiers of a transmission a person reads (NomFic, IdColl, numéro…), named in
    French; lists joined (bordereaux); the technical ones (digests, flags) left out."""
    shown = []
    for key, label in IDENTIFIERS.items():
        value = values.get(key)
        if isinstance(value, list | tuple):
            value = ".".join(str(v) for v in value)
        if value not in (None, ""):
            shown.append((label, str(value)))
    bordereaux = values.get("bordereaux")
    if isinstance(bordereaux, list | tuple) and bordereaux:
        shown.append(("Bordereaux", ", ".join(str(b) for b in bordereaux)))
    return shown


#: After how long without an acknowledgement a sent transmission is "overdue", by flow.
OVERDUE: Final = {
    "pes": dt.timedelta(hours=48),
    "actes": dt.timedelta(hours=24),
    "budget": dt.timedelta(hours=24),
    "elections": dt.timedelta(hours=24),
    "archive_transfer": dt.timedelta(days=7),
}

#: The time zone times are shown in (the console's users are in metropolitan France).
PARIS: dt.tzinfo
try:
    PARIS = ZoneInfo("Europe/Paris")
except ZoneInfoNotFoundError:  # a system without tz data: local time
    PARIS = dt.datetime.now().astimezone().tzinfo or dt.UTC


def when(at: dt.datetime | None, *, seconds: bool = False) -> str:
    """A stored (UTC) time as a French reader expects it, in Paris time."""
    if at is None:
        return "—"
    return at.astimezone(PARIS).strftime("%d/%m/%Y %H:%M:%S" if seconds else "%d/%m/%Y %H:%M")


def when_text(value: object) -> str:
    """An ISO 8601 time written as text (the archive's ledger) shown as :func:`when` does."""
    try:
        at = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return when(at if at.tzinfo else at.replace(tzinfo=dt.UTC), seconds=True)


def iso(at: dt.datetime | None) -> str:
    """The machine-readable form of a time (for ``<time datetime>``)."""
    return "" if at is None else at.isoformat()


def state(value: State | str) -> str:
    """The French name of a state."""
    return STATES.get(State(value), str(value))


def flow(value: str) -> str:
    """The French name of a flow."""
    return FLOWS.get(value, value)


def event(value: str) -> str:
    """The French name of a journal event."""
    return EVENTS.get(value, value.replace("_", " "))


def hint(t: Transmission, now: dt.datetime) -> str | None:
    """What is going on with ``t`` and, when it needs a person, what to do."""
    s = t.state
    if s is State.UNKNOWN and t.next_attempt_at is None:
        return (
            "La plateforme ne peut pas dire si elle a reçu ce document. Vérifiez sur la plateforme, "
            "puis tranchez : « reçu » avec son identifiant, ou « non reçu » pour le renvoyer."
        )
    if s is State.UNKNOWN:
        again = _in(t.next_attempt_at, now)
        return f"Issue de l'envoi inconnue ({t.last_error}) ; demat redemande à la plateforme {again}."
    if s is State.ACCEPTED and t.errors:
        return (
            f"Pas encore envoyé : {t.last_error}. Nouvel essai {_in(t.next_attempt_at, now)} ; "
            "une fois la cause corrigée, « Relancer » l'envoie tout de suite."
        )
    if s is State.SENDING:
        if t.lease_until is not None and t.lease_until > now:
            return "Envoi en cours."
        return "L'envoi s'est interrompu : le prochain passage du relevé interroge la plateforme."
    if s is State.REJECTED:
        return "Rejeté : lisez ci-dessous pourquoi et quoi faire ; « Relancer » renvoie le même document."
    if s is State.FAILED:
        why = f" ({t.last_error})" if t.last_error else ""
        return f"En échec{why} : corrigez la cause, puis « Relancer »."
    if s in (State.SENT, State.CANCEL_REQUESTED, State.ACCEPTED) and t.next_attempt_at is not None:
        return f"Prochaine vérification {_in(t.next_attempt_at, now)}."
    return None


def _in(at: dt.datetime | None, now: dt.datetime) -> str:
    if at is None:
        return "—"
    seconds = (at - now).total_seconds()
    if seconds <= 0:
        return "maintenant"
    if seconds < 60:
        return f"dans {seconds:.0f} s"
    if seconds < 5400:
        return f"dans {seconds / 60:.0f} min"
    return f"le {when(at)}"


def size(n: int) -> str:
    """A byte count for a person (octets, Ko, Mo, Go)."""
    value = float(n)
    for unit in ("octets", "Ko", "Mo", "Go"):
        if value < 1024 or unit == "Go":
            return f"{value:.0f} {unit}" if unit == "octets" else f"{value:.1f} {unit}".replace(".", ",")
        value /= 1024
    return f"{n} octets"


__all__ = [
    "EVENTS",
    "FLOWS",
    "IDENTIFIERS",
    "OVERDUE",
    "PARIS",
    "STATES",
    "TONES",
    "event",
    "flow",
    "hint",
    "identifiers",
    "iso",
    "size",
    "state",
    "when",
    "when_text",
]
