"""Word lists for the synthetic extract generator (`epj.migration.generate`).

Small, invented Norwegian vocabularies: common first names and surnames combined at random
(so no generated person is a real one), generic street names, note sentences in the style of
home-care and health-station documentation, and a short medication list with real ATC codes.
Kept apart from the generator so the generator reads as logic, not as data. Every string here
is encodable in Windows-1252 (Profil's encoding); the generator writes with ``errors="strict"``.
"""

from __future__ import annotations

from typing import Final

FEMALE_NAMES: Final[tuple[str, ...]] = (
    "Aud", "Astrid", "Borghild", "Else", "Ingrid", "Kari", "Margit", "Åse", "Åshild", "Turid",
    "Sølvi", "Gunnhild", "Solveig", "Randi", "Bjørg", "Marit", "Ragnhild", "Signe", "Liv", "Gerd",
    "Ida", "Sara", "Marte", "Julie", "Silje", "Ingvild", "Tonje", "Camilla", "Renée", "Kristine",
    "Maja", "Nora", "Emma", "Ylva", "Frøya", "Thea", "Hedda", "Live", "Sofie", "Tiril",
)  # fmt: skip
MALE_NAMES: Final[tuple[str, ...]] = (
    "Aksel", "Egil", "Einar", "Knut", "Terje", "Even", "Magne", "William", "Arne", "Bjørn",
    "Håkon", "Olav", "Sverre", "Øystein", "Ola", "Per", "Kjell", "Tor", "Gunnar", "Leif",
    "Simen", "Marius", "Espen", "Trond", "Kristian", "Håvard", "Fredrik", "Sindre", "Andreas", "José",
    "Jonas", "Filip", "Emil", "Noah", "Oskar", "Isak", "Lukas", "Ludvig", "Matheo", "Johan",
)  # fmt: skip
SURNAMES: Final[tuple[str, ...]] = (
    "Aasen", "Amundsen", "Bakke", "Berg", "Berntsen", "Dahl", "Forbord", "Flønes", "Græsli", "Hagen",
    "Halvorsen", "Hegre", "Holmen", "Håland", "Iversen", "Jakobsen", "Johannessen", "Knutsen", "Kristiansen",
    "Kvål", "Larsen", "Lie", "Lund", "Lunde", "Mathisen", "Moe", "Müller", "Nguyen", "Nilsen", "Næss",
    "Paulsen", "Pedersen", "Sæther", "Solheim", "Solberg", "Strand", "Svendsen", "Søreng", "Sørensen",
    "Vikan", "Væremo", "Wæhre", "Østby", "Øien",
)  # fmt: skip
STREETS: Final[tuple[str, ...]] = (
    "Kirkeveien", "Ringvegen", "Husbyvegen", "Sognevegen", "Stokkanvegen", "Gamle Kongeveg", "Fosslia",
    "Mælenvegen", "Søndre gate", "Nedre Sandfærhus", "Bjørnstads veg", "Hegramovegen", "Lånkevegen",
    "Skogvegen", "Bekkevegen", "Åsvegen", "Storgata", "Skolevegen", "Prestegårdsvegen", "Furulia",
)  # fmt: skip

# Profil JOURNAL sentences by note type; a note joins 1-5 of them, sometimes with a blank line.
REPORT_SENTENCES: Final[tuple[str, ...]] = (
    "Spiste to brødskiver og drakk en kopp kaffe.",
    "Kompresjonsstrømper på, bena er mindre hovne enn i går.",
    'Bruker sier: "Jeg klarer meg fint alene", men det er lite mat i kjøleskapet.',
    "Sår på høyre legg skiftet, ser rent ut uten tegn til infeksjon.",
    "Pårørende ringte og ble informert om dagens situasjon.",
    "Dusjet med hjelp, huden er hel og fin.",
    "Har fått ny idé om å flytte sengen nærmere vinduet; hjelper med dette i morgen.",
    "Trygghetsalarmen testet, fungerer som den skal.",
    "Bruker ønsket ikke hjelp til dusj i dag – respektert, tilbys igjen i morgen.",
    "Urolig på kvelden, gikk mye rundt i leiligheten.",
    "Tømte kateterpose, 600 ml klar urin.",
    "Blodsukker 8,4 mmol/l før frokost.",
    "Blodtrykk målt til 142/86; puls 74, regelmessig.",
    "Temperatur 37,9 °C, noe slapp.",
    "Ønsket å se på «Dagsrevyen» før leggetid.",
    "Handlet varer etter handleliste; kvittering lagt i permen.",
    "Medisiner gitt etter liste, tatt uten problemer.",
    "Fikk hjelp til morgenstell og påkledning.",
    "Noe redusert matlyst, fikk næringsdrikk.",
    "Dosett fylt for neste uke, kontrollert av to.",
    "Mer tungpustet enn vanlig, sykepleier kontaktet fastlege.",
    "Var på kafé med datteren i formiddag og trivdes godt.",
    "Insulin satt i magen etter skjema.",
    "Hjemmet ryddet og støvsuget.",
    "Fotpleie bestilt til neste uke.",
    'Sa "takk for i dag" og virket fornøyd.',
    "Sov godt i natt ifølge nattevakt.",
    "Klager over smerter i venstre hofte, fikk Paracetamol etter avtale.",
)
JOURNAL_SENTENCES: Final[tuple[str, ...]] = (
    "Epikrise fra St. Olavs hospital mottatt og gjennomgått.",
    "Kartlegging etter IPLOS gjennomført.",
    "Vurdert behov for økt hjemmesykepleie; tre besøk daglig anbefales.",
    "Plan: tilsyn morgen og kveld, ny vurdering om 4 uker.",
    "Ernæringsscreening (MNA) viser risiko for underernæring.",
    "Innkomstsamtale gjennomført med bruker og datter.",
    "Fallrisiko vurdert som høy. Sensormatte montert.",
    "Legemiddelgjennomgang med fastlege; to preparater seponert.",
    "Tverrfaglig møte: fysioterapeut følger opp gangfunksjon.",
)
TALK_SENTENCES: Final[tuple[str, ...]] = (
    'Bruker sier "det er godt å ha noen å snakke med".',
    "Samtale med sønn om videre omsorgsnivå.",
    "Bruker uttrykker ønske om å bo hjemme så lenge som mulig.",
    "Pårørendesamtale: datter ønsker tettere kontakt; avtalt ukentlig telefon.",
)
DEVIATION_SENTENCES: Final[tuple[str, ...]] = (
    "Nøkkelboks låst med feil kode, kom ikke inn før 09:40.",
    "Dosett manglet tabletter for onsdag kveld; apotek kontaktet.",
    "Feil i legemiddelliste oppdaget; korrigert etter kontakt med lege.",
    "Fall uten personskade registrert i avvikssystemet.",
)

# CGM consultation sentences (XML text: may contain & < > and quotes, escaped when written).
CONSULTATION_SENTENCES: Final[tuple[str, ...]] = (
    "Eksem på kinnene, anbefalt fuktighetskrem.",
    "Mor spør om søvnrutiner; veiledning gitt.",
    "Vekt < 3. persentil, ny kontroll om to uker.",
    "Hørsel og syn uten anmerkning.",
    "Motorisk utvikling alderstypisk.",
    "Mor har det bra, EPDS-skår 4.",
    "Snakket om tannhelse og fluor.",
    "Foreldre opplever at barnet sover dårlig om natta.",
    'Samtale om "skjermtid" og språkutvikling.',
    "Vaksiner gitt etter programmet, ingen reaksjoner.",
    "Far & mor til stede. Godt samspill observert.",
    "Går på ski i barnehagen og er stolt av det – «kjempegøy»!",
    "Ammer fortsatt, god vektøkning.",
)

# (ATC, preparat, styrke, dosering, scheduled hours). No hours = given on demand (no planned administrations).
MEDICATIONS: Final[tuple[tuple[str, str, str, str, tuple[int, ...]], ...]] = (
    ("N02BE01", "Paracetamol", "500 mg", "2 tabletter morgen og kveld", (8, 20)),
    ("N02BE01", "Paracet", "1 g", "1 tablett 3 ganger daglig", (8, 14, 20)),
    ("N02BE01", "Paracetamol", "500 mg", "1-2 tabletter ved behov, maks 8 i døgnet", ()),
    ("B01AC06", "Albyl-E", "75 mg", "1 tablett daglig", (8,)),
    ("H03AA01", "Levaxin", "50 mikrog", "1 tablett morgen, 30 min før frokost", (7,)),
    ("R03AK06", "Seretide", "50/500 mikrog", "1 inhalasjon morgen og kveld", (8, 20)),
    ("A02BC01", "Omeprazol", "20 mg", "1 kapsel morgen før frokost", (8,)),
    ("C03CA01", "Furix", "40 mg", "1 tablett morgen", (8,)),
    ("B01AF02", "Eliquis", "5 mg", "1 tablett morgen og kveld", (8, 20)),
    ("N05CF01", "Imovane", "5 mg", "1 tablett ved behov til natten", ()),
    ("N05BA04", "Sobril", "10 mg", "1 tablett ved behov, maks 2 i døgnet", ()),
    ("C10AA05", "Lipitor", "20 mg", "1 tablett kveld", (20,)),
    ("C07AB02", "Selo-Zok", "50 mg", "1 tablett morgen", (8,)),
    ("N02AA01", "Dolcontin", "10 mg", "1 tablett morgen og kveld", (8, 20)),
    ("A06AD65", "Movicol", "13,8 g", "1 dosepose daglig i et glass vann", (8,)),
    ("M01AE01", "Ibux", "400 mg", "1 tablett inntil 3 ganger daglig; tas med mat", ()),
    ("N05AH04", "Quetiapin", "25 mg", "1 tablett kveld", (20,)),
    ("A10BA02", "Metformin", "500 mg", "1 tablett til frokost og kveldsmat", (8, 20)),
    ("N06AB10", "Escitalopram", "10 mg", "1 tablett morgen", (8,)),
    ("N06DA02", "Donepezil", "5 mg", "1 tablett kveld", (20,)),
    ("C09AA05", "Ramipril", "5 mg", "1 tablett morgen", (8,)),
    ("A11CC05", "Vitamin D", "20 mikrog", "1 tablett daglig", (8,)),
    ("A10AE04", "Lantus", "100 E/ml", "10 E subkutant kveld", (22,)),
    ("N03AX16", "Lyrica", "75 mg", "1 kapsel morgen og kveld", (8, 20)),
    ("N04BA02", "Madopar", "125 mg", "1 kapsel 4 ganger daglig", (8, 12, 16, 20)),
    ("N02AX02", "Nobligan", "50 mg", "1 kapsel inntil 3 ganger daglig ved behov", ()),
)

IPLOS_VARIABLES: Final[tuple[str, ...]] = (
    "SOSIAL_DELTAKELSE", "STYRE_ATFERD", "IVARETA_HELSE", "HUSARBEID", "VARER_TJENESTER", "LAGE_MAT",
    "PERSONLIG_HYGIENE", "KLE_SEG", "SPISE", "TOALETT", "BEVEGE_INNE", "BEVEGE_UTE", "HUKOMMELSE",
    "BESLUTNINGER", "KOMMUNIKASJON", "SYN", "HORSEL",
)  # fmt: skip

# Health-station programme: (age in days, consultation type, measure head circumference, vaccines (ATC)).
CHILD_PROGRAMME: Final[tuple[tuple[int, str, bool, tuple[str, ...]], ...]] = (
    (8, "HJEMMEBESOK", True, ()),
    (42, "6U", True, ("J07BH01",)),
    (90, "3M", True, ("J07CA09", "J07AL02", "J07BH01")),
    (120, "4M", True, ()),
    (150, "5M", True, ("J07CA09", "J07AL02")),
    (180, "6M", True, ()),
    (240, "8M", True, ()),
    (300, "10M", True, ()),
    (365, "1AAR", True, ("J07CA09", "J07AL02")),
    (450, "15M", False, ("J07BD52",)),
    (520, "17M", False, ()),
    (730, "2AAR", False, ()),
    (1460, "4AAR", False, ()),
)
VACCINE_BATCH_PREFIXES: Final[tuple[str, ...]] = ("AB", "RT", "MM", "PN", "ZK", "HX", "FK")
