"""Deterministic, realistic synthetic PES_Aller files for demos, tests and benchmarks.

Everything derives from one ``seed``: same arguments, same bytes. Tiers carry French names
with accents (é, à, ç), valid SIRET (Luhn) and IBAN (mod 97) numbers; amounts are consistent
(NbrPce, MtBordHT, MtCumulAnnuel) unless ``wrong_totals=True`` asks for a file that Hélios
rejects (MtBordHT of the first bordereau ≠ Σ MtHT of its lines): ``pes validate`` and the gateway
refuse it before sending, the sandbox's DGFiP answers ERREUR_CUMUL_MONTANTS.

PJ contents are produced on demand, chunk by chunk, from the seed (PDF-looking, incompressible
bytes), so :func:`write_synthetic` reaches 100 MB or 500 MB with bounded memory.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Literal

from demat.pes import model as m
from demat.pes.build import PesWriter, atomic_output

Domain = Literal["depense", "recette"]

_COMPANIES = [
    "Électricité Réseau Distribution",
    "Boulangerie Façon d'Antan",
    "Garage de la Mairie",
    "Société des Eaux du Cérou",
    "Imprimerie Lefèvre & Fils",
    "Bâtiment Génie Civil Occitan",
    "Librairie Les Mots Croisés",
    "Cantine Bio Régionale",
    "Transports Scolaires Gaël",
    "Papeterie Française",
    "Espaces Verts du Lauragais",
    "Informatique Câblage Sud",
]
_PERSONS = [
    ("M", "Dupré", "François"),
    ("Mme", "Garçon", "Noémie"),
    ("Mme", "Lefèvre", "Hélène"),
    ("M", "Bénard", "Jérôme"),
    ("Mme", "Müller", "Agnès"),
    ("M", "Nguyen", "Loïc"),
    ("Mme", "Da Silva", "Inès"),
    ("M", "Moreau", "Cédric"),
]
_STREETS = [
    "rue de la République",
    "place de l'Église",
    "avenue Jean-Jaurès",
    "chemin des Écoliers",
    "boulevard Général-de-Gaulle",
    "impasse des Tilleuls",
    "route de Montpellier",
    "allée des Châtaigniers",
]
_CITIES = [
    ("31000", "Toulouse"),
    ("81000", "Albi"),
    ("34000", "Montpellier"),
    ("11000", "Carcassonne"),
    ("82000", "Montauban"),
    ("09000", "Foix"),
    ("12000", "Rodez"),
    ("46000", "Cahors"),
]
# (nature, NatPce, object) for dépense: fonctionnement 01, investissement 02.
_DEPENSES = [
    ("60611", "01", "Consommation d'eau bâtiments communaux"),
    ("60612", "01", "Électricité éclairage public"),
    ("6067", "01", "Fournitures scolaires école élémentaire"),
    ("61521", "01", "Entretien des espaces verts"),
    ("6156", "01", "Maintenance logiciel comptabilité"),
    ("6231", "01", "Annonces et insertions marché public"),
    ("6251", "01", "Déplacements formation agents"),
    ("2183", "02", "Matériel informatique médiathèque"),
    ("2313", "02", "Réfection toiture de l'église"),
]
# (CodProdLoc, nature, object) for recette.
_RECETTES = [
    ("CANT", "7067", "Restauration scolaire"),
    ("GARD", "7066", "Garderie périscolaire"),
    ("LOCS", "752", "Location salle des fêtes"),
    ("CONC", "70311", "Concession cimetière"),
    ("EAUX", "70111", "Vente d'eau"),
]
_BANKS = [("30003", "SOGEFRPP"), ("30004", "BNPAFRPP"), ("10278", "CMCIFR2A"), ("20041", "PSSTFRPP")]

_MB = 1024 * 1024


def _luhn_complete(digits: str) -> str:
    """Append the Luhn check digit (SIREN/SIRET rule)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return digits + str((10 - total % 10) % 10)


def _iban_fr(bank: str, guichet: str, account: str) -> str:
    rib_key = 97 - (89 * int(bank) + 15 * int(guichet) + 3 * int(account)) % 97
    bban = f"{bank}{guichet}{account}{rib_key:02d}"
    check = 98 - int(bban + "152700") % 97  # "FR00" → F=15, R=27
    return f"FR{check:02d}{bban}"


def _pdf_chunks(seed: int, size: int, chunk: int = 1024 * 1024) -> Iterator[bytes]:
    """``size`` bytes that look like a PDF: header, incompressible body, trailer; deterministic."""
    rng = random.Random(seed)
    head = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    tail = b"\n%%EOF\n"
    body = max(0, size - len(head) - len(tail))
    yield head[:size]
    while body > 0:
        n = min(chunk, body)
        yield rng.randbytes(n)
        body -= n
    if size > len(head):
        yield tail[: size - len(head)]


@dataclass
class _Factory:
    """Makes bordereaux, pièces and PJ from a seeded generator."""

    siret: str
    domain: Domain
    exer: int
    seed: int
    pieces_per_bordereau: int
    lines: int
    ormc: bool
    wrong_totals: bool

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.cumul = Decimal("0.00")
        self.next_piece = 1
        self.day0 = date(self.exer, 1, 15)

    # -- building blocks -----------------------------------------------------------------------

    def _amount(self) -> Decimal:
        return Decimal(self.rng.randint(500, 2_500_000)) / 100

    def _adresse(self) -> m.Adresse:
        cp, ville = self.rng.choice(_CITIES)
        return m.Adresse(
            adr2=f"{self.rng.randint(1, 120)} {self.rng.choice(_STREETS)}"[:38], cp=cp, ville=ville
        )

    def _cpte(self, titulaire: str) -> m.CpteBancaire:
        bank, bic = self.rng.choice(_BANKS)
        guichet = f"{self.rng.randint(0, 99999):05d}"
        account = f"{self.rng.randint(0, 10**11 - 1):011d}"
        return m.CpteBancaire(bic=bic, iban=_iban_fr(bank, guichet, account), tit_cpte=titulaire[:32])

    def pj_id(self, index: int) -> str:
        kind = "DEP" if self.domain == "depense" else "REC"
        return f"{self.siret}{kind}{self.exer}{index:06d}"

    @staticmethod
    def pj_name(index: int) -> str:
        return f"FACTURE_{index:06d}.pdf"

    def _pj_refs(self, pj_indexes: list[int]) -> list[m.PJRef]:
        return [
            m.PJRef(id_unique=self.pj_id(i), nom_pj=self.pj_name(i), type_pj=self._type_pj)
            for i in pj_indexes
        ]

    @property
    def _type_pj(self) -> Literal["003", "002"]:
        return "003" if self.domain == "depense" else "002"

    # -- dépense -------------------------------------------------------------------------------

    def _tiers_depense(self) -> m.TiersDepense:
        name = self.rng.choice(_COMPANIES)
        siret = _luhn_complete(f"{self.rng.randint(10**12, 10**13 - 1)}")
        return m.TiersDepense(
            info_tiers=m.InfoTiersDepense(
                id_tiers=siret,
                nat_id_tiers="01",
                ref_tiers=str(self.rng.randint(1000, 99999)),
                cat_tiers="50",
                nat_jur="03",
                nom=name[:38],
            ),
            adresse=self._adresse(),
            cpte_bancaire=self._cpte(name),
        )

    def _piece_depense(self, pj_indexes: list[int]) -> m.PieceDepense:
        nature, nat_pce, obj = self.rng.choice(_DEPENSES)
        tiers = self._tiers_depense()
        id_pce = self.next_piece
        self.next_piece += 1
        facture = f"F{self.exer}-{self.rng.randint(1, 99999):05d}"
        lignes = [
            m.LigneDepense(
                id_ligne=n,
                nature=nature,
                fonction=self.rng.choice(["020", "212", "814", "822"]),
                facture=facture,
                lib_vir1=f"Facture {facture}",
                lib_vir2=obj[:70],
                mod_regl="03",
                mt_ht=self._amount(),
                tiers=tiers,
            )
            for n in range(1, self.lines + 1)
        ]
        return m.PieceDepense(
            id_pce=id_pce,
            typ_pce="01",
            nat_pce=nat_pce,
            obj=obj,
            pj_refs=self._pj_refs(pj_indexes),
            lignes=lignes,
        )

    def bordereau_depense(self, index: int, pj_for_piece: dict[int, list[int]]) -> m.BordereauDepense:
        pieces = []
        for _ in range(self.pieces_per_bordereau):
            pieces.append(self._piece_depense(pj_for_piece.get(self.next_piece, [])))
        total = sum((li.mt_ht for p in pieces for li in p.lignes), Decimal("0.00"))
        self.cumul += total
        declared = total + Decimal("100.00") if (self.wrong_totals and index == 0) else None
        return m.BordereauDepense(
            exer=self.exer,
            id_bord=index + 1,
            dte_bord_em=self.day0 + timedelta(days=index % 300),
            typ_bord="01",
            mt_cumul_annuel=self.cumul,
            mt_bord_ht=declared,
            pieces=pieces,
        )

    # -- recette -------------------------------------------------------------------------------

    def _tiers_recette(self) -> m.TiersRecette:
        civ, nom, prenom = self.rng.choice(_PERSONS)
        return m.TiersRecette(
            info_tiers=m.InfoTiersRecette(
                ref_tiers=str(self.rng.randint(1000, 99999)),
                cat_tiers="01",
                nat_jur="01",
                typ_tiers="01",
                civilite=civ,
                nom=nom,
                prenom=prenom,
            ),
            adresse=self._adresse(),
        )

    def _piece_recette(self, pj_indexes: list[int], dte: date) -> m.PieceRecette:
        code, nature, obj = self.rng.choice(_RECETTES)
        id_pce = self.next_piece
        self.next_piece += 1
        tiers = [self._tiers_recette()]
        lignes = [
            m.LigneRecette(
                id_ligne=n,
                obj_ligne_pce=f"{obj} {dte:%m/%Y}",
                cod_prod_loc=code,
                nature="588" if self.ormc else nature,
                mt_ht=self._amount(),
                tiers=tiers,
            )
            for n in range(1, self.lines + 1)
        ]
        return m.PieceRecette(
            id_pce=id_pce,
            typ_pce="15" if self.ormc else "01",
            nat_pce="01",
            obj_pce=None if self.ormc else obj,
            num_dette=id_pce if self.ormc else None,
            per="1" if self.ormc else None,
            pj_refs=self._pj_refs(pj_indexes),
            lignes=lignes,
        )

    def bordereau_recette(self, index: int, pj_for_piece: dict[int, list[int]]) -> m.BordereauRecette:
        dte = self.day0 + timedelta(days=index % 300)
        pieces = [
            self._piece_recette(pj_for_piece.get(self.next_piece, []), dte)
            for _ in range(self.pieces_per_bordereau)
        ]
        total = sum((li.mt_ht for p in pieces for li in p.lignes), Decimal("0.00"))
        self.cumul += total
        declared = total + Decimal("100.00") if (self.wrong_totals and index == 0) else None
        return m.BordereauRecette(
            exer=self.exer,
            id_bord=index + 1,
            dte_bord_em=dte,
            typ_bord="06" if self.ormc else "01",
            mt_cumul_annuel=None if self.ormc else self.cumul,
            mt_bord_ht=declared,
            dte_asp=dte + timedelta(days=5) if self.ormc else None,
            objet=f"Rôle {dte:%m/%Y}" if self.ormc else None,
            pieces=pieces,
        )

    def bordereau(
        self, index: int, pj_for_piece: dict[int, list[int]]
    ) -> m.BordereauDepense | m.BordereauRecette:
        if self.domain == "depense":
            return self.bordereau_depense(index, pj_for_piece)
        return self.bordereau_recette(index, pj_for_piece)

    # -- PJ ------------------------------------------------------------------------------------

    def pj(self, index: int, size: int) -> m.PJ:
        seed = self.seed * 1_000_003 + index
        return m.PJ(
            source=lambda: _pdf_chunks(seed, size),
            mime_type="application/pdf",
            id_unique=self.pj_id(index),
            nom_pj=self.pj_name(index),
            type_pj=self._type_pj,
            description=f"Facture n° {index} jointe au {'mandat' if self.domain == 'depense' else 'titre'}",
        )


def _header(
    *, siret: str, id_post: str, cod_col: str, cod_bud: str, exer: int, nom_fic: str | None, seed: int
) -> tuple[m.Enveloppe, m.EnTetePES]:
    enveloppe = m.Enveloppe(
        nom_fic=nom_fic or f"PESALR2_{siret}_{exer % 100:02d}0315_{seed % 1000:03d}",
        emetteur=m.Emetteur(sigle="demat", adresse="demat synthetic"),
    )
    en_tete = m.EnTetePES(
        dte_str=date(exer, 3, 15),
        id_post=id_post,
        id_coll=siret,
        cod_col=cod_col,
        cod_bud=cod_bud,
        libelle_col_bud="Commune de Saint-Félix-Lauragais",
    )
    return enveloppe, en_tete


def _pj_assignment(pj_count: int, total_pieces: int) -> dict[int, list[int]]:
    """Which PJ (1-based) each piece (1-based IdPce) references: spread evenly."""
    mapping: dict[int, list[int]] = {}
    for i in range(1, pj_count + 1):
        piece = 1 + (i - 1) * max(total_pieces, 1) // max(pj_count, 1)
        mapping.setdefault(piece, []).append(i)
    return mapping


def synthetic_pes(
    *,
    siret: str = "21310555400017",
    id_post: str = "031007",
    cod_col: str = "100",
    cod_bud: str = "00",
    bordereaux: int = 2,
    pieces_per_bordereau: int = 3,
    lines: int = 2,
    pj_count: int = 1,
    pj_size: int = 20_000,
    domain: Domain = "depense",
    ormc: bool = False,
    exer: int = 2024,
    seed: int = 0,
    wrong_totals: bool = False,
    nom_fic: str | None = None,
) -> m.PesAller:
    """A complete synthetic PES_Aller model (in memory, PJ contents generated when written).

    ``ormc=True`` (recette only) makes ORMC rôles (TypBord 06, TypPce 15). ``wrong_totals=True``
    makes MtBordHT/MtBordHt of the first bordereau exceed the sum of its lines by 100.00.
    """
    factory = _Factory(siret, domain, exer, seed, pieces_per_bordereau, lines, ormc, wrong_totals)
    enveloppe, en_tete = _header(
        siret=siret, id_post=id_post, cod_col=cod_col, cod_bud=cod_bud, exer=exer, nom_fic=nom_fic, seed=seed
    )
    assignment = _pj_assignment(pj_count, bordereaux * pieces_per_bordereau)
    pjs = m.PesPJ(pjs=[factory.pj(i, pj_size) for i in range(1, pj_count + 1)]) if pj_count else None
    if domain == "depense":
        dep = [factory.bordereau_depense(i, assignment) for i in range(bordereaux)]
        return m.PesAller(
            enveloppe=enveloppe, en_tete=en_tete, depense=m.PesDepenseAller(bordereaux=dep), pj=pjs
        )
    rec = [factory.bordereau_recette(i, assignment) for i in range(bordereaux)]
    return m.PesAller(enveloppe=enveloppe, en_tete=en_tete, recette=m.PesRecetteAller(bordereaux=rec), pj=pjs)


@dataclass(frozen=True)
class SyntheticStats:
    """What :func:`write_synthetic` wrote."""

    path: Path
    size: int
    bordereaux: int
    pieces: int
    pjs: int
    pj_size: int


def _parse_size(value: int | str) -> int:
    if isinstance(value, int):
        return value
    text = value.strip().upper().replace(" ", "")
    units = {"GB": 1024**3, "G": 1024**3, "MB": _MB, "M": _MB, "KB": 1024, "K": 1024, "B": 1}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * factor)
    return int(text)


def write_synthetic(
    path: Path,
    target_bytes: int | str,
    *,
    siret: str = "21310555400017",
    id_post: str = "031007",
    cod_col: str = "100",
    cod_bud: str = "00",
    domain: Domain = "depense",
    ormc: bool = False,
    pieces_per_bordereau: int = 20,
    lines: int = 2,
    pj_size: int = 2 * _MB,
    xml_share: float = 0.2,
    exer: int = 2024,
    seed: int = 0,
    wrong_totals: bool = False,
    nom_fic: str | None = None,
    pj_level: int = 1,
) -> SyntheticStats:
    """Write a synthetic PES of roughly ``target_bytes`` (``int`` or ``"100MB"``) to ``path``.

    About ``xml_share`` of the size is bordereaux (as many as needed), the rest PJ of about
    ``pj_size`` raw bytes each, whose exact size is tuned once the bordereaux are written so the
    file lands close to the target. Memory stays bounded: bordereaux are generated one at a time
    and PJ contents are streamed from the seed. ``pj_level`` is the gzip level (1 is fast; the
    generated content does not compress anyway).
    """
    target = _parse_size(target_bytes)
    path = Path(path)
    factory = _Factory(siret, domain, exer, seed, pieces_per_bordereau, lines, ormc, wrong_totals)
    enveloppe, en_tete = _header(
        siret=siret, id_post=id_post, cod_col=cod_col, cod_bud=cod_bud, exer=exer, nom_fic=nom_fic, seed=seed
    )
    b64_per_pj = pj_size * 4 // 3
    pj_budget = int(target * (1 - xml_share))
    pj_count = max(1, pj_budget // b64_per_pj) if pj_budget > 4096 else 0
    xml_budget = target - pj_count * b64_per_pj if pj_count else target
    # Spread PJRef over the first pieces; enough bordereaux are written to hold them all.
    assignment = {i: [i] for i in range(1, pj_count + 1)}
    min_bordereaux = max(1, -(-pj_count // pieces_per_bordereau))

    with atomic_output(path) as out:
        writer = PesWriter(out, enveloppe, en_tete, pj_level=pj_level)

        def written(handle: IO[bytes] = out) -> int:
            writer.flush()
            return handle.tell()

        def bordereaux() -> Iterator[m.BordereauDepense | m.BordereauRecette]:
            index = 0
            while index < min_bordereaux or written() < xml_budget:
                yield factory.bordereau(index, assignment)
                index += 1

        with writer:
            if domain == "depense":
                writer.write_depense(bordereaux())  # type: ignore[arg-type]
            else:
                writer.write_recette(bordereaux())  # type: ignore[arg-type]
            final_pj_size = 0
            if pj_count:
                # Per PJ: base64 of gzip (≈ raw + 0.03 % for stored blocks) + ~300 bytes of tags.
                remaining = target - written() - 40
                per_pj = max(0, remaining // pj_count - 300)
                final_pj_size = max(1024, int(per_pj * 3 / 4 / 1.0004) - 32)
                writer.write_pjs(factory.pj(i, final_pj_size) for i in range(1, pj_count + 1))
    return SyntheticStats(
        path=path,
        size=path.stat().st_size,
        bordereaux=writer.bordereaux,
        pieces=writer.pieces,
        pjs=writer.pjs,
        pj_size=final_pj_size,
    )


__all__ = ["SyntheticStats", "synthetic_pes", "write_synthetic"]
