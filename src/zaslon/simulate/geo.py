"""Belarus as the simulator sees it: regions, districts, border crossings, the age pyramid, names.

Sources (see docs/simulator.md): ~9.2M people, ~21% aged 65+ (DESIGN.md, Belstat); Minsk city plus six
regions and their districts (raions); road border crossings to Poland, Lithuania, Latvia and Ukraine
and the main road east to Russia, where couriers carry cash out.
"""

from __future__ import annotations

# region -> (population share, centre lat, centre lon, districts). The first district is the
# regional centre; names marked with * are other large towns (weighted up in the population).
REGIONS: dict[str, tuple[float, float, float, list[str]]] = {
    "Minsk": (0.215, 53.90, 27.56, [
        "Tsentralny", "Zavodskoy", "Leninsky", "Moskovsky", "Oktyabrsky", "Partizansky", "Pervomaisky",
        "Sovetsky", "Frunzensky",
    ]),
    "Minsk Region": (0.160, 53.90, 27.90, [
        "Minsk*", "Borisov*", "Molodechno*", "Soligorsk*", "Slutsk*", "Berezino", "Cherven", "Dzerzhinsk",
        "Kletsk", "Kopyl", "Krupki", "Logoisk", "Lyuban", "Myadel", "Nesvizh", "Pukhovichi", "Smolevichi",
        "Starye Dorogi", "Stolbtsy", "Uzda", "Vileyka", "Volozhin",
    ]),
    "Brest Region": (0.145, 52.40, 25.50, [
        "Brest", "Baranovichi*", "Pinsk*", "Kobrin*", "Bereza", "Drogichin", "Gantsevichi", "Ivanovo",
        "Ivatsevichi", "Kamenets", "Luninets", "Lyakhovichi", "Malorita", "Pruzhany", "Stolin", "Zhabinka",
    ]),
    "Vitebsk Region": (0.120, 55.20, 29.00, [
        "Vitebsk", "Orsha*", "Polotsk*", "Beshenkovichi", "Braslav", "Chashniki", "Dokshitsy", "Dubrovno",
        "Glubokoye", "Gorodok", "Lepel", "Liozno", "Miory", "Postavy", "Rossony", "Senno", "Sharkovshchina",
        "Shumilino", "Tolochin", "Ushachi", "Verkhnedvinsk",
    ]),
    "Gomel Region": (0.148, 52.30, 29.80, [
        "Gomel", "Mozyr*", "Zhlobin*", "Rechitsa*", "Svetlogorsk*", "Bragin", "Buda-Koshelevo", "Chechersk",
        "Dobrush", "Elsk", "Khoiniki", "Kalinkovichi", "Korma", "Lelchitsy", "Loev", "Narovlya",
        "Oktyabrsky", "Petrikov", "Rogachev", "Vetka", "Zhitkovichi",
    ]),
    "Grodno Region": (0.107, 53.70, 24.80, [
        "Grodno", "Lida*", "Volkovysk*", "Slonim*", "Berestovitsa", "Dyatlovo", "Ivye", "Korelichi", "Mosty",
        "Novogrudok", "Ostrovets", "Oshmyany", "Shchuchin", "Smorgon", "Svisloch", "Voronovo", "Zelva",
    ]),
    "Mogilev Region": (0.105, 53.70, 30.30, [
        "Mogilev", "Bobruisk*", "Belynichi", "Bykhov", "Chausy", "Cherikov", "Dribin", "Glusk", "Goretsky",
        "Kirovsk", "Klimovichi", "Klichev", "Kostyukovichi", "Krasnopolye", "Krichev", "Khotimsk",
        "Mstislavl", "Osipovichi", "Shklov", "Slavgorod", "Krugloye",
    ]),
}

# Road crossings (name, district, lat, lon, neighbour). Cash carried by couriers leaves through these.
BORDER_CROSSINGS: list[tuple[str, str, float, float, str]] = [
    ("Brest-Terespol", "Brest", 52.08, 23.66, "PL"),
    ("Kozlovichi", "Brest", 52.06, 23.71, "PL"),
    ("Bruzgi", "Grodno", 53.60, 23.80, "PL"),
    ("Kamenny Log", "Oshmyany", 54.48, 25.56, "LT"),
    ("Benyakoni", "Voronovo", 54.25, 25.37, "LT"),
    ("Privalka", "Grodno", 53.50, 23.95, "LT"),
    ("Urbany", "Braslav", 55.78, 27.01, "LV"),
    ("Novaya Guta", "Gomel", 52.12, 31.12, "UA"),
    ("Mokrany", "Malorita", 51.63, 24.21, "UA"),
    ("Krasnoye (M1 to Smolensk)", "Dubrovno", 54.58, 30.98, "RU"),
]

# Share of the population by 5-year age band (0-4 ... 95-99), shaped like Belarus's: about 21% are 65+.
AGE_BANDS: list[float] = [
    4.5, 5.4, 5.5, 4.9, 4.3, 4.8, 7.0, 7.9, 7.4, 6.8, 6.2, 6.4, 7.0, 7.0, 5.5, 3.4, 2.9, 1.5, 0.5, 0.1,
]

MALE_FIRST = ["Aleksandr", "Sergei", "Dmitry", "Andrei", "Aleksei", "Ivan", "Mikhail", "Nikolai", "Vladimir",
              "Pavel", "Artem", "Maksim", "Yuri", "Viktor", "Igor", "Oleg", "Anatoly", "Vasily", "Gennady",
              "Kirill", "Denis", "Roman", "Yegor", "Stanislav", "Vitaly"]
FEMALE_FIRST = ["Olga", "Tatyana", "Elena", "Natalya", "Irina", "Svetlana", "Anna", "Maria", "Yulia",
                "Valentina", "Galina", "Lyudmila", "Nina", "Ekaterina", "Anastasia", "Darya", "Alina",
                "Veronika", "Larisa", "Zinaida", "Raisa", "Tamara", "Polina", "Kristina", "Nadezhda"]
# (masculine, feminine) surname forms; Belarusian -ko/-ich/-enka names do not change.
SURNAMES = [("Ivanov", "Ivanova"), ("Kovalev", "Kovaleva"), ("Novik", "Novik"), ("Kozlov", "Kozlova"),
            ("Moroz", "Moroz"), ("Kovalenko", "Kovalenko"), ("Shevchuk", "Shevchuk"), ("Petrov", "Petrova"),
            ("Sidorenko", "Sidorenko"), ("Zhuk", "Zhuk"), ("Lukashevich", "Lukashevich"),
            ("Karpovich", "Karpovich"), ("Volkov", "Volkova"), ("Melnik", "Melnik"), ("Bondarenko", "Bondarenko"),
            ("Klimovich", "Klimovich"), ("Savitsky", "Savitskaya"), ("Kravchenko", "Kravchenko"),
            ("Yakimovich", "Yakimovich"), ("Romanov", "Romanova"), ("Sokolov", "Sokolova"),
            ("Marchenko", "Marchenko"), ("Vasilevich", "Vasilevich"), ("Pashkevich", "Pashkevich"),
            ("Lebedev", "Lebedeva"), ("Tkachuk", "Tkachuk"), ("Kuzmich", "Kuzmich"), ("Belsky", "Belskaya"),
            ("Grigoriev", "Grigorieva"), ("Orlov", "Orlova")]
COMPANY_WORDS = ["Belprom", "Agrokombinat", "Stroitrest", "Transservis", "Tekhnolog", "Milkavita", "Santa",
                 "Evroopt", "Korona", "Polesie", "Neman", "Pripyat", "Berezina", "Dnepr", "Sozh", "Zubr",
                 "Bellesbumprom", "Avtomash", "Elektron", "Svetoch", "Gorizont", "Atlant", "Integral",
                 "Kristall", "Slavyanka", "Belshina", "Keramin", "Mebel", "Lenta", "Logistik"]
COMPANY_FORMS = ["OOO", "OAO", "ChUP", "ZAO", "IP", "UP"]
FOREIGN_TOWNS = {"RU": ["Moskva", "Smolensk", "Sankt-Peterburg", "Bryansk"], "KZ": ["Almaty", "Astana"],
                 "UZ": ["Tashkent", "Samarkand"], "PL": ["Warszawa", "Bialystok"], "LT": ["Vilnius", "Kaunas"]}


def districts() -> tuple[list[str], list[str], list[float], list[float], list[float]]:
    """Flattened districts: (name, region, population weight, lat, lon), deterministic."""
    import numpy as np

    rng = np.random.default_rng(20_240_101)  # geography is fixed, not part of a run's seed
    names: list[str] = []
    regions: list[str] = []
    weights: list[float] = []
    lats: list[float] = []
    lons: list[float] = []
    for region, (share, lat, lon, dists) in REGIONS.items():
        raw = []
        for i, d in enumerate(dists):
            big = d.endswith("*")
            name = d.rstrip("*")
            if region == "Minsk":
                raw.append(1.0)  # Minsk's city districts are of similar size
            else:
                raw.append(20.0 if i == 0 else 5.0 if big else 1.0)
            names.append(name)
            regions.append(region)
            spread = 0.05 if region == "Minsk" else 1.0
            lats.append(float(lat + rng.uniform(-spread, spread)))
            lons.append(float(lon + rng.uniform(-1.5 * spread, 1.5 * spread)))
        total = sum(raw)
        weights.extend(share * r / total for r in raw)
    for cname, dist, clat, clon, _ in BORDER_CROSSINGS:  # border districts sit near their crossing
        i = names.index(dist)
        if regions[i] != "Minsk":
            lats[i], lons[i] = clat + 0.15, clon + 0.15
        del cname
    return names, regions, weights, lats, lons
