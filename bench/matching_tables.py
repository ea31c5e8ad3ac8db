"""Tables the matching benchmark draws companies from: names, legal forms, places, numbers.

Kept apart from the generator (``bench.matching_data``) so the tables can be read as data."""

from __future__ import annotations

DEFAULT_SEED = 20240611
POOL_SIZE = 2500
PAIRS_PER_TENANT = 500
POSITIVE_SHARE = 0.7

# fmt: off
COUNTRY_WEIGHTS = {"DK": 40, "SE": 10, "NO": 7, "DE": 10, "NL": 6, "BE": 4, "FR": 5, "GB": 7, "FI": 5, "PL": 4, "CH": 2}
STEMS = {
    "DK": ["Brøndum", "Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen",
           "Rasmussen", "Jørgensen", "Madsen", "Kristensen", "Østergaard", "Møller", "Kjær", "Bøgh", "Nørgaard",
           "Skovgaard", "Dalsgaard", "Vestjysk", "Nordsjællands", "Fynsk", "Midtjysk", "Sønderjysk", "Aarhus",
           "Thygesen", "Lykke", "Fjord", "Nordlys", "Bæk", "Holm", "Lund", "Krogh", "Dahl", "Søgaard"],
    "SE": ["Svensson", "Johansson", "Andersson", "Karlsson", "Nilsson", "Eriksson", "Lindqvist", "Åberg",
           "Bergström", "Sjöberg", "Norrlands", "Skånska", "Västkust", "Göta", "Mälar", "Fjäll"],
    "NO": ["Hansen", "Johansen", "Olsen", "Berg", "Haugen", "Bakken", "Nordvik", "Fjellstad", "Sørlandet",
           "Vestland", "Trøndelag", "Kystverk", "Bjørnstad", "Løkken"],
    "DE": ["Müller", "Schmidt", "Fischer", "Wagner", "Hoffmann", "Schröder", "Köhler", "Weiß", "Becker",
           "Nordsee", "Elbe", "Hanse", "Bayerische", "Rheinische", "Schwäbische", "Märkische"],
    "NL": ["de Jong", "Jansen", "Visser", "Smit", "de Vries", "van Dijk", "Bakker", "Mulder", "Hollandse",
           "Zeeuwse", "Brabantse", "Noord"],
    "BE": ["Peeters", "Janssens", "Maes", "Dubois", "Lambert", "Vlaamse", "Brusselse", "Wouters", "Lemaire"],
    "FR": ["Dubois", "Lefèvre", "Moreau", "Girard", "Rousseau", "Bretagne", "Provençale", "Lyonnaise",
           "Normande", "Mercier", "Fontaine"],
    "GB": ["Smith", "Jones", "Taylor", "Brown", "Wilson", "Thames", "Pennine", "Northern", "Highland",
           "Cotswold", "Mercia", "Albion"],
    "FI": ["Virtanen", "Korhonen", "Nieminen", "Mäkelä", "Hämäläinen", "Laine", "Pohjolan", "Suomen", "Järvi",
           "Savon", "Karjalan"],
    "PL": ["Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kamiński", "Zieliński", "Mazowsze", "Pomorze",
           "Śląsk", "Wielkopolska"],
    "CH": ["Meier", "Keller", "Brunner", "Zürcher", "Berner", "Alpen", "Helvetia", "Gerber"],
}
TRADES = {
    "DK": ["Byg", "VVS", "El", "Maskinfabrik", "Tømrer", "Consult", "Revision", "Transport", "Auto", "Handel",
           "Import", "Ejendomme", "Rengøring", "Malerfirma", "Smedie", "Trælast", "Data", "Software", "Logistik",
           "Design", "Arkitekter", "Entreprise", "Gartneri", "Kloak", "Tag", "Køleteknik", "Vinduer", "Murer"],
    "SE": ["Bygg", "El", "Rör", "Konsult", "Transport", "Maskin", "Data", "Handel", "Fastigheter", "Trä",
           "Måleri", "Städ", "Logistik", "Verkstad"],
    "NO": ["Bygg", "Elektro", "Rør", "Transport", "Maskin", "Eiendom", "Handel", "Rådgivning", "Data", "Snekkeri",
           "Maling"],
    "DE": ["Bau", "Elektro", "Maschinenbau", "Logistik", "Handel", "Software", "Metallbau", "Haustechnik",
           "Immobilien", "Beratung", "Spedition", "Holzbau", "Dachdeckerei"],
    "NL": ["Bouw", "Installatietechniek", "Logistiek", "Handel", "Techniek", "Transport", "Advies", "Metaal",
           "Schilders"],
    "BE": ["Bouw", "Construct", "Transport", "Logistics", "Techniek", "Consult", "Menuiserie", "Électricité"],
    "FR": ["Bâtiment", "Électricité", "Transports", "Menuiserie", "Conseil", "Logistique", "Informatique",
           "Plomberie", "Métallerie"],
    "GB": ["Engineering", "Logistics", "Trading", "Consulting", "Supplies", "Software", "Builders",
           "Plumbing", "Electrical", "Haulage", "Joinery"],
    "FI": ["Rakennus", "Kuljetus", "Kauppa", "Tekniikka", "Puu", "Sähkö", "Konepaja", "Logistiikka", "Data"],
    "PL": ["Budownictwo", "Transport", "Logistyka", "Handel", "Instalacje", "Meble", "Stal", "Serwis"],
    "CH": ["Bau", "Elektro", "Treuhand", "Maschinen", "Informatik", "Holzbau", "Transporte"],
}
# legal form key -> spellings seen in the wild (the first one is how the accounting system holds it)
LEGAL_FORMS = {
    "DK": {"A/S": ["A/S", "AS", "A.S.", "Aktieselskab", "a/s", ""], "ApS": ["ApS", "APS", "Aps", "Anpartsselskab", ""],
           "I/S": ["I/S", "IS", ""], "IVS": ["IVS", ""], "P/S": ["P/S", ""]},
    "SE": {"AB": ["AB", "Aktiebolag", "AB (publ)", "ab", ""], "HB": ["HB", "Handelsbolag", ""]},
    "NO": {"AS": ["AS", "A/S", "as", "Aksjeselskap", ""], "ASA": ["ASA", ""], "ANS": ["ANS", ""]},
    "DE": {"GmbH": ["GmbH", "G.m.b.H.", "GMBH", "Gmbh", ""], "GmbH & Co. KG": ["GmbH & Co. KG", "GmbH & Co KG", ""],
           "AG": ["AG", "Aktiengesellschaft", ""], "KG": ["KG", ""], "e.K.": ["e.K.", ""]},
    "NL": {"B.V.": ["B.V.", "BV", "bv", "B.V", ""], "N.V.": ["N.V.", "NV", ""], "VOF": ["VOF", "V.O.F.", ""]},
    "BE": {"BV": ["BV", "B.V.", "BVBA", ""], "NV": ["NV", "N.V.", ""], "SRL": ["SRL", "S.R.L.", ""],
           "SA": ["SA", "S.A.", ""]},
    "FR": {"SAS": ["SAS", "S.A.S.", ""], "SARL": ["SARL", "S.A.R.L.", "Sarl", ""], "SA": ["SA", "S.A.", ""]},
    "GB": {"Ltd": ["Ltd", "Ltd.", "Limited", "LTD", ""], "PLC": ["PLC", "plc", ""], "LLP": ["LLP", ""]},
    "FI": {"Oy": ["Oy", "OY", "Osakeyhtiö", ""], "Oyj": ["Oyj", ""], "Ky": ["Ky", ""]},
    "PL": {"Sp. z o.o.": ["Sp. z o.o.", "Sp. z o. o.", "sp. z o.o.", "Sp z oo", ""], "S.A.": ["S.A.", "SA", ""]},
    "CH": {"AG": ["AG", "SA", ""], "GmbH": ["GmbH", "Sàrl", ""]},
}
CITIES: dict[str, list[tuple[str, str, str | None]]] = {
    "DK": [("1050", "København K", "Copenhagen"), ("2100", "København Ø", "Copenhagen"),
           ("2300", "København S", "Copenhagen"), ("8000", "Aarhus C", "Århus"), ("5000", "Odense C", None),
           ("9000", "Aalborg", None), ("6700", "Esbjerg", None), ("7100", "Vejle", None), ("8700", "Horsens", None),
           ("4000", "Roskilde", None), ("2800", "Kongens Lyngby", "Lyngby"), ("6000", "Kolding", None),
           ("8600", "Silkeborg", None), ("7400", "Herning", None), ("3000", "Helsingør", "Elsinore"),
           ("4700", "Næstved", None), ("8900", "Randers", None), ("6400", "Sønderborg", None),
           ("7000", "Fredericia", None), ("8800", "Viborg", None), ("4600", "Køge", None), ("2630", "Taastrup", None),
           ("4200", "Slagelse", None), ("3400", "Hillerød", None), ("5700", "Svendborg", None),
           ("9800", "Hjørring", None), ("9900", "Frederikshavn", None), ("2605", "Brøndby", None),
           ("2600", "Glostrup", None), ("2750", "Ballerup", None), ("7500", "Holstebro", None),
           ("6100", "Haderslev", None), ("7800", "Skive", None), ("4100", "Ringsted", None)],
    "SE": [("111 22", "Stockholm", None), ("411 05", "Göteborg", "Gothenburg"), ("211 20", "Malmö", None),
           ("753 20", "Uppsala", None), ("582 22", "Linköping", None), ("702 10", "Örebro", None),
           ("721 30", "Västerås", None), ("903 26", "Umeå", None), ("252 25", "Helsingborg", None)],
    "NO": [("0150", "Oslo", None), ("5003", "Bergen", None), ("7011", "Trondheim", None),
           ("4006", "Stavanger", None), ("9008", "Tromsø", None), ("4610", "Kristiansand", None),
           ("3015", "Drammen", None)],
    "DE": [("20095", "Hamburg", None), ("10115", "Berlin", None), ("24103", "Kiel", None),
           ("80331", "München", "Munich"), ("50667", "Köln", "Cologne"), ("60311", "Frankfurt am Main", None),
           ("70173", "Stuttgart", None), ("40213", "Düsseldorf", None), ("28195", "Bremen", None),
           ("30159", "Hannover", None), ("90402", "Nürnberg", "Nuremberg"), ("24937", "Flensburg", None)],
    "NL": [("1012 AB", "Amsterdam", None), ("3011 AD", "Rotterdam", None), ("3511 AA", "Utrecht", None),
           ("2511 BT", "Den Haag", "The Hague"), ("5611 AA", "Eindhoven", None), ("9711 AA", "Groningen", None)],
    "BE": [("1000", "Bruxelles", "Brussels"), ("2000", "Antwerpen", "Antwerp"), ("9000", "Gent", "Ghent"),
           ("3000", "Leuven", None), ("4000", "Liège", None), ("8000", "Brugge", None)],
    "FR": [("75001", "Paris", None), ("69001", "Lyon", None), ("13001", "Marseille", None),
           ("31000", "Toulouse", None), ("33000", "Bordeaux", None), ("59000", "Lille", None),
           ("44000", "Nantes", None), ("67000", "Strasbourg", None)],
    "GB": [("EC1A 1BB", "London", None), ("M1 1AE", "Manchester", None), ("LS1 4AP", "Leeds", None),
           ("B1 1AA", "Birmingham", None), ("BS1 4DJ", "Bristol", None), ("EH1 1YZ", "Edinburgh", None),
           ("G1 1XQ", "Glasgow", None), ("L1 8JQ", "Liverpool", None)],
    "FI": [("00100", "Helsinki", "Helsingfors"), ("33100", "Tampere", None), ("20100", "Turku", "Åbo"),
           ("90100", "Oulu", None), ("40100", "Jyväskylä", None), ("02100", "Espoo", None)],
    "PL": [("00-001", "Warszawa", "Warsaw"), ("30-001", "Kraków", None), ("80-001", "Gdańsk", None),
           ("50-001", "Wrocław", None), ("60-001", "Poznań", None)],
    "CH": [("8001", "Zürich", "Zurich"), ("3011", "Bern", None), ("4051", "Basel", None),
           ("1201", "Genève", "Geneva")],
}
# street stem, suffix, abbreviation of the suffix
STREET_SUFFIXES = {
    "DK": [("vej", "v."), ("gade", "g."), ("vejen", "v."), (" Allé", " Alle"), ("stræde", "str.")],
    "SE": [("vägen", "v."), ("gatan", "g.")],
    "NO": [("veien", "v."), ("gata", "g."), (" gate", " g.")],
    "DE": [("straße", "str."), ("straße", "strasse"), ("weg", "weg"), ("allee", "allee")],
    "NL": [("straat", "str."), ("weg", "weg"), ("laan", "ln.")],
    "BE": [("straat", "str."), ("laan", "ln.")],
    "FR": [("Rue ", "R. "), ("Avenue ", "Av. "), ("Boulevard ", "Bd ")],
    "GB": [(" Street", " St"), (" Road", " Rd"), (" Lane", " Ln")],
    "FI": [("katu", "k."), ("tie", "t.")],
    "PL": [("ul. ", "ulica ")],
    "CH": [("strasse", "str."), ("weg", "weg")],
}
STREET_STEMS = {
    "DK": ["Vester", "Nørre", "Øster", "Sønder", "Industri", "Hoved", "Strand", "Håndværker", "Konge", "Mølle",
           "Skov", "Havne", "Erhvervs", "Kirke", "Bygade", "Ny", "Enghave", "Rosen", "Birke", "Lærke"],
    "SE": ["Stor", "Drottning", "Kungs", "Industri", "Hamn", "Kyrk", "Skol", "Ström"],
    "NO": ["Stor", "Kirke", "Havne", "Industri", "Kongens", "Skole", "Fjord"],
    "DE": ["Haupt", "Bahnhof", "Industrie", "Hafen", "Linden", "Garten", "Schul", "Kirch", "Berg"],
    "NL": ["Keizers", "Stations", "Industrie", "Haven", "Kerk", "Molen", "Dorps"],
    "BE": ["Kerk", "Stations", "Markt", "Molen", "Nieuw"],
    "FR": ["de la République", "Victor Hugo", "de Paris", "du Port", "Jean Jaurès", "de la Gare"],
    "GB": ["High", "Station", "Church", "Mill", "Park", "Victoria", "King"],
    "FI": ["Mannerheimin", "Teollisuus", "Satama", "Kauppa", "Rauta"],
    "PL": ["Marszałkowska", "Długa", "Polna", "Leśna", "Słoneczna"],
    "CH": ["Bahnhof", "Haupt", "See", "Dorf"],
}
# how the accounting system (Danish) and the CRM (anyone) write the country
COUNTRY_SPELLINGS = {
    "DK": (["Danmark"], ["Danmark", "Denmark", "DK", "danmark", "DENMARK", "Dänemark"]),
    "SE": (["Sverige"], ["Sweden", "Sverige", "SE", "Schweden"]),
    "NO": (["Norge"], ["Norway", "Norge", "NO"]),
    "DE": (["Tyskland", "Deutschland"], ["Germany", "Deutschland", "DE", "Tyskland"]),
    "NL": (["Holland", "Nederlandene"], ["Netherlands", "The Netherlands", "Nederland", "NL", "Holland"]),
    "BE": (["Belgien"], ["Belgium", "België", "Belgique", "BE"]),
    "FR": (["Frankrig"], ["France", "FR", "Frankrig"]),
    "GB": (["Storbritannien", "England"], ["United Kingdom", "UK", "GB", "Great Britain", "England"]),
    "FI": (["Finland"], ["Finland", "Suomi", "FI"]),
    "PL": (["Polen"], ["Poland", "Polska", "PL"]),
    "CH": (["Schweiz"], ["Switzerland", "Schweiz", "CH", "Suisse"]),
}
TLD = {"DK": "dk", "SE": "se", "NO": "no", "DE": "de", "NL": "nl", "BE": "be", "FR": "fr", "GB": "co.uk",
       "FI": "fi", "PL": "pl", "CH": "ch"}
# national significant number templates: leading digits + how many random digits follow
PHONE_TEMPLATES = {
    "DK": [("3", 7), ("4", 7), ("7", 7), ("8", 7), ("9", 7), ("2", 7)], "SE": [("8", 7), ("31", 7), ("40", 6)],
    "NO": [("2", 7), ("5", 7), ("9", 7)], "DE": [("30", 8), ("40", 8), ("89", 8), ("221", 7)],
    "NL": [("20", 7), ("10", 7), ("30", 7)], "BE": [("2", 7), ("3", 7), ("9", 7)],
    "FR": [("1", 8), ("4", 8), ("5", 8)], "GB": [("20", 8), ("161", 7), ("113", 7)],
    "FI": [("9", 7), ("2", 7)], "PL": [("22", 7), ("12", 7), ("58", 7)], "CH": [("44", 7), ("31", 7), ("61", 7)],
}
FREE_MAIL = ["gmail.com", "hotmail.com", "outlook.dk", "live.dk", "yahoo.com", "mail.dk", "gmx.de", "icloud.com"]
MAIL_LOCALS = ["info", "kontakt", "post", "mail", "office", "faktura", "regnskab", "sales", "hello"]
FIRST_NAMES = ["anna", "lars", "mette", "jens", "erik", "sofie", "thomas", "julia", "peter", "maria", "ole", "karin"]
BRAND_SYLLABLES = ["no", "va", "ter", "lin", "ka", "ro", "mex", "tec", "sol", "vi", "dan", "flex", "pro", "ax",
                   "el", "tra", "nor", "bo", "ma", "ri", "zen", "quo", "lux", "ve", "sta", "gro", "fi", "on"]
# fmt: on
KEYBOARD_NEIGHBOURS = {
    "a": "qsz", "b": "vgn", "c": "xdv", "d": "sfe", "e": "wrd", "f": "dgr", "g": "fht", "h": "gjy", "i": "uok",
    "j": "hku", "k": "jli", "l": "kop", "m": "nj", "n": "bmh", "o": "ipl", "p": "ol", "r": "etf", "s": "adw",
    "t": "ryg", "u": "yij", "v": "cbf", "w": "qes", "y": "tuh", "z": "xas",
}  # fmt: skip
NORDIC_ASCII = {"ø": ["o", "oe"], "æ": ["ae", "a"], "å": ["aa", "a"], "ö": ["o", "oe"], "ä": ["a", "ae"],
                "ü": ["u", "ue"], "ß": ["ss"], "é": ["e"], "è": ["e"], "ł": ["l"], "ś": ["s"], "ń": ["n"]}  # fmt: skip
