"""S²LOW's transaction status codes and what each means for a transmission, one table per module.

Each row is a code, S²LOW's own label, the :class:`~demat.tracking.states.Event` the code
means for the transmission, and the document that becomes available with it (``"ack"``: the
PES_ACQUIT to download; ``"aracte"``: the ARActe that comes with the status reply;
``"anomalie"``: the AnomalieActe / AnomalieEnveloppe that comes with it). The client puts the
row's meaning on each status it reads (:class:`~demat.transport.protocol.PlatformStatus`), so
flows never compare S²LOW's codes themselves. Pure data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

from demat.tracking.states import Event

E = Event


class HeliosStatusCode(IntEnum):
    """S²LOW HELIOS transaction status (``src/Enum/HeliosStatus.php``; reference/pes.md §4)."""

    ERREUR = -1
    ANNULE = 0
    POSTE = 1
    EN_ATTENTE = 2
    TRANSMIS = 3
    ACQUITTE = 4
    VALIDE = 5
    REFUSE = 6
    EN_TRAITEMENT = 7
    INFORMATION_DISPONIBLE = 8
    ENVOYE_AU_SAE = 9
    ACCEPTE_PAR_SAE = 10
    REFUSE_PAR_SAE = 11
    ATTENTE_SIGNEE = 13
    ATTENTE_POSTEE = 14
    EN_ATTENTE_TRANSMISSION_SAE = 19
    ERREUR_LORS_DE_L_ENVOI_SAE = 20
    DETRUITE = 22
    TRANSMIS_SANS_ACK = 24


class ActesStatusCode(IntEnum):
    """S²LOW ACTES transaction status (``class/actes/ActesStatusSQL.php``; reference/actes.md §3)."""

    ERREUR = -1
    ANNULE = 0
    POSTE = 1
    EN_ATTENTE_DE_TRANSMISSION = 2
    TRANSMIS = 3
    ACQUITTEMENT_RECU = 4
    VALIDE = 5
    REFUSE = 6
    DOCUMENT_RECU = 7
    ACQUITTEMENT_ENVOYE = 8
    REPONSE_ACQUITTEE = 11
    ENVOYE_AU_SAE = 12
    ARCHIVE_PAR_LE_SAE = 13
    ERREUR_ARCHIVAGE = 14
    DETRUITE = 16
    EN_ATTENTE_D_ETRE_POSTEE = 17
    EN_ATTENTE_D_ETRE_SIGNEE = 18
    EN_ATTENTE_DE_TRANSMISSION_SAE = 19
    ERREUR_ENVOI_SAE = 20
    DOCUMENT_RECU_PAS_D_AR = 21
    ERREUR_SAE_DOCUMENTS_INDISPONIBLES = 22


@dataclass(frozen=True)
class StatusRow:
    """One status code: S²LOW's label, the event it means, the document that comes with it."""

    code: int
    label: str
    event: Event
    fetch: str | None = None


@dataclass(frozen=True)
class StatusTable:
    """A module's status codes. A code S²LOW adds later reads as progress (the transmission
    stays where it is, the code and its number journaled) rather than breaking the poller."""

    name: str
    rows: Mapping[int, StatusRow]

    def __getitem__(self, code: int) -> StatusRow:
        return self.rows.get(code) or StatusRow(code, f"statut {code} inconnu de demat", E.PROGRESS)


def _table(name: str, rows: list[StatusRow]) -> StatusTable:
    return StatusTable(name, {row.code: row for row in rows})


H = HeliosStatusCode

#: Pastell treats 4, 6 and 8 as final and downloads the PES_ACQUIT then; 5 and the SAE statuses
#: (9–20) come after the ACK on S²LOW's side, so it is there too. The ACK's own verdict decides
#: between ACK_OK and ACK_KO (EtatAck=0 under status 4 is a rejection). 22 closes a destroyed
#: transaction, 24 a PES_ACQUIT_RETOUR, which gets no ACK.
HELIOS = _table(
    "S²LOW HELIOS",
    [
        StatusRow(H.ERREUR, "Erreur", E.REFUSED),
        StatusRow(H.ANNULE, "Annulé", E.CANCELLED),
        StatusRow(H.POSTE, "Posté", E.PROGRESS),
        StatusRow(H.EN_ATTENTE, "En attente de transmission", E.PROGRESS),
        StatusRow(H.TRANSMIS, "Transmis", E.PROGRESS),
        StatusRow(H.ACQUITTE, "Acquittement reçu", E.ACK_OK, "ack"),
        StatusRow(H.VALIDE, "Validé", E.ACK_OK, "ack"),
        StatusRow(H.REFUSE, "Refusé", E.ACK_KO, "ack"),
        StatusRow(H.EN_TRAITEMENT, "En traitement", E.PROGRESS),
        StatusRow(H.INFORMATION_DISPONIBLE, "Information disponible", E.ACK_OK, "ack"),
        StatusRow(H.ENVOYE_AU_SAE, "Envoyé au SAE", E.ACK_OK, "ack"),
        StatusRow(H.ACCEPTE_PAR_SAE, "Accepté par le SAE", E.ACK_OK, "ack"),
        StatusRow(H.REFUSE_PAR_SAE, "Refusé par le SAE", E.ACK_OK, "ack"),
        StatusRow(H.ATTENTE_SIGNEE, "En attente d'être signé", E.PROGRESS),
        StatusRow(H.ATTENTE_POSTEE, "En attente d'être posté", E.PROGRESS),
        StatusRow(H.EN_ATTENTE_TRANSMISSION_SAE, "En attente de transmission au SAE", E.ACK_OK, "ack"),
        StatusRow(H.ERREUR_LORS_DE_L_ENVOI_SAE, "Erreur lors de l'envoi au SAE", E.ACK_OK, "ack"),
        StatusRow(H.DETRUITE, "Détruit", E.ACK_OK),
        StatusRow(H.TRANSMIS_SANS_ACK, "Transmis sans acquittement", E.ACK_OK),
    ],
)

A = ActesStatusCode

#: -1 comes with an AnomalieActe/AnomalieEnveloppe (the ministry refused the acte), 4 with the
#: ARActe. For the transmission itself Pastell reads 7 as "AR non disponible pour le moment",
#: so it is progress. 8, 11 and 21 close response and courrier transactions; 12–22 are the
#: tiers' own archiving, after the AR. On an annulation transaction (type 6), 4 is its
#: ARAnnulation and -1 a refusal.
ACTES = _table(
    "S²LOW ACTES",
    [
        StatusRow(A.ERREUR, "Erreur", E.ACK_KO, "anomalie"),
        StatusRow(A.ANNULE, "Annulé", E.CANCELLED),
        StatusRow(A.POSTE, "Posté", E.PROGRESS),
        StatusRow(A.EN_ATTENTE_DE_TRANSMISSION, "En attente de transmission", E.PROGRESS),
        StatusRow(A.TRANSMIS, "Transmis", E.PROGRESS),
        StatusRow(A.ACQUITTEMENT_RECU, "Acquittement reçu", E.ACK_OK, "aracte"),
        StatusRow(A.VALIDE, "Validé", E.ACK_OK, "aracte"),
        StatusRow(A.REFUSE, "Refusé", E.REFUSED),
        StatusRow(A.DOCUMENT_RECU, "Document reçu", E.PROGRESS),
        StatusRow(A.ACQUITTEMENT_ENVOYE, "Acquittement envoyé", E.ACK_OK),
        StatusRow(A.REPONSE_ACQUITTEE, "Acquittement reçu (réponse)", E.ACK_OK),
        StatusRow(A.ENVOYE_AU_SAE, "Envoyé au SAE", E.ACK_OK, "aracte"),
        StatusRow(A.ARCHIVE_PAR_LE_SAE, "Archivé par le SAE", E.ACK_OK, "aracte"),
        StatusRow(A.ERREUR_ARCHIVAGE, "Erreur lors de l'archivage", E.ACK_OK, "aracte"),
        StatusRow(A.DETRUITE, "Détruite", E.ACK_OK),
        StatusRow(A.EN_ATTENTE_D_ETRE_POSTEE, "En attente d'être postée", E.PROGRESS),
        StatusRow(A.EN_ATTENTE_D_ETRE_SIGNEE, "En attente d'être signée", E.PROGRESS),
        StatusRow(A.EN_ATTENTE_DE_TRANSMISSION_SAE, "En attente de transmission au SAE", E.ACK_OK, "aracte"),
        StatusRow(A.ERREUR_ENVOI_SAE, "Erreur lors de l'envoi au SAE", E.ACK_OK, "aracte"),
        StatusRow(A.DOCUMENT_RECU_PAS_D_AR, "Document reçu (pas d'AR)", E.ACK_OK),
        StatusRow(A.ERREUR_SAE_DOCUMENTS_INDISPONIBLES, "Erreur SAE : documents indisponibles", E.ACK_OK),
    ],
)

__all__ = ["ACTES", "HELIOS", "ActesStatusCode", "HeliosStatusCode", "StatusRow", "StatusTable"]
