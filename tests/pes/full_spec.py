"""A PES_Aller specification that gives every field of every model.

The builder's golden file and the scanner's every-leaf test are made from it.
"""

from __future__ import annotations

import copy
from typing import Any

PJ_CONTENT = "%PDF-1.4 facture n° 1 — «test»".encode()

_PJREF = {"Support": "01", "IdUnique": "PJ2024000001", "NomPJ": "facture.pdf", "TypePJ": "003"}
_ADRESSE = {
    "TypAdr": "1",
    "Adr1": "Bâtiment B",
    "Adr2": "12 rue de la Forêt",
    "Adr3": "Lieu-dit Les Ormes",
    "CP": "31000",
    "Ville": "Toulouse",
    "CodRes": False,
    "CodPays": 100,
    "DteAdr": "2024-01-15",
}
_BANQUE = {
    "BIC": "SOGEFRPPXXX",
    "IBAN": "FR76 3000 3017 0200 0201 0412 521",
    "LibBanc": "Société Générale",
    "TitCpte": "Façonnage",
    "DteBanc": "2023-12-01",
}
_LIENS = {
    "IdConv": "CONV-1",
    "IdMarche": "M2024-07",
    "IdEmpruntOrdo": "EMP1",
    "IdActif": "ACT9",
    "IdRegie": "REG1",
}


def full_spec() -> dict[str, Any]:
    """A PES_Aller spec in which every field of every model is given (see the coverage test)."""
    return copy.deepcopy(_FULL_SPEC)


_FULL_SPEC: dict[str, Any] = {
    "Id": "PES_FULL",
    "Enveloppe": {
        "Version": 2,
        "TypFic": "PESALR2",
        "NomFic": "PESALR2_21310555400017_FULL",
        "Emetteur": {"Sigle": "demat", "Adresse": "demat 0.1"},
        "Recepteur": {"Sigle": "DGFiP", "Adresse": "Hélios"},
    },
    "EnTetePES": {
        "DteStr": "2024-03-01",
        "IdPost": "031007",
        "LibellePoste": "Trésorerie de Muret",
        "IdColl": "21310555400017",
        "FinJur": "310000001",
        "CodCol": "100",
        "CodBud": "00",
        "LibelleColBud": "Commune de Saint-Félix",
    },
    "PES_DepenseAller": {
        "IdVer": 2,
        "InfoDematerialisee": False,
        "Bordereau": [
            {
                "Id": "BD1",
                "Exer": 2024,
                "IdBord": 12,
                "DteBordEm": "2024-03-01",
                "TypBord": "01",
                "NbrPce": 1,
                "MtCumulAnnuel": "4500.10",
                "MtBordHT": "100.00",
                "MtBordTVA": "20.00",
                "Piece": [
                    {
                        "CodServ": "SERV1",
                        "Affect": "AFF1",
                        "IdPce": 301,
                        "TypPce": "01",
                        "NatPce": "01",
                        "Obj": "Fournitures de l'école",
                        "DteEch": "2024-04-01",
                        "PJRef": [_PJREF],
                        "PJ": "Facture papier n° 12",
                        "CarteAchatNiveau1": True,
                        "DGP": {
                            "Dgp": True,
                            "DteDebDgp": "2024-03-01",
                            "DteFinDgp": "2024-03-31",
                            "DureeDgp": 30,
                            "CodIntMor": "01",
                            "TxIntMor": "8.15",
                        },
                        "LigneDePiece": [
                            {
                                "IdLigne": 1,
                                "Nature": "60628",
                                "Fonction": "213",
                                "Operation": "12",
                                "CptAna": "ANA1",
                                "Facture": "F-2024-001",
                                "LibVir1": "Facture F-2024-001",
                                "LibVir2": "Commune de Saint-Félix",
                                "ModRegl": "03",
                                "TVAIntraCom": True,
                                "CpteTiers": "401",
                                "MtHT": "100.00",
                                "MtTVA": "20.00",
                                "MtFactHT": "100.00",
                                "PJRef": [_PJREF],
                                "LiensIdent": _LIENS,
                                "Tiers": {
                                    "InfoTiers": {
                                        "IdTiers": "37909534200018",
                                        "NatIdTiers": "01",
                                        "DteIdTiers": "2020-02-02",
                                        "RefTiers": "T0001",
                                        "CatTiers": "50",
                                        "NatJur": "03",
                                        "Civilite": "M",
                                        "Nom": "Façonnage Sàrl",
                                        "ComplNom": "Atelier",
                                        "Prenom": "Jérôme",
                                    },
                                    "Adresse": _ADRESSE,
                                    "CpteBancaire": _BANQUE,
                                },
                            }
                        ],
                    }
                ],
            }
        ],
    },
    "PES_RecetteAller": {
        "IdVer": 2,
        "InfoDematerialisee": False,
        "Bordereau": [
            {
                "Id": "BR1",
                "Exer": 2024,
                "IdBord": 7,
                "DteBordEm": "2024-03-02",
                "TypBord": "06",
                "NbrPce": 1,
                "MtCumulAnnuel": "1200.00",
                "MtBordHt": "50.00",
                "MtBordTVA": "5.50",
                "DteAsp": "2024-03-05",
                "Objet": "Rôle de cantine",
                "Piece": [
                    {
                        "CodServ": "CANT",
                        "Affect": "ECO",
                        "IdPce": 44,
                        "TypPce": "15",
                        "NatPce": "01",
                        "IdRol": 3,
                        "DteAsp": "2024-03-05",
                        "Edition": "01",
                        "ObjPce": "Cantine de mars",
                        "NumDette": 123456,
                        "Per": "3",
                        "Cle1": "7",
                        "Cle2": "A",
                        "PJRef": [_PJREF],
                        "LigneDePiece": [
                            {
                                "IdLigne": 1,
                                "ObjLignePce": "Repas",
                                "CodProdLoc": "CANT",
                                "Nature": "7067",
                                "Fonction": "251",
                                "Operation": "OP1",
                                "TxTva": "5.50",
                                "Majo": True,
                                "CpteTiers": "4111",
                                "TvaIntraCom": False,
                                "MtHT": "50.00",
                                "MtTVA": "5.50",
                                "MtNonMajo": "10.00",
                                "PJRef": [_PJREF],
                                "LiensIdent": _LIENS,
                                "Tiers": [
                                    {
                                        "InfoTiers": {
                                            "IdTiers": "1234567890",
                                            "DteNaissance": "1980-05-17",
                                            "NatIdTiers": "02",
                                            "DteIdTiers": "2020-01-01",
                                            "RefTiers": "FAM-12",
                                            "CatTiers": "01",
                                            "NatJur": "01",
                                            "TypTiers": "01",
                                            "Civilite": "Mme",
                                            "Nom": "Garçon",
                                            "ComplNom": "née Lefèvre",
                                            "Prenom": "Noémie",
                                        },
                                        "Adresse": _ADRESSE,
                                        "CpteBancaire": _BANQUE,
                                    },
                                    {
                                        "InfoTiers": {"CatTiers": "01", "NatJur": "01", "Nom": "Garçon"},
                                        "Adresse": {
                                            "Adr2": "1 place de l'Église",
                                            "CP": "81000",
                                            "Ville": "Albi",
                                        },
                                    },
                                ],
                            }
                        ],
                    }
                ],
            }
        ],
    },
    "PES_PJ": {
        "IdVer": 1,
        "PJ": [
            {
                "Donnees": PJ_CONTENT,
                "MIMEType": "application/pdf",
                "IdUnique": "PJ2024000001",
                "ServeurId": "SRV1",
                "NomPJ": "facture.pdf",
                "TypePJ": "003",
                "Description": "Facture n° 1 - été",
                "RefCompta": [
                    {
                        "Domaine": "01",
                        "Exercice": 2024,
                        "TypeObjet": "01",
                        "Identifiant": "12/301",
                        "ComplementIdentifiant": "L1",
                        "IdTiers": "T0001",
                    }
                ],
            }
        ],
    },
}
